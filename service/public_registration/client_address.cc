#include "service/public_registration/client_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dcr::public_registration {
namespace {

// A Forwarded "for" value or an X-Forwarded-For entry, as an address: quotes,
// brackets and a port taken off.
absl::optional<IpAddress> HopAddress(absl::string_view hop) {
  hop = absl::StripAsciiWhitespace(hop);
  if (hop.size() >= 2 && hop.front() == '"' && hop.back() == '"') {
    hop = hop.substr(1, hop.size() - 2);
  }
  if (!hop.empty() && hop.front() == '[') {
    const std::size_t close = hop.find(']');
    if (close == absl::string_view::npos) return absl::nullopt;
    return IpAddress::Parse(hop.substr(1, close - 1));
  }
  // "192.0.2.1:4711": one colon is a port; more are an IPv6 address.
  const std::size_t colon = hop.find(':');
  if (colon != absl::string_view::npos && hop.find(':', colon + 1) == absl::string_view::npos) {
    hop = hop.substr(0, colon);
  }
  return IpAddress::Parse(hop);
}

// The hops of every Forwarded line, left to right (its "for" parameters).
std::vector<std::string> ForwardedHops(const std::vector<std::string>& lines) {
  std::vector<std::string> hops;
  for (const std::string& line : lines) {
    for (absl::string_view element : absl::StrSplit(line, ',')) {
      std::string value;  // an element without "for" is still a hop
      for (absl::string_view pair : absl::StrSplit(element, ';')) {
        pair = absl::StripAsciiWhitespace(pair);
        const std::size_t eq = pair.find('=');
        if (eq == absl::string_view::npos) continue;
        if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(pair.substr(0, eq)), "for")) {
          value = std::string(pair.substr(eq + 1));
        }
      }
      hops.push_back(std::move(value));
    }
  }
  return hops;
}

std::vector<std::string> ListHops(const std::vector<std::string>& lines) {
  std::vector<std::string> hops;
  for (const std::string& line : lines) {
    for (absl::string_view hop : absl::StrSplit(line, ',')) hops.emplace_back(hop);
  }
  return hops;
}

// Bounds the walk: a header of a million commas costs no more than this.
constexpr std::size_t kMaxHops = 64;

}  // namespace

absl::optional<IpAddress> IpAddress::Parse(absl::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() > 45) return absl::nullopt;
  const std::string s(text);
  IpAddress address;
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    address.v4 = true;
    address.bytes[10] = 0xff;
    address.bytes[11] = 0xff;
    std::memcpy(&address.bytes[12], &v4, 4);
    return address;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, s.c_str(), &v6) != 1) return absl::nullopt;
  std::memcpy(address.bytes.data(), &v6, 16);
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  address.v4 = std::memcmp(address.bytes.data(), kMapped, 12) == 0;
  return address;
}

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (v4) {
    inet_ntop(AF_INET, &bytes[12], text, sizeof(text));
  } else {
    inet_ntop(AF_INET6, bytes.data(), text, sizeof(text));
  }
  return text;
}

std::string IpAddress::BucketKey() const {
  if (v4) return ToString();
  IpAddress prefix = *this;
  std::fill(prefix.bytes.begin() + 8, prefix.bytes.end(), 0);
  return absl::StrCat(prefix.ToString(), "/64");
}

absl::StatusOr<TrustedProxies> TrustedProxies::Parse(const std::vector<std::string>& entries) {
  TrustedProxies proxies;
  for (const std::string& entry : entries) {
    absl::string_view text = absl::StripAsciiWhitespace(entry);
    Range range;
    const std::size_t slash = text.find('/');
    absl::optional<IpAddress> base = IpAddress::Parse(text.substr(0, slash));
    if (!base.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("trusted proxy \"", entry, "\" is not an address or CIDR"));
    }
    range.base = *base;
    int bits = base->v4 ? 32 : 128;
    if (slash != absl::string_view::npos) {
      const int most = bits;
      if (!absl::SimpleAtoi(text.substr(slash + 1), &bits) || bits < 0 || bits > most) {
        return absl::InvalidArgumentError(
            absl::StrCat("trusted proxy \"", entry, "\": bad prefix length"));
      }
    }
    range.prefix_bits = base->v4 ? bits + 96 : bits;
    proxies.ranges_.push_back(range);
  }
  return proxies;
}

bool TrustedProxies::Contains(const IpAddress& address) const {
  for (const Range& range : ranges_) {
    int bits = range.prefix_bits;
    bool match = true;
    for (int i = 0; i < 16 && bits > 0 && match; ++i, bits -= 8) {
      const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
      match = (address.bytes[i] & mask) == (range.base.bytes[i] & mask);
    }
    if (match) return true;
  }
  return false;
}

IpAddress TrustedProxies::ClientOf(const IpAddress& peer,
                                   const std::vector<std::string>& forwarded,
                                   const std::vector<std::string>& x_forwarded_for) const {
  if (ranges_.empty() || !Contains(peer)) return peer;
  const std::vector<std::string> hops =
      !forwarded.empty() ? ForwardedHops(forwarded) : ListHops(x_forwarded_for);
  IpAddress current = peer;
  std::size_t walked = 0;
  for (auto it = hops.rbegin(); it != hops.rend() && walked < kMaxHops; ++it, ++walked) {
    absl::optional<IpAddress> hop = HopAddress(*it);
    if (!hop.has_value()) return current;
    if (!Contains(*hop)) return *hop;
    current = *hop;
  }
  // Every hop a trusted proxy: the left-most is as close to the client as
  // anyone knows.
  return current;
}

}  // namespace dcr::public_registration
