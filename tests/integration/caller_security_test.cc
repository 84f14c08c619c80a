// Who may call the gateway: TLS on its port (and certificate rotation),
// mutual TLS identities, API keys, and the per-caller policy. Every refused
// call must reach Authlete zero times, which the emulator's counters prove.
// Clients are built with dcr::client::MakeChannel, as real callers do.
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "client/channel.h"
#include "gateway_test_env.h"
#include "service/callers/caller_policy.h"
#include "tests/testing/test_pki.h"

namespace dcr::testing {
namespace {

constexpr char kPortalKey[] = "portal-api-key-5b1f0c9e";
constexpr char kOpsKey[] = "ops-api-key-77d2a4e0";

// portal: register and read, on the default service, its own redirect URIs,
// four calls at once then one a minute. ops: anything, by certificate or key.
std::string CallersFile() {
  return absl::StrCat(R"({"callers": [
    {"name": "portal", "api_key_sha256": [")", callers::HashApiKeyHex(kPortalKey), R"("],
     "certificate_identities": ["spiffe://corp/portal"],
     "rpcs": ["RegisterClient", "GetClient"], "service_ids": [")", emulator::kDefaultServiceId,
                      R"("],
     "redirect_uri_patterns": ["https://*.portal.example.com/cb"],
     "grant_types": ["authorization_code", "refresh_token"],
     "rate_limit": {"requests_per_second": 0.0167, "burst": 4}},
    {"name": "ops", "api_key_sha256": [")", callers::HashApiKeyHex(kOpsKey), R"("],
     "certificate_identities": ["spiffe://corp/ops"],
     "rpcs": ["*"], "service_ids": ["*"], "redirect_uri_patterns": ["*"], "grant_types": ["*"]}
  ]})");
}

grpc::Status Register(v1::ClientRegistrationService::Stub& stub,
                      const std::string& metadata_json =
                          R"({"redirect_uris":["https://a.portal.example.com/cb"]})",
                      const std::string& service_id = "",
                      v1::RegisterClientResponse* response_out = nullptr) {
  v1::RegisterClientRequest request;
  request.set_metadata_json(metadata_json);
  request.set_service_id(service_id);
  v1::RegisterClientResponse response;
  return stub.RegisterClient(Context(absl::Seconds(5)).get(), request,
                             response_out != nullptr ? response_out : &response);
}

class CallerSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto pki = TestPki::Create("gateway test CA");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_.emplace(*std::move(pki));
    auto other = TestPki::Create("someone else's CA");
    ASSERT_TRUE(other.ok()) << other.status();
    other_pki_.emplace(*std::move(other));
    ASSERT_TRUE(WriteFileAtomically(Path("ca.pem"), pki_->ca_cert_pem()).ok());
    ASSERT_TRUE(WriteFileAtomically(Path("other-ca.pem"), other_pki_->ca_cert_pem()).ok());
    ASSERT_TRUE(WriteFileAtomically(Path("callers.json"), CallersFile()).ok());
  }

  std::string Path(absl::string_view name) const { return absl::StrCat(dir_.path(), "/", name); }

  // A certificate from `pki` written as <name>.pem and <name>.key.
  void Issue(const TestPki& pki, const LeafSpec& spec, const std::string& name) {
    auto leaf = pki.Issue(spec);
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    ASSERT_TRUE(WriteFileAtomically(Path(name + ".key"), leaf->key_pem).ok());
    ASSERT_TRUE(WriteFileAtomically(Path(name + ".pem"), leaf->cert_pem).ok());
  }

  static LeafSpec Server() {
    LeafSpec spec;
    spec.common_name = "dcr-gateway";
    spec.ip_addresses = {"127.0.0.1"};
    return spec;
  }
  static LeafSpec Client(const std::string& uri) {
    LeafSpec spec;
    spec.common_name = "client";
    spec.uris = {uri};
    spec.server = false;
    spec.client = true;
    return spec;
  }

  void Start(std::function<void(config::GatewayConfig&)> tweak) {
    auto env = GatewayTestEnv::Start(TweakGateway(std::move(tweak)));
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
  }

  // A TLS gateway with the test CA's certificate; mutual TLS when `mtls`.
  void StartTls(bool mtls, bool require_client_certificate = true) {
    ASSERT_NO_FATAL_FAILURE(Issue(*pki_, Server(), "server"));
    Start([this, mtls, require_client_certificate](config::GatewayConfig& c) {
      c.insecure_plaintext = false;
      c.tls.cert_file = Path("server.pem");
      c.tls.key_file = Path("server.key");
      c.tls.reload_interval = absl::Seconds(1);
      if (mtls) {
        c.tls.client_ca_file = Path("ca.pem");
        c.tls.require_client_certificate = require_client_certificate;
        c.callers_file = Path("callers.json");
      }
    });
  }

  std::unique_ptr<v1::ClientRegistrationService::Stub> Stub(client::ChannelOptions options) {
    options.health_check = false;
    auto channel = client::MakeChannel(absl::StrCat("127.0.0.1:", env_->gateway().port()), options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return v1::ClientRegistrationService::NewStub(*channel);
  }
  std::unique_ptr<v1::ClientRegistrationService::Stub> TlsStub(const std::string& ca,
                                                               const std::string& client_cert = "",
                                                               const std::string& api_key = "") {
    client::ChannelOptions options;
    options.tls = client::TlsOptions{Path(ca), client_cert.empty() ? "" : Path(client_cert + ".pem"),
                                     client_cert.empty() ? "" : Path(client_cert + ".key"), ""};
    options.api_key = api_key;
    return Stub(options);
  }
  std::unique_ptr<v1::ClientRegistrationService::Stub> PlainStub(const std::string& api_key = "") {
    client::ChannelOptions options;
    options.api_key = api_key;
    return Stub(options);
  }

  static void ExpectRefused(const grpc::Status& status, grpc::StatusCode code,
                            v1::ErrorReason reason) {
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    auto detail = DetailOf(status);
    ASSERT_TRUE(detail.has_value()) << status.error_message();
    EXPECT_EQ(detail->reason(), reason) << v1::ErrorReason_Name(detail->reason());
    EXPECT_EQ(detail->upstream_attempts(), 0);
  }

  TempDir dir_{"caller_security"};
  absl::optional<TestPki> pki_, other_pki_;
  std::unique_ptr<GatewayTestEnv> env_;
};

TEST_F(CallerSecurityTest, StartRefusesNeitherTlsNorPlaintextAndBadTlsFiles) {
  auto no_choice = GatewayTestEnv::Start(
      TweakGateway([](config::GatewayConfig& c) { c.insecure_plaintext = false; }));
  ASSERT_FALSE(no_choice.ok());
  EXPECT_THAT(std::string(no_choice.status().message()), ::testing::HasSubstr("insecure_plaintext"));
  ASSERT_NO_FATAL_FAILURE(Issue(*pki_, Server(), "server"));
  ASSERT_NO_FATAL_FAILURE(Issue(*pki_, Server(), "another"));
  auto mismatched = GatewayTestEnv::Start(TweakGateway([this](config::GatewayConfig& c) {
    c.insecure_plaintext = false;
    c.tls.cert_file = Path("server.pem");
    c.tls.key_file = Path("another.key");
  }));
  ASSERT_FALSE(mismatched.ok());
  EXPECT_THAT(std::string(mismatched.status().message()), ::testing::HasSubstr("does not match"));
  // The message names the key file, never its content.
  EXPECT_THAT(std::string(mismatched.status().message()),
              ::testing::Not(::testing::HasSubstr("PRIVATE KEY")));
}

TEST_F(CallerSecurityTest, TlsPortServesVerifiedClientsOnly) {
  ASSERT_NO_FATAL_FAILURE(StartTls(/*mtls=*/false));
  EXPECT_TRUE(Register(*TlsStub("ca.pem")).ok());
  EXPECT_EQ(Register(*PlainStub()).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Register(*TlsStub("other-ca.pem")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(env_->emulator().stats().total, 1);
}

TEST_F(CallerSecurityTest, RotatedCertificateIsServedWithoutRestart) {
  ASSERT_NO_FATAL_FAILURE(StartTls(/*mtls=*/false));
  ASSERT_TRUE(Register(*TlsStub("ca.pem")).ok());
  ASSERT_NE(Register(*TlsStub("other-ca.pem")).error_code(), grpc::StatusCode::OK);
  // The new certificate comes from another CA, so which one is served shows
  // in which client can connect. Key first, then certificate: the watcher
  // may briefly see a mismatched pair and keep the old one.
  ASSERT_NO_FATAL_FAILURE(Issue(*other_pki_, Server(), "server"));
  bool rotated = false;
  for (int i = 0; i < 50 && !rotated; ++i) {  // bounded: 10 s at most
    absl::SleepFor(absl::Milliseconds(200));
    rotated = Register(*TlsStub("other-ca.pem")).ok();  // a new channel: a new handshake
  }
  EXPECT_TRUE(rotated) << "the rotated certificate was not served within 10 s";
  EXPECT_EQ(Register(*TlsStub("ca.pem")).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(CallerSecurityTest, MutualTlsIdentifiesCallersByCertificate) {
  ASSERT_NO_FATAL_FAILURE(StartTls(/*mtls=*/true));
  ASSERT_NO_FATAL_FAILURE(Issue(*pki_, Client("spiffe://corp/ops"), "ops"));
  ASSERT_NO_FATAL_FAILURE(Issue(*pki_, Client("spiffe://corp/stranger"), "stranger"));
  ASSERT_NO_FATAL_FAILURE(Issue(*other_pki_, Client("spiffe://corp/ops"), "forged"));

  v1::RegisterClientResponse registered;
  grpc::Status ok = Register(*TlsStub("ca.pem", "ops"), R"({"redirect_uris":["https://x.example/cb"]})",
                             "", &registered);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  const int64_t allowed = env_->emulator().stats().total;

  // No certificate, or one from another CA: the handshake fails.
  EXPECT_EQ(Register(*TlsStub("ca.pem")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Register(*TlsStub("ca.pem", "forged")).error_code(), grpc::StatusCode::UNAVAILABLE);
  // A valid certificate naming nobody in the callers file.
  ExpectRefused(Register(*TlsStub("ca.pem", "stranger")), grpc::StatusCode::UNAUTHENTICATED,
                v1::ERROR_REASON_CALLER_UNAUTHENTICATED);
  // ops' certificate with portal's API key: two callers at once.
  ExpectRefused(Register(*TlsStub("ca.pem", "ops", kPortalKey)),
                grpc::StatusCode::UNAUTHENTICATED, v1::ERROR_REASON_CALLER_UNAUTHENTICATED);
  EXPECT_EQ(env_->emulator().stats().total, allowed);
}

TEST_F(CallerSecurityTest, OptionalClientCertificateLetsApiKeysIn) {
  ASSERT_NO_FATAL_FAILURE(StartTls(/*mtls=*/true, /*require_client_certificate=*/false));
  EXPECT_TRUE(Register(*TlsStub("ca.pem", "", kOpsKey)).ok());
  ExpectRefused(Register(*TlsStub("ca.pem")), grpc::StatusCode::UNAUTHENTICATED,
                v1::ERROR_REASON_CALLER_UNAUTHENTICATED);
  EXPECT_EQ(env_->emulator().stats().total, 1);
}

TEST_F(CallerSecurityTest, ApiKeysAndPolicyRefuseWithoutCallingAuthlete) {
  ASSERT_NO_FATAL_FAILURE(Start([this](config::GatewayConfig& c) {
    c.callers_file = Path("callers.json");
    c.allowed_service_ids = {kSecondServiceId};
  }));
  // Without a key, with a wrong one, with one that differs by a character.
  for (const std::string& key : {std::string(), std::string("nope"),
                                 std::string(kPortalKey).substr(1) + "x"}) {
    ExpectRefused(Register(*PlainStub(key)), grpc::StatusCode::UNAUTHENTICATED,
                  v1::ERROR_REASON_CALLER_UNAUTHENTICATED);
  }
  auto portal = PlainStub(kPortalKey);
  v1::RegisterClientResponse registered;
  ASSERT_TRUE(Register(*portal, R"({"redirect_uris":["https://a.portal.example.com/cb"]})", "",
                       &registered)
                  .ok());
  EXPECT_EQ(env_->emulator().stats().total, 1);

  // Outside portal's policy: an RPC, a service, a redirect URI, a grant type.
  v1::DeleteClientRequest del;
  del.set_client_id(registered.client().client_id());
  del.set_registration_access_token(registered.client().registration_access_token());
  v1::DeleteClientResponse deleted;
  ExpectRefused(portal->DeleteClient(Context().get(), del, &deleted),
                grpc::StatusCode::PERMISSION_DENIED, v1::ERROR_REASON_CALLER_NOT_PERMITTED);
  ExpectRefused(Register(*portal, R"({"redirect_uris":["https://a.portal.example.com/cb"]})",
                         kSecondServiceId),
                grpc::StatusCode::PERMISSION_DENIED, v1::ERROR_REASON_CALLER_NOT_PERMITTED);
  ExpectRefused(Register(*portal, R"({"redirect_uris":["https://evil.example/cb"]})"),
                grpc::StatusCode::PERMISSION_DENIED, v1::ERROR_REASON_CALLER_NOT_PERMITTED);
  v1::RegisterClientRequest typed;
  typed.mutable_metadata()->add_redirect_uris("https://a.portal.example.com/cb");
  typed.mutable_metadata()->add_grant_types("client_credentials");
  v1::RegisterClientResponse response;
  ExpectRefused(portal->RegisterClient(Context().get(), typed, &response),
                grpc::StatusCode::PERMISSION_DENIED, v1::ERROR_REASON_CALLER_NOT_PERMITTED);
  EXPECT_EQ(env_->emulator().stats().total, 1);

  // The burst of 4 went to the four calls allowed to make their RPC, the
  // refused ones included: the limit protects the gateway too.
  ExpectRefused(Register(*portal), grpc::StatusCode::RESOURCE_EXHAUSTED,
                v1::ERROR_REASON_CALLER_RATE_LIMITED);
  EXPECT_EQ(env_->emulator().stats().total, 1);

  // ops may do what portal may not; its limit is its own.
  auto ops = PlainStub(kOpsKey);
  grpc::Status ops_delete = ops->DeleteClient(Context().get(), del, &deleted);
  EXPECT_TRUE(ops_delete.ok()) << ops_delete.error_message();
  EXPECT_EQ(env_->emulator().stats().total, 2);
}

}  // namespace
}  // namespace dcr::testing
