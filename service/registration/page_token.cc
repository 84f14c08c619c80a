#include "service/registration/page_token.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace dcr::registration {
namespace {

// Token text: base64url("1." start "." mac). The version lets a later format
// refuse old tokens cleanly.
constexpr absl::string_view kVersion = "1.";
constexpr std::size_t kMacBytes = 32;
// Far longer than any token Issue() makes: refuse before decoding.
constexpr std::size_t kMaxTokenChars = 256;

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

core::Error BadToken(absl::string_view why) {
  return core::Error(v1::ERROR_REASON_INVALID_PAGE_TOKEN,
                     absl::StrCat("page_token is not valid for this listing (", why,
                                  "); start again without one"));
}

}  // namespace

PageTokens::PageTokens(std::string key) : key_(std::move(key)) {
  if (key_.empty()) {
    key_.resize(kMacBytes);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key_.data()), kMacBytes) != 1) {
      // No randomness: a key nobody can guess is impossible, so no token is
      // ever accepted rather than one anybody could forge.
      key_.clear();
    }
  }
}

std::string PageTokens::DeriveKey(absl::string_view secret) {
  return HmacSha256(secret, "dcr-gateway ListClients page token key v1");
}

std::string PageTokens::Mac(absl::string_view service_id, absl::string_view developer,
                            int64_t start) const {
  // Lengths first, so that no two (service, developer) pairs sign the same text.
  return HmacSha256(key_, absl::StrCat(service_id.size(), ":", service_id, developer.size(),
                                       ":", developer, start));
}

std::string PageTokens::Issue(absl::string_view service_id, absl::string_view developer,
                              int64_t start) const {
  return absl::WebSafeBase64Escape(
      absl::StrCat(kVersion, start, ".", Mac(service_id, developer, start)));
}

core::ErrorOr<int64_t> PageTokens::Open(absl::string_view token, absl::string_view service_id,
                                        absl::string_view developer) const {
  if (token.size() > kMaxTokenChars) return BadToken("too long");
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return BadToken("not base64url");
  absl::string_view rest = raw;
  if (!absl::ConsumePrefix(&rest, kVersion)) return BadToken("unknown format");
  const std::size_t dot = rest.find('.');
  if (dot == absl::string_view::npos || rest.size() - dot - 1 != kMacBytes) {
    return BadToken("malformed");
  }
  int64_t start = 0;
  if (!absl::SimpleAtoi(rest.substr(0, dot), &start) || start < 0) return BadToken("malformed");
  if (key_.empty()) return BadToken("no signing key");
  const std::string expected = Mac(service_id, developer, start);
  if (CRYPTO_memcmp(expected.data(), rest.data() + dot + 1, kMacBytes) != 0) {
    return BadToken("signature mismatch");
  }
  return start;
}

}  // namespace dcr::registration
