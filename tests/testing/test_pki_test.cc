// The test PKI issues certificates that OpenSSL's own verifier accepts, with
// the names and usages asked for.
#include "tests/testing/test_pki.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace dcr::testing {
namespace {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using CertPtr = std::unique_ptr<X509, X509Free>;

CertPtr ParseCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  CertPtr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return cert;
}

EVP_PKEY* ParseKey(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return key;
}

// X509_verify_cert against the CA alone, for `purpose` (X509_PURPOSE_*).
// Returns the verification error (X509_V_OK on success).
int Verify(const std::string& ca_pem, const std::string& leaf_pem,
           int purpose = X509_PURPOSE_SSL_SERVER) {
  CertPtr ca = ParseCert(ca_pem);
  CertPtr leaf = ParseCert(leaf_pem);
  if (!ca || !leaf) return -1;
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  int result = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return result;
}

TEST(TestPkiTest, IssuedServerCertificateVerifiesWithItsNames) {
  auto pki = TestPki::Create("test CA");
  ASSERT_TRUE(pki.ok()) << pki.status();
  LeafSpec spec;
  spec.common_name = "emulator";
  spec.dns_names = {"localhost", "emulator.test"};
  spec.ip_addresses = {"127.0.0.1", "::1"};
  spec.uris = {"spiffe://corp/portal"};
  auto leaf = pki->Issue(spec);
  ASSERT_TRUE(leaf.ok()) << leaf.status();

  EXPECT_EQ(Verify(pki->ca_cert_pem(), leaf->cert_pem), X509_V_OK);
  CertPtr cert = ParseCert(leaf->cert_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "emulator.test", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(cert.get(), "other.example", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
  EXPECT_NE(X509_check_ip_asc(cert.get(), "127.0.0.2", 0), 1);

  // The URI SAN, read back as it was given.
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  std::vector<std::string> uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_URI) {
      uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.uniformResourceIdentifier)),
                        ASN1_STRING_length(name->d.uniformResourceIdentifier));
    }
  }
  GENERAL_NAMES_free(names);
  EXPECT_EQ(uris, std::vector<std::string>{"spiffe://corp/portal"});

  // The key is the certificate's.
  EVP_PKEY* key = ParseKey(leaf->key_pem);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(cert.get(), key), 1);
  EVP_PKEY_free(key);
  // A server certificate is not a client certificate unless asked for.
  EXPECT_NE(Verify(pki->ca_cert_pem(), leaf->cert_pem, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
}

TEST(TestPkiTest, ClientCertificateAndCaProperties) {
  auto pki = TestPki::Create("test CA");
  ASSERT_TRUE(pki.ok()) << pki.status();
  LeafSpec spec;
  spec.common_name = "portal";
  spec.uris = {"spiffe://corp/portal"};
  spec.server = false;
  spec.client = true;
  auto leaf = pki->Issue(spec);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(Verify(pki->ca_cert_pem(), leaf->cert_pem, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_NE(Verify(pki->ca_cert_pem(), leaf->cert_pem, X509_PURPOSE_SSL_SERVER), X509_V_OK);

  CertPtr ca = ParseCert(pki->ca_cert_pem());
  CertPtr cert = ParseCert(leaf->cert_pem);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(X509_check_issued(ca.get(), cert.get()), X509_V_OK);
}

TEST(TestPkiTest, OtherCaAndValidityWindowAreRefused) {
  auto pki = TestPki::Create("test CA");
  auto other = TestPki::Create("other CA");
  ASSERT_TRUE(pki.ok() && other.ok());
  LeafSpec spec;
  spec.ip_addresses = {"127.0.0.1"};
  auto leaf = pki->Issue(spec);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(Verify(other->ca_cert_pem(), leaf->cert_pem), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);

  LeafSpec expired = spec;
  expired.not_before_offset = -absl::Hours(48);
  expired.valid_for = -absl::Hours(24);
  auto old = pki->Issue(expired);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(Verify(pki->ca_cert_pem(), old->cert_pem), X509_V_ERR_CERT_HAS_EXPIRED);

  LeafSpec future = spec;
  future.not_before_offset = absl::Hours(24);
  future.valid_for = absl::Hours(48);
  auto young = pki->Issue(future);
  ASSERT_TRUE(young.ok()) << young.status();
  EXPECT_EQ(Verify(pki->ca_cert_pem(), young->cert_pem), X509_V_ERR_CERT_NOT_YET_VALID);

  LeafSpec bad_ip = spec;
  bad_ip.ip_addresses = {"not-an-ip"};
  EXPECT_EQ(pki->Issue(bad_ip).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TestPkiTest, WriteFileAtomicallyReplacesWithMode0600) {
  std::string dir = ::testing::TempDir();
  std::string path = dir + "/test_pki_atomic.pem";
  std::remove(path.c_str());
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  EXPECT_EQ(contents.str(), "second");
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::remove(path.c_str());
  EXPECT_FALSE(WriteFileAtomically("/nonexistent-dir/x.pem", "x").ok());
}

}  // namespace
}  // namespace dcr::testing
