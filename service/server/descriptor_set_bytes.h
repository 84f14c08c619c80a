// The FileDescriptorSet of every .proto in proto/ and their imports, with
// source info (comments), embedded at build time from the descriptor set
// proto/CMakeLists.txt writes. Server reflection answers from it.
#ifndef DCR_SERVICE_SERVER_DESCRIPTOR_SET_BYTES_H_
#define DCR_SERVICE_SERVER_DESCRIPTOR_SET_BYTES_H_

#include "absl/strings/string_view.h"

namespace dcr::server {

// A serialized google.protobuf.FileDescriptorSet; static storage.
absl::string_view DescriptorSetBytes();

}  // namespace dcr::server

#endif  // DCR_SERVICE_SERVER_DESCRIPTOR_SET_BYTES_H_
