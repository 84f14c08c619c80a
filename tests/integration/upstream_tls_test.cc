// The gateway verifies Authlete's certificate: against --authlete_ca_file
// when given, else the system's CAs; a certificate for another name, or
// outside its validity, is refused before any request leaves the gateway.
// The emulator serves HTTPS with certificates from the test PKI.

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "gateway_test_env.h"
#include "tests/testing/test_pki.h"

namespace dcr::testing {
namespace {

// The name the gateway dials: the emulator's base URL is https://127.0.0.1:PORT.
LeafSpec ForLoopback() {
  LeafSpec spec;
  spec.common_name = "authlete-emulator";
  spec.ip_addresses = {"127.0.0.1"};
  return spec;
}

class UpstreamTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto pki = TestPki::Create("upstream test CA");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_.emplace(*std::move(pki));
    ca_file_ = dir_.path() + "/ca.pem";
    ASSERT_TRUE(WriteFileAtomically(ca_file_, pki_->ca_cert_pem()).ok());
  }

  // The emulator on HTTPS with a certificate for `spec`, the gateway trusting
  // `gateway_ca_file` (empty: the system's CAs).
  void Start(const LeafSpec& spec, const std::string& gateway_ca_file) {
    auto leaf = pki_->Issue(spec);
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    const std::string cert = dir_.path() + "/server.pem", key = dir_.path() + "/server.key";
    ASSERT_TRUE(WriteFileAtomically(cert, leaf->cert_pem).ok());
    ASSERT_TRUE(WriteFileAtomically(key, leaf->key_pem).ok());
    EnvOptions options = TweakGateway(
        [gateway_ca_file](config::GatewayConfig& c) { c.authlete_ca_file = gateway_ca_file; });
    options.tweak_emulator = [cert, key](emulator::EmulatorOptions& o) {
      o.tls_cert_file = cert;
      o.tls_key_file = key;
    };
    auto env = GatewayTestEnv::Start(std::move(options));
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
    ASSERT_TRUE(absl::StartsWith(env_->emulator().base_url(), "https://127.0.0.1:"));
  }

  grpc::Status Register() {
    v1::RegisterClientRequest request;
    request.set_metadata_json(R"({"redirect_uris":["https://app.example.com/cb"]})");
    v1::RegisterClientResponse response;
    return env_->stub().RegisterClient(Context().get(), request, &response);
  }

  // A TLS refusal: UNAVAILABLE, upstream unreachable, certainly not
  // processed, and indeed nothing reached the emulator.
  void ExpectRefusedBeforeAnyRequest(const grpc::Status& status) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    // curl's reason (e.g. "SSL certificate problem: certificate has expired")
    // reaches the caller, for whoever has to debug a private CA.
    EXPECT_THAT(status.error_message(), ::testing::HasSubstr("certificate"));
    RecordProperty("error_message", status.error_message());  // in --gtest_output=xml
    auto detail = DetailOf(status);
    ASSERT_TRUE(detail.has_value());
    EXPECT_EQ(detail->reason(), v1::ERROR_REASON_UPSTREAM_UNREACHABLE);
    EXPECT_FALSE(detail->may_have_been_processed());
    EXPECT_EQ(env_->emulator().stats().total, 0);
  }

  TempDir dir_{"upstream_tls"};
  absl::optional<TestPki> pki_;
  std::string ca_file_;
  std::unique_ptr<GatewayTestEnv> env_;
};

TEST_F(UpstreamTlsTest, ConfiguredCaIsTrusted) {
  ASSERT_NO_FATAL_FAILURE(Start(ForLoopback(), ca_file_));
  grpc::Status status = Register();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(env_->emulator().stats().register_requests, 1);
  // And again, on the connection kept open.
  EXPECT_TRUE(Register().ok());
  EXPECT_EQ(env_->emulator().stats().connections_accepted, 1);
}

// Transport faults over TLS reach the caller as over HTTP (error_mapping_test):
// the emulator ends a truncated body with close_notify, so it reads as short,
// not as a TLS failure.
TEST_F(UpstreamTlsTest, TransportFaultsMapAsOverHttp) {
  ASSERT_NO_FATAL_FAILURE(Start(ForLoopback(), ca_file_));
  struct Case {
    emulator::FaultKind kind;
    grpc::StatusCode code;
    v1::ErrorReason reason;
  };
  for (const Case& c : {Case{emulator::FaultKind::kTruncatedBody, grpc::StatusCode::INTERNAL,
                             v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE},
                        Case{emulator::FaultKind::kResetAfterProcessing,
                             grpc::StatusCode::UNAVAILABLE, v1::ERROR_REASON_UPSTREAM_FAILED}}) {
    emulator::FaultRule rule;
    rule.kind = c.kind;
    rule.count = 1;
    env_->emulator().SetFaults(emulator::FaultSpec{{rule}});
    grpc::Status status = Register();
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    auto detail = DetailOf(status);
    ASSERT_TRUE(detail.has_value());
    EXPECT_EQ(detail->reason(), c.reason) << v1::ErrorReason_Name(detail->reason());
    EXPECT_TRUE(detail->may_have_been_processed());
    grpc::Status again = Register();
    EXPECT_TRUE(again.ok()) << again.error_message();
  }
}

TEST_F(UpstreamTlsTest, SystemStoreDoesNotTrustThePrivateCa) {
  ASSERT_NO_FATAL_FAILURE(Start(ForLoopback(), ""));
  ExpectRefusedBeforeAnyRequest(Register());
}

TEST_F(UpstreamTlsTest, AnotherCaIsNotTrusted) {
  auto other = TestPki::Create("another CA");
  ASSERT_TRUE(other.ok()) << other.status();
  const std::string other_ca = dir_.path() + "/other-ca.pem";
  ASSERT_TRUE(WriteFileAtomically(other_ca, other->ca_cert_pem()).ok());
  ASSERT_NO_FATAL_FAILURE(Start(ForLoopback(), other_ca));
  ExpectRefusedBeforeAnyRequest(Register());
}

TEST_F(UpstreamTlsTest, CertificateForAnotherNameIsRefused) {
  LeafSpec spec;
  // The common name is no subjectAltName: it must not rescue the certificate.
  spec.common_name = "127.0.0.1";
  spec.dns_names = {"other.example"};
  ASSERT_NO_FATAL_FAILURE(Start(spec, ca_file_));
  ExpectRefusedBeforeAnyRequest(Register());
}

TEST_F(UpstreamTlsTest, ExpiredCertificateIsRefused) {
  LeafSpec spec = ForLoopback();
  spec.not_before_offset = -absl::Hours(48);
  spec.valid_for = -absl::Hours(24);
  ASSERT_NO_FATAL_FAILURE(Start(spec, ca_file_));
  ExpectRefusedBeforeAnyRequest(Register());
}

TEST_F(UpstreamTlsTest, NotYetValidCertificateIsRefused) {
  LeafSpec spec = ForLoopback();
  spec.not_before_offset = absl::Hours(24);
  spec.valid_for = absl::Hours(48);
  ASSERT_NO_FATAL_FAILURE(Start(spec, ca_file_));
  ExpectRefusedBeforeAnyRequest(Register());
}

}  // namespace
}  // namespace dcr::testing
