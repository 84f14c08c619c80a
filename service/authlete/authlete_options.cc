#include "service/authlete/authlete_options.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace dcr::authlete {

absl::StatusOr<std::string> ResolveBaseUrl(absl::string_view name_or_url) {
  const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(name_or_url));
  if (name == "us" || name == "jp" || name == "eu" || name == "br") {
    return absl::StrCat("https://", name, ".authlete.com");
  }
  if (name == "v2") return std::string("https://api.authlete.com");
  absl::string_view url = absl::StripAsciiWhitespace(name_or_url);
  if (!absl::StartsWith(url, "https://") && !absl::StartsWith(url, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Authlete base URL must be us, jp, eu, br, v2 or an http(s) URL, got \"",
        url, "\""));
  }
  while (absl::ConsumeSuffix(&url, "/")) {
  }
  if (url.find_first_of("?#") != absl::string_view::npos || url.find('@') != absl::string_view::npos) {
    // Credentials in the URL would leak into logs; queries make no sense here.
    return absl::InvalidArgumentError(
        "Authlete base URL must not contain user info, a query or a fragment");
  }
  return std::string(url);
}

absl::StatusOr<ApiVersion> ParseApiVersion(absl::string_view text) {
  const std::string v = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (v == "3" || v == "v3") return ApiVersion::kV3;
  if (v == "2" || v == "v2") return ApiVersion::kV2;
  return absl::InvalidArgumentError(
      absl::StrCat("Authlete API version must be 2 or 3, got \"", text, "\""));
}

}  // namespace dcr::authlete
