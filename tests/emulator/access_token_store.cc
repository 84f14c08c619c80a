#include "tests/emulator/access_token_store.h"

#include "tests/emulator/crypto_util.h"

namespace dcr::emulator {

namespace {

// 256-bit tokens (43 characters), as the registration access tokens.
constexpr int kAccessTokenBytes = 32;

}  // namespace

absl::StatusOr<IssuedAccessToken> AccessTokenStore::Issue(const AccessTokenSpec& spec,
                                                          absl::Time now) {
  absl::StatusOr<std::string> token = RandomBase64Url(kAccessTokenBytes);
  if (!token.ok()) return token.status();
  AccessTokenRecord record;
  record.service_id = spec.service_id;
  record.scopes = spec.scopes;
  record.subject = spec.subject;
  record.client_id = spec.client_id;
  record.expires_at_ms = absl::ToUnixMillis(now + spec.expires_in);
  const int64_t now_ms = absl::ToUnixMillis(now);

  absl::MutexLock lock(&mu_);
  if (tokens_.size() >= max_tokens_) DropExpired(now_ms);
  if (tokens_.size() >= max_tokens_) {
    return absl::ResourceExhaustedError("the emulator holds its maximum of live access tokens");
  }
  tokens_[Sha256Hex(*token)] = std::move(record);
  return IssuedAccessToken{*std::move(token), absl::ToUnixMillis(now + spec.expires_in)};
}

void AccessTokenStore::DropExpired(int64_t now_ms) {
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    it = it->second.expires_at_ms <= now_ms ? tokens_.erase(it) : std::next(it);
  }
}

absl::optional<AccessTokenRecord> AccessTokenStore::Find(const std::string& token) const {
  // A map lookup by the hash: what a timing attack could learn is the hash's
  // position, not the token.
  const std::string hash = Sha256Hex(token);
  absl::MutexLock lock(&mu_);
  auto it = tokens_.find(hash);
  if (it == tokens_.end()) return absl::nullopt;
  return it->second;
}

void AccessTokenStore::Clear() {
  absl::MutexLock lock(&mu_);
  tokens_.clear();
}

size_t AccessTokenStore::size() const {
  absl::MutexLock lock(&mu_);
  return tokens_.size();
}

}  // namespace dcr::emulator
