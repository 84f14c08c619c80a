// A caller's typed ClientMetadata (any protobuf bytes a gRPC client can send)
// -> the JSON document sent to Authlete: refused or serialized, never a crash.
#include <cstddef>
#include <cstdint>

#include "dcr/v1/client_metadata.pb.h"
#include "service/metadata/metadata_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dcr::v1::ClientMetadata metadata;
  if (!metadata.ParseFromArray(data, static_cast<int>(size))) return 0;
  (void)dcr::metadata::MetadataToJsonString(metadata);
  (void)dcr::metadata::MetadataToJsonString(metadata, "client-id");
  return 0;
}
