#include "tests/emulator/crypto_util.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <vector>

#include "absl/strings/escaping.h"

namespace dcr::emulator {

absl::StatusOr<std::string> RandomBase64Url(int num_bytes) {
  std::vector<unsigned char> buf(static_cast<size_t>(num_bytes));
  if (RAND_bytes(buf.data(), num_bytes) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  // absl::WebSafeBase64Escape omits the padding, as base64url tokens do.
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
}

absl::StatusOr<int64_t> RandomClientId() {
  constexpr uint64_t kLow = 10000000000000ULL;  // 10^13
  constexpr uint64_t kSpan = 90000000000000ULL;  // 9 * 10^13
  // Rejection sampling avoids modulo bias.
  constexpr uint64_t kLimit = UINT64_MAX - (UINT64_MAX % kSpan);
  for (;;) {
    uint64_t r = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof(r)) != 1) {
      return absl::InternalError("RAND_bytes failed");
    }
    if (r < kLimit) return static_cast<int64_t>(kLow + r % kSpan);
  }
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

bool SecretEquals(absl::string_view a, absl::string_view b) {
  unsigned char da[SHA256_DIGEST_LENGTH];
  unsigned char db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, sizeof(da)) == 0;
}

bool DigestEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;  // digests have a public, fixed length
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace dcr::emulator
