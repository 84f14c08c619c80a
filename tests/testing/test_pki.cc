#include "tests/testing/test_pki.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace dcr::testing {
namespace {

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Free<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION, X509_EXTENSION_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES, GENERAL_NAMES_free>>;
using NamePtr = std::unique_ptr<GENERAL_NAME, Free<GENERAL_NAME, GENERAL_NAME_free>>;

// `what` plus OpenSSL's error queue (which this also empties, so that a
// later failure does not report stale errors).
absl::Status OpenSslError(absl::string_view what) {
  std::vector<std::string> errors;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    errors.emplace_back(buf);
  }
  return absl::InternalError(
      absl::StrCat("test PKI: ", what, errors.empty() ? "" : ": ", absl::StrJoin(errors, "; ")));
}

absl::StatusOr<KeyPtr> NewKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("EC P-256 key generation");
  return key;
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

absl::StatusOr<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("writing a private key");
  }
  return BioContents(bio.get());
}

absl::StatusOr<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return OpenSslError("writing a certificate");
  return BioContents(bio.get());
}

absl::StatusOr<KeyPtr> KeyFromPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return OpenSslError("reading the CA key");
  return key;
}

absl::StatusOr<CertPtr> CertFromPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CertPtr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return OpenSslError("reading the CA certificate");
  return cert;
}

// An extension in openssl.cnf syntax (e.g. "critical,CA:TRUE"), with `ctx`
// giving the subject and issuer for the key identifiers.
absl::Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(absl::StrCat("extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

absl::Status AddIa5Name(GENERAL_NAMES* names, int type, const std::string& value) {
  NamePtr name(GENERAL_NAME_new());
  ASN1_IA5STRING* s = ASN1_IA5STRING_new();
  if (!name || !s || ASN1_STRING_set(s, value.data(), static_cast<int>(value.size())) != 1) {
    ASN1_IA5STRING_free(s);
    return OpenSslError("subjectAltName entry");
  }
  GENERAL_NAME_set0_value(name.get(), type, s);
  if (sk_GENERAL_NAME_push(names, name.get()) == 0) return OpenSslError("subjectAltName entry");
  name.release();  // owned by `names` now
  return absl::OkStatus();
}

// Built as GENERAL_NAMES rather than a config string, so that names holding
// commas or colons (URIs) need no escaping.
absl::Status AddSubjectAltName(X509* cert, const LeafSpec& spec) {
  if (spec.dns_names.empty() && spec.ip_addresses.empty() && spec.uris.empty()) {
    return absl::OkStatus();
  }
  NamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return OpenSslError("subjectAltName");
  for (const std::string& dns : spec.dns_names) {
    if (absl::Status st = AddIa5Name(names.get(), GEN_DNS, dns); !st.ok()) return st;
  }
  for (const std::string& uri : spec.uris) {
    if (absl::Status st = AddIa5Name(names.get(), GEN_URI, uri); !st.ok()) return st;
  }
  for (const std::string& ip : spec.ip_addresses) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
    if (octets == nullptr) {
      ERR_clear_error();
      return absl::InvalidArgumentError(absl::StrCat("test PKI: not an IP address: \"", ip, "\""));
    }
    NamePtr name(GENERAL_NAME_new());
    if (!name) {
      ASN1_OCTET_STRING_free(octets);
      return OpenSslError("subjectAltName entry");
    }
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, octets);
    if (sk_GENERAL_NAME_push(names.get(), name.get()) == 0) {
      return OpenSslError("subjectAltName entry");
    }
    name.release();
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("subjectAltName");
  }
  return absl::OkStatus();
}

// The parts every certificate shares: version, serial, validity, names, key.
absl::StatusOr<CertPtr> NewCertificate(const std::string& common_name, EVP_PKEY* key,
                                       X509* issuer, absl::Time not_before,
                                       absl::Time not_after) {
  CertPtr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslError("new certificate");
  }
  // 127 random bits: unique per certificate and positive, as RFC 5280 wants.
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return OpenSslError("serial number");
  serial[0] = (serial[0] & 0x7f) | 0x40;
  BnPtr bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpenSslError("serial number");
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(not_after)) == nullptr) {
    return OpenSslError("validity");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  // An organization as well, so that the subject is never empty (an empty
  // subject would require a critical subjectAltName).
  if (X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("dcr-gateway tests"), -1,
                                 -1, 0) != 1) {
    return OpenSslError("subject");
  }
  if (!common_name.empty() &&
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1) {
    return OpenSslError("subject");
  }
  X509_NAME* issuer_name = issuer ? X509_get_subject_name(issuer) : subject;
  if (X509_set_issuer_name(cert.get(), issuer_name) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslError("issuer or public key");
  }
  return cert;
}

}  // namespace

absl::StatusOr<TestPki> TestPki::Create(absl::string_view ca_common_name) {
  absl::StatusOr<KeyPtr> key = NewKey();
  if (!key.ok()) return key.status();
  const absl::Time now = absl::Now();
  absl::StatusOr<CertPtr> cert = NewCertificate(std::string(ca_common_name), key->get(), nullptr,
                                                now - absl::Minutes(5), now + absl::Hours(24 * 30));
  if (!cert.ok()) return cert.status();
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert->get(), cert->get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] :
       std::vector<std::pair<int, std::string>>{{NID_basic_constraints, "critical,CA:TRUE"},
                                                {NID_key_usage, "critical,keyCertSign,cRLSign"},
                                                {NID_subject_key_identifier, "hash"}}) {
    if (absl::Status st = AddExtension(cert->get(), &ctx, nid, value); !st.ok()) return st;
  }
  if (X509_sign(cert->get(), key->get(), EVP_sha256()) <= 0) return OpenSslError("signing the CA");
  KeyPair ca;
  absl::StatusOr<std::string> cert_pem = CertToPem(cert->get());
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = KeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  ca.cert_pem = *std::move(cert_pem);
  ca.key_pem = *std::move(key_pem);
  return TestPki(std::move(ca));
}

absl::StatusOr<KeyPair> TestPki::Issue(const LeafSpec& spec) const {
  absl::StatusOr<CertPtr> ca_cert = CertFromPem(ca_.cert_pem);
  if (!ca_cert.ok()) return ca_cert.status();
  absl::StatusOr<KeyPtr> ca_key = KeyFromPem(ca_.key_pem);
  if (!ca_key.ok()) return ca_key.status();
  absl::StatusOr<KeyPtr> key = NewKey();
  if (!key.ok()) return key.status();
  const absl::Time now = absl::Now();
  absl::StatusOr<CertPtr> cert = NewCertificate(spec.common_name, key->get(), ca_cert->get(),
                                                now + spec.not_before_offset, now + spec.valid_for);
  if (!cert.ok()) return cert.status();

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_cert->get(), cert->get(), nullptr, nullptr, 0);
  std::vector<std::pair<int, std::string>> extensions = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      // ECDSA keys sign; they never encipher keys.
      {NID_key_usage, "critical,digitalSignature"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  std::vector<std::string> usages;
  if (spec.server) usages.push_back("serverAuth");
  if (spec.client) usages.push_back("clientAuth");
  if (!usages.empty()) extensions.emplace_back(NID_ext_key_usage, absl::StrJoin(usages, ","));
  for (const auto& [nid, value] : extensions) {
    if (absl::Status st = AddExtension(cert->get(), &ctx, nid, value); !st.ok()) return st;
  }
  if (absl::Status st = AddSubjectAltName(cert->get(), spec); !st.ok()) return st;
  if (X509_sign(cert->get(), ca_key->get(), EVP_sha256()) <= 0) {
    return OpenSslError("signing a leaf");
  }
  KeyPair leaf;
  absl::StatusOr<std::string> cert_pem = CertToPem(cert->get());
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = KeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  leaf.cert_pem = *std::move(cert_pem);
  leaf.key_pem = *std::move(key_pem);
  return leaf;
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  // The temporary file sits next to the target: rename() is atomic only
  // within one file system.
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = mkstemp(tmp.data());  // mode 0600
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create a temporary file for ", path, ": ", std::strerror(errno)));
  }
  auto fail = [&](const char* what) {
    const int err = errno;
    close(fd);
    unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot ", what, " ", tmp, ": ", std::strerror(err)));
  };
  if (fchmod(fd, 0600) != 0) return fail("chmod");
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return fail("fsync");
  if (close(fd) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot close ", tmp, ": ", std::strerror(err)));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return absl::InternalError(
        absl::StrCat("cannot rename ", tmp, " to ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace dcr::testing
