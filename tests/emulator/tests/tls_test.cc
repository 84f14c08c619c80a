// The emulator over HTTPS: the same server, faults and admin endpoints as over
// HTTP, behind a certificate from the test PKI that curl verifies.

#include <string>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "tests/emulator/tests/test_util.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

namespace dcr::emulator {
namespace {

using namespace dcr::emulator::testing;  // NOLINT: the emulator's test helpers
using dcr::testing::KeyPair;
using dcr::testing::LeafSpec;
using dcr::testing::TempDir;
using dcr::testing::TestPki;
using dcr::testing::WriteFileAtomically;


class EmulatorTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto pki = TestPki::Create("emulator test CA");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_.emplace(*std::move(pki));
    ca_file_ = dir_.path() + "/ca.pem";
    ASSERT_TRUE(WriteFileAtomically(ca_file_, pki_->ca_cert_pem()).ok());
    LeafSpec spec;
    spec.common_name = "authlete-emulator";
    spec.ip_addresses = {"127.0.0.1"};
    ASSERT_NO_FATAL_FAILURE(StartWith(spec));
  }

  // (Re)starts the emulator with a certificate issued for `spec`.
  void StartWith(const LeafSpec& spec) {
    emulator_.reset();
    auto leaf = pki_->Issue(spec);
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    EmulatorOptions options;
    options.tls_cert_file = dir_.path() + "/server.pem";
    options.tls_key_file = dir_.path() + "/server.key";
    ASSERT_TRUE(WriteFileAtomically(options.tls_cert_file, leaf->cert_pem).ok());
    ASSERT_TRUE(WriteFileAtomically(options.tls_key_file, leaf->key_pem).ok());
    auto e = Emulator::Start(options);
    ASSERT_TRUE(e.ok()) << e.status();
    emulator_ = *std::move(e);
  }

  HttpResult Register(TestClient& client) {
    return client.Request("POST", V3Url(*emulator_, Operation::kRegister),
                          {Bearer(kDefaultServiceToken), "Content-Type: application/json"},
                          RegisterParams(MinimalMetadata()).dump());
  }
  HttpResult Register() {
    TestClient client;
    client.set_ca_file(ca_file_);
    return Register(client);
  }
  void Set(const std::string& spec) {
    auto parsed = ParseFaultSpec(spec);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    emulator_->SetFaults(*parsed);
  }
  int64_t Clients() const { return emulator_->stats().clients_stored; }

  TempDir dir_{"emulator_tls"};
  absl::optional<TestPki> pki_;
  std::string ca_file_;
  std::unique_ptr<Emulator> emulator_;
};

TEST_F(EmulatorTlsTest, RegistersOverVerifiedHttpsWithKeepAlive) {
  EXPECT_TRUE(absl::StartsWith(emulator_->base_url(), "https://127.0.0.1:"))
      << emulator_->base_url();
  TestClient client;
  client.set_ca_file(ca_file_);
  HttpResult first = Register(client);
  ASSERT_EQ(first.curl_code, CURLE_OK) << curl_easy_strerror(first.curl_code);
  DcrCall call = ToDcrCall(first);
  EXPECT_EQ(call.action(), "CREATED");
  // The client can be read back, on the same TLS connection.
  DcrCall got = ToDcrCall(client.Request(
      "POST", V3Url(*emulator_, Operation::kGet),
      {Bearer(kDefaultServiceToken), "Content-Type: application/json"},
      ManageParams(call).dump()));
  EXPECT_EQ(got.action(), "OK");
  // Admin endpoints answer over TLS too.
  HttpResult stats = client.Request("GET", emulator_->base_url() + "/emulator/stats", {}, "");
  EXPECT_EQ(stats.status, 200);
  EXPECT_EQ(stats.Json()["register"], 1);

  Stats s = emulator_->stats();
  EXPECT_EQ(s.total, 2);
  EXPECT_EQ(s.register_requests, 1);
  EXPECT_EQ(s.connections_accepted, 1) << "keep-alive over TLS";
  EXPECT_EQ(emulator_->recorded_requests().size(), 2u);
}

TEST_F(EmulatorTlsTest, UntrustedCertificateIsRefusedBeforeAnyRequest) {
  TestClient client;  // the system's CAs: the test CA is not among them
  HttpResult r = Register(client);
  EXPECT_EQ(r.curl_code, CURLE_PEER_FAILED_VERIFICATION) << curl_easy_strerror(r.curl_code);
  EXPECT_EQ(emulator_->stats().total, 0);
  // Plain HTTP to the HTTPS port gets no answer either.
  HttpResult plain = Request("POST",
                             absl::StrCat("http://127.0.0.1:", emulator_->port(),
                                          "/api/", kDefaultServiceId, "/client/registration"),
                             {Bearer(kDefaultServiceToken)}, "{}", 3000);
  EXPECT_NE(plain.curl_code, CURLE_OK);
  EXPECT_EQ(emulator_->stats().total, 0);
  // The emulator still serves a client that trusts it.
  EXPECT_EQ(Register().status, 200);
}

TEST_F(EmulatorTlsTest, NameMismatchIsRefused) {
  LeafSpec spec;
  spec.common_name = "127.0.0.1";  // a CN is not a SAN: curl must ignore it
  spec.dns_names = {"other.example"};
  ASSERT_NO_FATAL_FAILURE(StartWith(spec));
  HttpResult r = Register();
  EXPECT_EQ(r.curl_code, CURLE_PEER_FAILED_VERIFICATION) << curl_easy_strerror(r.curl_code);
  EXPECT_EQ(emulator_->stats().total, 0);
}

// The transport faults, as FaultsE2ETest checks them over HTTP.
TEST_F(EmulatorTlsTest, TruncatedBodyIsShortNotBroken) {
  Set(R"({"kind":"truncated_body"})");
  HttpResult r = Register();
  // close_notify after the partial body: curl sees a clean end, too early.
  EXPECT_EQ(r.curl_code, CURLE_PARTIAL_FILE) << curl_easy_strerror(r.curl_code);
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(r.body.size(), std::stoul(r.Header("Content-Length")));
  EXPECT_EQ(Clients(), 1);
}

TEST_F(EmulatorTlsTest, ResetsBeforeAndAfterProcessing) {
  Set(R"({"kind":"reset_before","count":1})");
  HttpResult r = Register();
  EXPECT_NE(r.curl_code, CURLE_OK);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(Clients(), 0);
  EXPECT_EQ(emulator_->stats().register_requests, 1) << "seen, not processed";

  Set(R"([{"kind":"latency","latencyMs":200},{"kind":"reset_after","count":1}])");
  r = Register();
  EXPECT_NE(r.curl_code, CURLE_OK);
  EXPECT_EQ(r.status, 0);
  EXPECT_GE(r.seconds, 0.19);
  EXPECT_EQ(Clients(), 1) << "the client really was created";
}

TEST_F(EmulatorTlsTest, SlowBodyIsCompleteAndKeepsTheConnection) {
  Set(R"({"kind":"slow_body","chunkBytes":200,"chunkDelayMs":40,"count":1})");
  TestClient client;
  client.set_ca_file(ca_file_);
  HttpResult r = Register(client);
  ASSERT_EQ(r.curl_code, CURLE_OK) << curl_easy_strerror(r.curl_code);
  EXPECT_EQ(ToDcrCall(r).action(), "CREATED");
  size_t chunks = (r.body.size() + 199) / 200;
  EXPECT_GE(r.seconds, 0.04 * static_cast<double>(chunks) * 0.9);
  EXPECT_EQ(Register(client).status, 200);
  EXPECT_EQ(emulator_->stats().connections_accepted, 1);
}

TEST_F(EmulatorTlsTest, TooLargeBodyIsAnswered413) {
  TestClient client;
  client.set_ca_file(ca_file_);
  std::string big(2 << 20, 'x');
  HttpResult r = client.Request("POST", V3Url(*emulator_, Operation::kRegister),
                                {Bearer(kDefaultServiceToken), "Content-Type: application/json"},
                                big);
  EXPECT_EQ(r.status, 413) << curl_easy_strerror(r.curl_code);
  EXPECT_EQ(emulator_->stats().refused, 1);
}

TEST(EmulatorTlsStartTest, RefusesIncompleteOrMismatchedTlsFiles) {
  TempDir dir{"emulator_tls"};
  auto pki = TestPki::Create("CA");
  ASSERT_TRUE(pki.ok()) << pki.status();
  auto a = pki->Issue(LeafSpec{});
  auto b = pki->Issue(LeafSpec{});
  ASSERT_TRUE(a.ok() && b.ok());
  std::string cert = dir.path() + "/a.pem", key_b = dir.path() + "/b.key";
  ASSERT_TRUE(WriteFileAtomically(cert, a->cert_pem).ok());
  ASSERT_TRUE(WriteFileAtomically(key_b, b->key_pem).ok());

  EmulatorOptions options;
  options.tls_cert_file = cert;
  EXPECT_EQ(Emulator::Start(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.tls_key_file = key_b;  // not the certificate's key
  EXPECT_EQ(Emulator::Start(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.tls_key_file = dir.path() + "/missing.key";
  EXPECT_EQ(Emulator::Start(options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dcr::emulator
