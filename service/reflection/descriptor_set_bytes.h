// The FileDescriptorSet of every .proto in proto/ and their imports, with
// source info (comments), embedded at build time from the descriptor set
// proto/CMakeLists.txt writes. Server reflection answers from it.
#ifndef DCR_SERVICE_REFLECTION_DESCRIPTOR_SET_BYTES_H_
#define DCR_SERVICE_REFLECTION_DESCRIPTOR_SET_BYTES_H_

#include "absl/strings/string_view.h"

namespace dcr::reflection {

// A serialized google.protobuf.FileDescriptorSet; static storage.
absl::string_view DescriptorSetBytes();

}  // namespace dcr::reflection

#endif  // DCR_SERVICE_REFLECTION_DESCRIPTOR_SET_BYTES_H_
