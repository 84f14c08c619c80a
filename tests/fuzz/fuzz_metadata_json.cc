// A caller's metadata_json -> ClientMetadata -> JSON -> ClientMetadata. What
// parsed once must serialize, parse again, and serialize to the same text:
// a difference would mean the gateway changes a client's metadata in transit.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "service/metadata/metadata_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<dcr::v1::ClientMetadata> first = dcr::metadata::MetadataFromJsonString(text);
  if (!first.ok()) return 0;
  absl::StatusOr<std::string> json = dcr::metadata::MetadataToJsonString(*first);
  if (!json.ok()) {
    std::fprintf(stderr, "parsed metadata does not serialize: %s\n",
                 std::string(json.status().message()).c_str());
    std::abort();
  }
  absl::StatusOr<dcr::v1::ClientMetadata> second = dcr::metadata::MetadataFromJsonString(*json);
  if (!second.ok()) {
    std::fprintf(stderr, "serialized metadata does not parse: %s\n", json->c_str());
    std::abort();
  }
  absl::StatusOr<std::string> again = dcr::metadata::MetadataToJsonString(*second);
  if (!again.ok() || *again != *json) {
    std::fprintf(stderr, "round trip changed the document:\n%s\n%s\n", json->c_str(),
                 again.ok() ? again->c_str() : "(error)");
    std::abort();
  }
  return 0;
}
