// Whose request it is, for the per-address rate limit: the TCP peer, unless
// the peer is a configured trusted proxy, in which case the right-most hop
// of Forwarded (RFC 7239) or else X-Forwarded-For that is not a trusted
// proxy. Headers from any other peer are ignored: anyone can write them.
#ifndef DCR_SERVICE_PUBLIC_REGISTRATION_CLIENT_ADDRESS_H_
#define DCR_SERVICE_PUBLIC_REGISTRATION_CLIENT_ADDRESS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace dcr::public_registration {

// An IPv4 or IPv6 address, IPv4 held as ::ffff:a.b.c.d so that one
// comparison serves both.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool v4 = false;

  // "192.0.2.1", "2001:db8::1", "[2001:db8::1]", "::ffff:192.0.2.1";
  // nullopt for anything else (ports included).
  static absl::optional<IpAddress> Parse(absl::string_view text);
  std::string ToString() const;
  // The rate-limit key: the address for IPv4, its /64 for IPv6 (one host
  // gets a whole /64 and could otherwise take a fresh bucket per address).
  std::string BucketKey() const;
};

class TrustedProxies {
 public:
  // Each entry an address or a CIDR ("10.0.0.0/8", "fd00::/8"); none: no
  // proxy is trusted.
  static absl::StatusOr<TrustedProxies> Parse(const std::vector<std::string>& entries);

  bool Contains(const IpAddress& address) const;

  // The client's address: see the file comment. A hop that does not parse
  // (e.g. "unknown", an obfuscated identifier) stops the walk at the
  // trusted proxy that reported it, so that such requests share that
  // proxy's bucket rather than get one each.
  IpAddress ClientOf(const IpAddress& peer, const std::vector<std::string>& forwarded,
                     const std::vector<std::string>& x_forwarded_for) const;

 private:
  struct Range {
    IpAddress base;
    int prefix_bits = 128;  // of the 16 bytes
  };
  std::vector<Range> ranges_;
};

}  // namespace dcr::public_registration

#endif  // DCR_SERVICE_PUBLIC_REGISTRATION_CLIENT_ADDRESS_H_
