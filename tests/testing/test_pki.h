// A throwaway PKI for tests: a self-signed CA that issues server and client
// certificates (EC P-256, X.509 v3), built in memory with OpenSSL, no
// external commands. Nothing here is meant to be secure beyond a test run.
//
//   auto pki = dcr::testing::TestPki::Create("test CA");
//   dcr::testing::LeafSpec spec;
//   spec.common_name = "emulator";
//   spec.ip_addresses = {"127.0.0.1"};
//   auto leaf = pki->Issue(spec);  // leaf->cert_pem, leaf->key_pem
#ifndef DCR_TESTS_TESTING_TEST_PKI_H_
#define DCR_TESTS_TESTING_TEST_PKI_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace dcr::testing {

struct KeyPair {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8, unencrypted
};

struct LeafSpec {
  std::string common_name;
  std::vector<std::string> dns_names;     // subjectAltName DNS
  std::vector<std::string> ip_addresses;  // subjectAltName IP, e.g. "127.0.0.1", "::1"
  std::vector<std::string> uris;          // subjectAltName URI, e.g. spiffe://corp/portal
  bool server = true;                     // extendedKeyUsage serverAuth
  bool client = false;                    // extendedKeyUsage clientAuth
  // notAfter = now + valid_for; negative makes an expired certificate.
  absl::Duration valid_for = absl::Hours(24);
  // notBefore = now + not_before_offset. The default tolerates a little clock
  // skew; a positive offset makes a certificate that is not valid yet.
  absl::Duration not_before_offset = -absl::Minutes(5);
};

class TestPki {
 public:
  // A new self-signed CA (basicConstraints CA:TRUE, keyCertSign).
  static absl::StatusOr<TestPki> Create(absl::string_view ca_common_name);

  const std::string& ca_cert_pem() const { return ca_.cert_pem; }
  // The CA's key, e.g. to sign something odd by hand in a test.
  const std::string& ca_key_pem() const { return ca_.key_pem; }

  // A leaf certificate signed by this CA, with a fresh key.
  absl::StatusOr<KeyPair> Issue(const LeafSpec& spec) const;

 private:
  explicit TestPki(KeyPair ca) : ca_(std::move(ca)) {}
  // Kept as PEM so that TestPki is a plain copyable value.
  KeyPair ca_;
};

// Writes `contents` to `path` (0600), replacing it atomically (write temp + rename),
// so a file watcher never sees a half-written file.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

}  // namespace dcr::testing

#endif  // DCR_TESTS_TESTING_TEST_PKI_H_
