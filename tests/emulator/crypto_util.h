// Small OpenSSL helpers: secrets, hashes, constant-time comparison.
#ifndef DCR_TESTS_EMULATOR_CRYPTO_UTIL_H_
#define DCR_TESTS_EMULATOR_CRYPTO_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dcr::emulator {

// `num_bytes` bytes from RAND_bytes, base64url without padding.
absl::StatusOr<std::string> RandomBase64Url(int num_bytes);

// A uniformly random integer in [10^13, 10^14): a 14-digit client id like
// Authlete's.
absl::StatusOr<int64_t> RandomClientId();

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

// Constant-time equality. Both sides are hashed first so neither the content
// nor the length of the secret leaks through timing.
bool SecretEquals(absl::string_view a, absl::string_view b);

// Constant-time comparison of two equal-purpose digests (e.g. hex hashes).
bool DigestEquals(absl::string_view a, absl::string_view b);

}  // namespace dcr::emulator

#endif  // DCR_TESTS_EMULATOR_CRYPTO_UTIL_H_
