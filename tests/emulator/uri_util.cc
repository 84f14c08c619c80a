#include "tests/emulator/uri_util.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace dcr::emulator {

namespace {

bool IsForbiddenChar(unsigned char c) {
  // RFC 3986 never allows these unescaped.
  if (c <= 0x20 || c >= 0x7f) return true;
  switch (c) {
    case '"': case '<': case '>': case '\\': case '^': case '`':
    case '{': case '|': case '}':
      return true;
    default:
      return false;
  }
}

// Only characters RFC 3986 allows, and every '%' followed by two hex digits.
bool CharactersOk(absl::string_view uri) {
  for (size_t i = 0; i < uri.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(uri[i]);
    if (IsForbiddenChar(c)) return false;
    if (c == '%') {
      if (i + 2 >= uri.size() || !absl::ascii_isxdigit(uri[i + 1]) ||
          !absl::ascii_isxdigit(uri[i + 2])) {
        return false;
      }
    }
  }
  return true;
}

// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
bool SchemeOk(absl::string_view scheme) {
  if (scheme.empty() || !absl::ascii_isalpha(scheme[0])) return false;
  for (size_t i = 1; i < scheme.size(); ++i) {
    char c = scheme[i];
    if (!absl::ascii_isalnum(c) && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

// The host of an authority ([userinfo@]host[:port], IPv6 in brackets), or
// nullopt when the brackets or the port are malformed.
absl::optional<std::string> AuthorityHost(absl::string_view authority) {
  size_t at = authority.rfind('@');
  if (at != absl::string_view::npos) authority = authority.substr(at + 1);
  absl::string_view host = authority;
  absl::string_view port;
  if (absl::StartsWith(authority, "[")) {
    size_t close = authority.find(']');
    if (close == absl::string_view::npos) return absl::nullopt;
    host = authority.substr(0, close + 1);
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return absl::nullopt;
      port = after.substr(1);
    }
  } else {
    size_t pc = authority.rfind(':');
    if (pc != absl::string_view::npos) {
      host = authority.substr(0, pc);
      port = authority.substr(pc + 1);
    }
  }
  for (char c : port) {
    if (!absl::ascii_isdigit(c)) return absl::nullopt;
  }
  if (port.size() > 5) return absl::nullopt;
  return std::string(host);
}

}  // namespace

absl::optional<UriParts> ParseAbsoluteUri(absl::string_view uri) {
  if (uri.empty() || !CharactersOk(uri)) return absl::nullopt;
  size_t colon = uri.find(':');
  if (colon == absl::string_view::npos || !SchemeOk(uri.substr(0, colon))) return absl::nullopt;
  UriParts parts;
  parts.scheme = absl::AsciiStrToLower(uri.substr(0, colon));
  absl::string_view rest = uri.substr(colon + 1);
  if (rest.empty()) return absl::nullopt;
  size_t hash = rest.find('#');
  if (hash != absl::string_view::npos) {
    parts.has_fragment = true;
    if (rest.find('#', hash + 1) != absl::string_view::npos) return absl::nullopt;
  }
  if (absl::StartsWith(rest, "//")) {
    parts.has_authority = true;
    absl::string_view authority = rest.substr(2);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    absl::optional<std::string> host = AuthorityHost(authority);
    if (!host) return absl::nullopt;
    parts.host = *std::move(host);
  } else if (rest[0] == '#') {
    return absl::nullopt;  // "scheme:#frag" has no hier-part at all
  }
  if ((parts.scheme == "http" || parts.scheme == "https") && parts.host.empty()) {
    return absl::nullopt;
  }
  return parts;
}

}  // namespace dcr::emulator
