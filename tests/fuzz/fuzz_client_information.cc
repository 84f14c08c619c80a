// Authlete's responseContent (untrusted upstream bytes) -> ClientInformation,
// then its metadata back to JSON: neither may crash, whatever the bytes.
#include <cstddef>
#include <cstdint>

#include "service/metadata/metadata_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<dcr::v1::ClientInformation> client = dcr::metadata::ClientInformationFromJson(text);
  if (client.ok()) {
    (void)dcr::metadata::MetadataToJsonString(client->metadata(), client->client_id());
  }
  return 0;
}
