// RedisStateStore over TLS to a real redis-server on loopback (its tls-port,
// certificates from a throwaway test PKI): records and buckets shared over
// TLS, a restart survived, and every way the TLS link must refuse to come
// up: an untrusted CA, a certificate for another name, a client certificate
// the server asks for and does not get, plaintext to a TLS port and TLS to a
// plaintext port, bad files at start.
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/types/optional.h"
#include "service/state/redis_state_store.h"
#include "tests/integration/redis_server.h"
#include "tests/testing/sync_state_store.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

namespace dcr::state {
namespace {

using ::testing::HasSubstr;

class RedisTlsStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  std::string Write(const std::string& name, const std::string& contents) {
    const std::string path = dir_.path() + "/" + name;
    EXPECT_TRUE(testing::WriteFileAtomically(path, contents).ok());
    return path;
  }

  // A redis-server with a certificate for 127.0.0.1 and redis.test from
  // `pki_`; `auth_clients`: it asks for a client certificate.
  void StartRedis(bool auth_clients) {
    auto pki = testing::TestPki::Create("redis test CA");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_.emplace(*std::move(pki));
    testing::LeafSpec spec;
    spec.common_name = "redis";
    spec.dns_names = {"redis.test"};
    spec.ip_addresses = {"127.0.0.1"};
    auto leaf = pki_->Issue(spec);
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    ca_file_ = Write("ca.pem", pki_->ca_cert_pem());
    testing::RedisTlsFiles files;
    files.cert_file = Write("redis.pem", leaf->cert_pem);
    files.key_file = Write("redis.key", leaf->key_pem);
    files.ca_file = ca_file_;
    files.auth_clients = auth_clients;
    auto server = testing::RedisServer::Start(dir_.path(), files);
    ASSERT_TRUE(server.ok()) << server.status();
    redis_ = *std::move(server);
    ASSERT_GT(redis_->tls_port(), 0);
  }

  RedisOptions Options() {
    RedisOptions options;
    options.port = redis_->tls_port();
    options.password_file = redis_->password_file();
    options.key_prefix = "tls:";
    options.tls.enabled = true;
    options.tls.ca_file = ca_file_;
    options.connect_timeout = absl::Milliseconds(500);
    options.command_timeout = absl::Milliseconds(500);
    options.initial_backoff = absl::Milliseconds(50);
    options.max_backoff = absl::Milliseconds(200);
    options.on_connection_change = [this](bool up, const std::string& reason) {
      absl::MutexLock lock(&mu_);
      if (!up) reasons_.push_back(reason);
    };
    return options;
  }

  absl::StatusOr<std::unique_ptr<RedisStateStore>> Create(RedisOptions options) {
    absl::StatusOr<RecordCipher> cipher =
        RecordCipher::Parse(absl::StrCat("k1:", absl::Base64Escape(std::string(32, 'a')), "\n",
                                         "names:", absl::Base64Escape(std::string(32, 'n')), "\n"));
    if (!cipher.ok()) return cipher.status();
    auto store = RedisStateStore::Create(std::move(options), *std::move(cipher));
    if (!store.ok()) return store.status();
    return std::move(*store);
  }

  // A store that must never come up: calls fail at once, and the reason it
  // gave contains `expected`. Returns that reason.
  std::string ExpectNeverConnects(RedisOptions options, const std::string& expected) {
    auto store = Create(std::move(options));
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return "";
    EXPECT_FALSE((*store)->WaitForConnection(absl::Seconds(1)));
    EXPECT_EQ(testing::Reserve(**store, "k", "fp").status().code(), absl::StatusCode::kUnavailable);
    EXPECT_FALSE((*store)->Health().connected);
    store->reset();
    absl::MutexLock lock(&mu_);
    EXPECT_FALSE(reasons_.empty());
    if (reasons_.empty()) return "";
    EXPECT_THAT(reasons_.front(), HasSubstr(expected));
    // Told when the reason changes, not at every retry.
    for (std::size_t i = 1; i < reasons_.size(); ++i) EXPECT_NE(reasons_[i], reasons_[i - 1]);
    RecordProperty("reason", reasons_.front());
    return reasons_.front();
  }

  testing::TempDir dir_{"redis-tls"};
  absl::optional<testing::TestPki> pki_;
  std::string ca_file_;
  std::unique_ptr<testing::RedisServer> redis_;
  absl::Mutex mu_;
  std::vector<std::string> reasons_ ABSL_GUARDED_BY(mu_);
};

TEST_F(RedisTlsStateStoreTest, TwoReplicasShareRecordsAndTheBucketOverTlsAndSurviveARestart) {
  StartRedis(/*auth_clients=*/false);
  auto a = Create(Options());
  RedisOptions by_name = Options();
  by_name.tls.server_name = "redis.test";  // dialled by address, verified by name
  auto b = Create(by_name);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->WaitForConnection(absl::Seconds(5)));
  ASSERT_TRUE((*b)->WaitForConnection(absl::Seconds(5)));

  absl::StatusOr<ReserveResult> first = testing::Reserve(**a, "portal/svc/req-1", "fp");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->outcome, ReserveOutcome::kReserved);
  // A record larger than one TLS record (16 KB), so it spans several.
  const std::string record(100000, 'r');
  ASSERT_TRUE(testing::Complete(**a, first->reservation, record).ok());
  absl::StatusOr<ReserveResult> seen = testing::Reserve(**b, "portal/svc/req-1", "fp");
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->outcome, ReserveOutcome::kCompleted);
  EXPECT_EQ(seen->record, record);
  int admitted = 0;
  for (int i = 0; i < 6; ++i) {
    auto d = testing::Acquire(i % 2 == 0 ? **a : **b, "caller", 0.001, 4);
    ASSERT_TRUE(d.ok()) << d.status();
    admitted += d->allowed ? 1 : 0;
  }
  EXPECT_EQ(admitted, 4);  // one bucket for both, in Redis

  // The records are in the server the test can see through its plaintext
  // port: the TLS port was the same Redis.
  absl::StatusOr<std::string> exists =
      redis_->Command({"EXISTS", (*a)->RecordKeyName("portal/svc/req-1")});
  ASSERT_TRUE(exists.ok()) << exists.status();
  EXPECT_EQ(*exists, "1");

  // Killed and started again: the store reconnects (TLS handshake, AUTH,
  // scripts) by itself.
  ASSERT_TRUE(redis_->Restart().ok());
  absl::StatusOr<ReserveResult> after;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  do {
    after = testing::Reserve(**a, "portal/svc/req-2", "fp");
    if (after.ok()) break;
    absl::SleepFor(absl::Milliseconds(20));
  } while (absl::Now() < deadline);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->outcome, ReserveOutcome::kReserved);
}

TEST_F(RedisTlsStateStoreTest, AServerCertificateFromAnotherCaIsRefused) {
  StartRedis(false);
  auto other = testing::TestPki::Create("another CA");
  ASSERT_TRUE(other.ok());
  RedisOptions options = Options();
  options.tls.ca_file = Write("other-ca.pem", other->ca_cert_pem());
  ExpectNeverConnects(options, "certificate verify failed");
}

TEST_F(RedisTlsStateStoreTest, TheSystemsCasDoNotTrustAPrivateCa) {
  StartRedis(false);
  RedisOptions options = Options();
  options.tls.ca_file.clear();
  ExpectNeverConnects(options, "certificate verify failed");
}

TEST_F(RedisTlsStateStoreTest, ACertificateForAnotherNameIsRefused) {
  StartRedis(false);
  RedisOptions options = Options();
  options.tls.server_name = "other.test";
  ExpectNeverConnects(options, "certificate verify failed");
}

TEST_F(RedisTlsStateStoreTest, AServerAskingForAClientCertificateGetsOne) {
  StartRedis(/*auth_clients=*/true);
  {
    // Without one, the server ends the link (TLS 1.3: after the handshake,
    // with an alert the store reports, unless the server's reset came first).
    const std::string reason = ExpectNeverConnects(Options(), "");
    EXPECT_TRUE(absl::StrContains(reason, "certificate required") ||
                absl::StrContains(reason, "Connection reset"))
        << reason;
  }
  testing::LeafSpec spec;
  spec.common_name = "dcr-gateway";
  spec.server = false;
  spec.client = true;
  auto client = pki_->Issue(spec);
  ASSERT_TRUE(client.ok());
  RedisOptions options = Options();
  options.tls.cert_file = Write("client.pem", client->cert_pem);
  options.tls.key_file = Write("client.key", client->key_pem);
  auto store = Create(options);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->WaitForConnection(absl::Seconds(5)));
  EXPECT_EQ(testing::Reserve(**store, "k", "fp")->outcome, ReserveOutcome::kReserved);
}

TEST_F(RedisTlsStateStoreTest, PlaintextToTheTlsPortAndTlsToThePlaintextPortNeverConnect) {
  StartRedis(false);
  RedisOptions plain = Options();
  plain.tls = RedisTlsOptions{};
  // Redis takes the plaintext AUTH for a broken TLS handshake and hangs up.
  const std::string hung_up = ExpectNeverConnects(plain, "");
  EXPECT_TRUE(absl::StrContains(hung_up, "closed by the server") ||
              absl::StrContains(hung_up, "Connection reset"))
      << hung_up;
  {
    absl::MutexLock lock(&mu_);
    reasons_.clear();
  }
  RedisOptions tls = Options();
  tls.port = redis_->port();
  // Redis reads the ClientHello as an inline command: it answers an error
  // (not TLS) if the random bytes hold a newline, else waits for one.
  const std::string reason = ExpectNeverConnects(tls, "");
  EXPECT_TRUE(absl::StrContains(reason, "TLS handshake") ||
              absl::StrContains(reason, "not connected within"))
      << reason;
}

TEST_F(RedisTlsStateStoreTest, BadTlsFilesStopTheStoreAtCreate) {
  StartRedis(false);
  RedisOptions missing_ca = Options();
  missing_ca.tls.ca_file = dir_.path() + "/no-such-ca.pem";
  auto store = Create(missing_ca);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("no-such-ca.pem"));

  RedisOptions half = Options();
  half.tls.cert_file = ca_file_;
  EXPECT_EQ(Create(half).status().code(), absl::StatusCode::kInvalidArgument);

  RedisOptions mismatched = Options();
  testing::LeafSpec a, b;
  a.common_name = "a";
  b.common_name = "b";
  auto leaf = pki_->Issue(a);
  auto other = pki_->Issue(b);
  ASSERT_TRUE(leaf.ok() && other.ok());
  mismatched.tls.cert_file = Write("a.pem", leaf->cert_pem);
  mismatched.tls.key_file = Write("b.key", other->key_pem);
  store = Create(mismatched);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("does not match"));
}

}  // namespace
}  // namespace dcr::state
