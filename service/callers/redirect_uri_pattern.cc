#include "service/callers/redirect_uri_pattern.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace dcr::callers {
namespace {

// The parts of an absolute URI in the narrow form wildcard matching accepts.
struct UriParts {
  std::string scheme, host, port, path, query;
};

bool IsSchemeChar(char c, bool first) {
  if (absl::ascii_isalpha(static_cast<unsigned char>(c))) return true;
  return !first && (absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '+' ||
                    c == '-' || c == '.');
}

bool IsHostChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
}

// Splits `uri`; nullopt when it is not in the narrow form (see header).
absl::optional<UriParts> Split(absl::string_view uri, bool allow_star) {
  UriParts parts;
  const std::size_t colon = uri.find("://");
  if (colon == absl::string_view::npos || colon == 0) return absl::nullopt;
  for (std::size_t i = 0; i < colon; ++i) {
    if (!IsSchemeChar(uri[i], i == 0)) return absl::nullopt;
  }
  parts.scheme = absl::AsciiStrToLower(uri.substr(0, colon));
  absl::string_view rest = uri.substr(colon + 3);
  if (absl::StrContains(rest, '#') || absl::StrContains(rest, '\\')) return absl::nullopt;
  std::size_t end = rest.find_first_of("/?");
  absl::string_view authority = rest.substr(0, end);
  rest = end == absl::string_view::npos ? absl::string_view() : rest.substr(end);
  if (absl::StrContains(authority, '@')) return absl::nullopt;  // no userinfo
  const std::size_t port_colon = authority.find(':');
  absl::string_view host = authority.substr(0, port_colon);
  if (port_colon != absl::string_view::npos) {
    parts.port = std::string(authority.substr(port_colon + 1));
    if (parts.port.empty() || parts.port.size() > 5) return absl::nullopt;
    for (char c : parts.port) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return absl::nullopt;
    }
  }
  absl::string_view host_check = host;
  if (allow_star && absl::StartsWith(host_check, "*.")) host_check.remove_prefix(2);
  if (host_check.empty() || host_check.front() == '.' || host_check.back() == '.' ||
      absl::StrContains(host_check, "..")) {
    return absl::nullopt;
  }
  for (char c : host_check) {
    if (!IsHostChar(c)) return absl::nullopt;
  }
  parts.host = absl::AsciiStrToLower(host);
  const std::size_t q = rest.find('?');
  parts.path = std::string(rest.substr(0, q));
  if (q != absl::string_view::npos) parts.query = std::string(rest.substr(q));
  return parts;
}

// Dot segments and encoded dots would let "/cb/*" reach "/cb/../admin".
bool HasDotSegmentOrEncodedDot(absl::string_view path) {
  if (absl::StrContains(absl::AsciiStrToLower(path), "%2e")) return true;
  absl::string_view rest = path;
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    const std::size_t slash = rest.find('/');
    const absl::string_view segment = rest.substr(0, slash);
    if (segment == "." || segment == "..") return true;
    if (slash == absl::string_view::npos) break;
    rest = rest.substr(slash);
  }
  return false;
}

}  // namespace

absl::StatusOr<RedirectUriPattern> RedirectUriPattern::Parse(absl::string_view pattern) {
  RedirectUriPattern out;
  out.text_ = std::string(pattern);
  if (pattern.empty()) return absl::InvalidArgumentError("empty redirect URI pattern");
  if (!absl::StrContains(pattern, '*')) return out;  // exact
  out.exact_ = false;
  const absl::optional<UriParts> parts = Split(pattern, /*allow_star=*/true);
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("redirect URI pattern \"", pattern, "\": ", why));
  };
  if (!parts.has_value()) {
    return bad("a pattern with '*' must be scheme://host[:port]/path, with no userinfo, "
               "fragment or backslash");
  }
  out.scheme_ = parts->scheme;
  if (absl::StartsWith(parts->host, "*.")) {
    out.any_subdomain_ = true;
    out.host_suffix_ = parts->host.substr(1);  // ".example.com"
    if (out.host_suffix_.find('.', 1) == std::string::npos) {
      return bad("'*.' needs a domain with at least two labels after it");
    }
  } else {
    out.host_suffix_ = parts->host;
  }
  if (absl::StrContains(out.host_suffix_, '*') || absl::StrContains(parts->port, '*') ||
      absl::StrContains(parts->query, '*')) {
    return bad("'*' may only start the host (\"*.\") or end the path");
  }
  out.port_ = parts->port;
  out.query_ = parts->query;
  std::string path = parts->path;
  if (!path.empty() && path.back() == '*') {
    out.any_path_rest_ = true;
    path.pop_back();
  }
  if (absl::StrContains(path, '*')) return bad("'*' may only end the path");
  if (out.any_path_rest_ && (path.empty() || path.back() != '/')) {
    // "/cb*" would match "/cbevil"; a path wildcard covers whole segments.
    return bad("a path wildcard must follow a '/', e.g. https://app.example.com/cb/*");
  }
  out.path_prefix_ = path;
  return out;
}

bool RedirectUriPattern::Matches(absl::string_view uri) const {
  if (exact_) return uri == text_;
  const absl::optional<UriParts> parts = Split(uri, /*allow_star=*/false);
  if (!parts.has_value()) return false;
  if (parts->scheme != scheme_ || parts->port != port_ || parts->query != query_) return false;
  if (any_subdomain_) {
    if (parts->host.size() <= host_suffix_.size() || !absl::EndsWith(parts->host, host_suffix_)) {
      return false;
    }
  } else if (parts->host != host_suffix_) {
    return false;
  }
  if (any_path_rest_) {
    return absl::StartsWith(parts->path, path_prefix_) &&
           !HasDotSegmentOrEncodedDot(parts->path);
  }
  return parts->path == path_prefix_;
}

}  // namespace dcr::callers
