// Minimal RFC 3986 absolute-URI checks for client metadata.
#ifndef DCR_TESTS_EMULATOR_URI_UTIL_H_
#define DCR_TESTS_EMULATOR_URI_UTIL_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace dcr::emulator {

struct UriParts {
  std::string scheme;  // lower-cased
  bool has_authority = false;
  std::string host;    // without userinfo/port; brackets kept for IPv6
  bool has_fragment = false;
};

// Parses an absolute URI (scheme ":" hier-part). Returns nullopt for relative
// references, whitespace/control characters, bad percent-escapes, bad ports,
// and http(s) URIs without a host.
absl::optional<UriParts> ParseAbsoluteUri(absl::string_view uri);

}  // namespace dcr::emulator

#endif  // DCR_TESTS_EMULATOR_URI_UTIL_H_
