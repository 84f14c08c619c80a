// A redirect URI a caller may register (per-caller policy, README
// "Callers and policy"). Without '*' a pattern matches exactly that string.
// With '*' it is scheme://host[:port]/path where the host may begin with
// "*." (one or more labels) and the path may end with "*" (any rest of the
// path); scheme, port and query must match exactly.
//
// Matching is deliberately narrower than URL parsing: a URI with userinfo,
// a backslash, a fragment, dot segments or percent-encoded dots never matches
// a wildcard, because those are where URL parsers disagree and an attacker's
// "https://evil.example\@good.example/" slips through.
#ifndef DCR_SERVICE_CALLERS_REDIRECT_URI_PATTERN_H_
#define DCR_SERVICE_CALLERS_REDIRECT_URI_PATTERN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dcr::callers {

class RedirectUriPattern {
 public:
  static absl::StatusOr<RedirectUriPattern> Parse(absl::string_view pattern);

  bool Matches(absl::string_view uri) const;
  const std::string& text() const { return text_; }

 private:
  RedirectUriPattern() = default;

  std::string text_;
  bool exact_ = true;
  std::string scheme_;       // lower case
  std::string host_suffix_;  // lower case; ".example.com" for "*.example.com"
  bool any_subdomain_ = false;
  std::string port_;         // as written, may be empty
  std::string path_prefix_;  // the path, without the final '*' if any
  bool any_path_rest_ = false;
  std::string query_;        // with its '?', or empty
};

}  // namespace dcr::callers

#endif  // DCR_SERVICE_CALLERS_REDIRECT_URI_PATTERN_H_
