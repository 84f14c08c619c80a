// ListClients page tokens: opaque to callers and tamper-evident. A token
// names the next page's first index (Authlete's `start`) and is bound to the
// service and developer filter it was issued for by an HMAC-SHA256, so a
// caller can neither forge a position nor carry a token to another listing.
#ifndef DCR_SERVICE_REGISTRATION_PAGE_TOKEN_H_
#define DCR_SERVICE_REGISTRATION_PAGE_TOKEN_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "service/core/error.h"

namespace dcr::registration {

class PageTokens {
 public:
  // `key` signs the tokens; empty: a random key of this process (tokens then
  // hold only on the replica that issued them). The gateway derives it from
  // its Authlete credential, so that every replica accepts every token.
  explicit PageTokens(std::string key);

  // The token for the page starting at `start` of the listing of
  // `service_id` filtered by `developer`.
  std::string Issue(absl::string_view service_id, absl::string_view developer,
                    int64_t start) const;

  // The start index `token` names, if it is one Issue() made for the same
  // service and developer; INVALID_ARGUMENT (INVALID_PAGE_TOKEN) otherwise.
  core::ErrorOr<int64_t> Open(absl::string_view token, absl::string_view service_id,
                              absl::string_view developer) const;

  // A signing key derived from `secret` (the gateway's Authlete credential):
  // HMAC-SHA256(secret, a label), so the key reveals nothing of the secret.
  static std::string DeriveKey(absl::string_view secret);

 private:
  std::string Mac(absl::string_view service_id, absl::string_view developer,
                  int64_t start) const;

  std::string key_;
};

}  // namespace dcr::registration

#endif  // DCR_SERVICE_REGISTRATION_PAGE_TOKEN_H_
