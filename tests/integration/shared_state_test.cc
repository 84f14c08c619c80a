// Issue 16 end to end: two real dcr-gateway binaries as replicas sharing a
// real redis-server (started by each test on 127.0.0.1), in front of the
// Authlete emulator. A RegisterClient with a request_id is sent to Authlete
// once, whichever replica a retry reaches and however many duplicates
// arrive at once; its secrets never reach Redis in clear text.
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "dcr/v1/client_registration_service.grpc.pb.h"
#include "proto/api/status_detail.h"
#include "tests/cli/subprocess.h"
#include "tests/emulator/emulator.h"
#include "service/callers/caller_policy.h"
#include "tests/integration/redis_server.h"
#include "tests/testing/free_port.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

ABSL_FLAG(std::string, gateway, "", "path of the dcr-gateway binary");

namespace dcr {
namespace {

using cli_test::Process;
using cli_test::ReadFile;
using cli_test::WriteFile;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRequestId[] = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
// Two callers: "open" without a rate limit, "limited" at kRate calls/s with
// a burst of kRate.
constexpr char kOpenKey[] = "open-key";
constexpr char kLimitedKey[] = "limited-key";
constexpr int kRate = 5;

std::string KeyHash(const std::string& key) {
  const callers::Sha256 digest = callers::HashApiKey(key);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string RandomKey(char seed) {
  // Fixed bytes are enough for a test; only their length matters.
  return absl::Base64Escape(std::string(32, seed));
}

// POST /register to a replica's public endpoint; the HTTP status (0: none).
long PublicPost(int port, const std::string& body) {
  CURL* curl = curl_easy_init();
  const std::string url = absl::StrCat("http://127.0.0.1:", port, "/register");
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                   +[](char*, size_t size, size_t n, void*) { return size * n; });
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return status;
}

struct Replica {
  int public_port = 0;
  std::optional<Process> process;
  std::unique_ptr<v1::ClientRegistrationService::Stub> stub;
  std::string log;
};

class SharedStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string gateway = absl::GetFlag(FLAGS_gateway);
    ASSERT_FALSE(gateway.empty()) << "usage: shared_state_test --gateway=PATH";
    ASSERT_FALSE(dir_.path().empty());
    std::optional<testing::RedisTlsFiles> tls;
    if (tls_) {
      // Redis' certificate from a throwaway CA the gateways are given.
      auto pki = testing::TestPki::Create("shared state test CA");
      ASSERT_TRUE(pki.ok()) << pki.status();
      testing::LeafSpec spec;
      spec.common_name = "redis";
      spec.ip_addresses = {"127.0.0.1"};
      auto leaf = pki->Issue(spec);
      ASSERT_TRUE(leaf.ok()) << leaf.status();
      tls.emplace();
      tls->ca_file = dir_.path() + "/redis-ca.pem";
      tls->cert_file = dir_.path() + "/redis.pem";
      tls->key_file = dir_.path() + "/redis.key";
      WriteFile(tls->ca_file, pki->ca_cert_pem());
      WriteFile(tls->cert_file, leaf->cert_pem);
      WriteFile(tls->key_file, leaf->key_pem);
    }
    absl::StatusOr<std::unique_ptr<testing::RedisServer>> redis =
        testing::RedisServer::Start(dir_.path(), tls);
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    emulator::EmulatorOptions options;
    options.threads = 4;
    absl::StatusOr<std::unique_ptr<emulator::Emulator>> emulator =
        emulator::Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = *std::move(emulator);
    WriteFile(dir_.path() + "/credential", std::string(emulator::kDefaultServiceToken) + "\n");
    WriteFile(dir_.path() + "/keys", absl::StrCat("# test keys\nk1:", RandomKey('a'),
                                                  "\nnames:", RandomKey('n'), "\n"));
    const std::string anything =
        R"("rpcs": ["*"], "service_ids": ["*"], "redirect_uri_patterns": ["*"], )"
        R"("grant_types": ["*"])";
    WriteFile(dir_.path() + "/callers.json",
              absl::StrCat(R"({"callers": [{"name": "open", "api_key_sha256": [")",
                           KeyHash(kOpenKey), "\"], ", anything,
                           R"(}, {"name": "limited", "api_key_sha256": [")",
                           KeyHash(kLimitedKey), "\"], ", anything,
                           R"(, "rate_limit": {"requests_per_second": )", kRate,
                           R"(, "burst": )", kRate, "}}]}"));
    for (int i = 0; i < 2; ++i) ASSERT_NO_FATAL_FAILURE(StartReplica(gateway, i, store_));
  }

  // Set by fixtures before SetUp.
  std::string store_ = "redis";
  bool tls_ = false;  // the gateways reach Redis on its TLS port
  bool public_ = false;  // each replica serves the public endpoint too

  void StartReplica(const std::string& gateway, int i, const std::string& store) {
    Replica& replica = replicas_[i];
    const std::string port_file = absl::StrCat(dir_.path(), "/gateway", i, ".port");
    replica.log = absl::StrCat(dir_.path(), "/gateway", i, ".log");
    std::vector<std::string> args = {
        "--listen=127.0.0.1:0", "--admin_listen=", "--insecure_plaintext",
        "--port_file=" + port_file, "--authlete_base_url=" + emulator_->base_url(),
        absl::StrCat("--authlete_service_id=", emulator::kDefaultServiceId),
        "--authlete_credential_file=" + dir_.path() + "/credential", "--drain_delay=0s",
        "--shutdown_grace=1s", "--state_store=" + store,
        "--callers_file=" + dir_.path() + "/callers.json",
        absl::StrCat("--redis_address=127.0.0.1:", tls_ ? redis_->tls_port() : redis_->port()),
        "--redis_password_file=" + redis_->password_file(),
        "--state_store_keys_file=" + dir_.path() + "/keys"};
    if (public_) {
      replica.public_port = testing::PickFreeLoopbackPort();
      args.push_back(absl::StrCat("--public_registration_listen=127.0.0.1:", replica.public_port));
      // Three requests per address for the whole test, across the fleet.
      args.push_back("--public_registration_burst_per_address=3");
      args.push_back("--public_registration_rate_per_address=0.001");
    }
    if (tls_) {
      args.push_back("--redis_tls");
      args.push_back("--redis_tls_ca_file=" + dir_.path() + "/redis-ca.pem");
    }
    absl::StatusOr<Process> process = Process::Start(gateway, args, {}, replica.log);
    ASSERT_TRUE(process.ok()) << process.status();
    replica.process.emplace(*std::move(process));
    absl::StatusOr<int> port = cli_test::WaitForPortFile(port_file, *replica.process);
    ASSERT_TRUE(port.ok()) << port.status() << ReadFile(replica.log);
    replica.stub = v1::ClientRegistrationService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", *port), grpc::InsecureChannelCredentials()));
    if (store != "redis") return;
    // Connected to Redis: a call that needs it is answered from it.
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (ReadFile(replica.log).find("state store connected") == std::string::npos) {
      ASSERT_LT(absl::Now(), give_up) << ReadFile(replica.log);
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  void TearDown() override {
    for (Replica& replica : replicas_) replica.process.reset();
  }

  static v1::RegisterClientRequest Request(const std::string& request_id = kRequestId) {
    v1::RegisterClientRequest request;
    request.mutable_metadata()->set_client_name("Shared state");
    request.mutable_metadata()->add_redirect_uris("https://app.example.com/cb");
    request.set_request_id(request_id);
    return request;
  }

  grpc::Status Register(int replica, const v1::RegisterClientRequest& request,
                        v1::RegisterClientResponse* response,
                        absl::Duration timeout = absl::Seconds(10),
                        const char* key = kOpenKey) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    context.AddMetadata("authorization", absl::StrCat("Bearer ", key));
    return replicas_[replica].stub->RegisterClient(&context, request, response);
  }

  void SetFault(emulator::FaultKind kind, int64_t latency_ms = 0, int64_t count = -1) {
    emulator::FaultSpec spec;
    emulator::FaultRule rule;
    rule.kind = kind;
    rule.operation = emulator::Operation::kRegister;
    rule.latency_ms = latency_ms;
    rule.count = count;
    spec.rules.push_back(rule);
    emulator_->SetFaults(spec);
  }

  // No secret issued in the test is in Redis as it is now.
  void ExpectNoSecretInRedis(const std::vector<std::string>& secrets) {
    absl::StatusOr<std::vector<testing::RedisServer::KeyDump>> keys = redis_->DumpAll();
    ASSERT_TRUE(keys.ok()) << keys.status();
    EXPECT_FALSE(keys->empty());
    for (const auto& key : *keys) {
      for (const std::string& secret : secrets) {
        ASSERT_FALSE(secret.empty());
        EXPECT_THAT(key.dump, Not(HasSubstr(secret)));
        EXPECT_THAT(key.key, Not(HasSubstr(secret)));
      }
    }
  }

  // Redis' and the replicas' files and logs: removed after they are all stopped.
  testing::TempDir dir_{"shared_state"};
  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<emulator::Emulator> emulator_;
  Replica replicas_[2];
};

TEST_F(SharedStateTest, AReplyLostThroughOneReplicaIsReplayedThroughTheOther) {
  SetFault(emulator::FaultKind::kLatency, 1000, 1);
  absl::StatusOr<std::unique_ptr<testing::RedisMonitor>> monitor =
      testing::RedisMonitor::Start(*redis_, dir_.path());
  ASSERT_TRUE(monitor.ok()) << monitor.status();
  // Through A: the caller gives up (cancels) while Authlete is still at
  // work; A's call to Authlete goes on and creates the client.
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    context.AddMetadata("authorization", absl::StrCat("Bearer ", kOpenKey));
    v1::RegisterClientResponse lost;
    std::thread cancel([&] {
      absl::SleepFor(absl::Milliseconds(300));
      context.TryCancel();
    });
    grpc::Status status = replicas_[0].stub->RegisterClient(&context, Request(), &lost);
    cancel.join();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  }
  // Through B at once: it waits for A's call in flight and shares its reply.
  v1::RegisterClientResponse first;
  grpc::Status status = Register(1, Request(), &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_FALSE(first.client().client_secret().empty());
  // And again later, through either: the same bytes, Authlete not called.
  v1::RegisterClientResponse again;
  ASSERT_TRUE(Register(0, Request(), &again).ok());
  EXPECT_EQ(first.SerializeAsString(), again.SerializeAsString());
  EXPECT_EQ(emulator_->stats().register_requests, 1);
  EXPECT_EQ(emulator_->stats().clients_stored, 1);
  const std::string seen = (*monitor)->Stop();
  EXPECT_THAT(seen, HasSubstr("EVALSHA"));
  for (const std::string& secret :
       {first.client().client_secret(), first.client().registration_access_token()}) {
    EXPECT_THAT(seen, Not(HasSubstr(secret)));
  }
  ExpectNoSecretInRedis(
      {first.client().client_secret(), first.client().registration_access_token()});
  EXPECT_THAT(ReadFile(replicas_[0].log), Not(HasSubstr(first.client().client_secret())));
  EXPECT_THAT(ReadFile(replicas_[1].log), HasSubstr(R"("replayed":true)"));
}

TEST_F(SharedStateTest, FiftyConcurrentDuplicatesOverTwoReplicasMakeOneClient) {
  SetFault(emulator::FaultKind::kLatency, 300);
  constexpr int kCalls = 50;
  absl::Mutex mu;
  std::set<std::string> client_ids;
  std::map<grpc::StatusCode, int> codes;
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      v1::RegisterClientResponse response;
      grpc::Status status = Register(i % 2, Request(), &response);
      absl::MutexLock lock(&mu);
      ++codes[status.error_code()];
      if (status.ok()) client_ids.insert(response.client().client_id());
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(codes[grpc::StatusCode::OK], kCalls);
  EXPECT_EQ(client_ids.size(), 1u);
  EXPECT_EQ(emulator_->stats().register_requests, 1);
  EXPECT_EQ(emulator_->stats().clients_stored, 1);
}

TEST_F(SharedStateTest, AnOutcomeLostByResetAfterIsTheSameAnswerForEveryRetry) {
  SetFault(emulator::FaultKind::kResetAfterProcessing, 0, 1);
  v1::RegisterClientResponse response;
  grpc::Status first = Register(0, Request(), &response);
  EXPECT_EQ(first.error_code(), grpc::StatusCode::UNAVAILABLE) << first.error_message();
  absl::optional<v1::RegistrationError> detail = api::RegistrationErrorOf(first);
  ASSERT_TRUE(detail.has_value());
  EXPECT_TRUE(detail->may_have_been_processed());
  for (int i = 0; i < 4; ++i) {
    grpc::Status again = Register(i % 2, Request(), &response);
    EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    detail = api::RegistrationErrorOf(again);
    ASSERT_TRUE(detail.has_value());
    EXPECT_EQ(detail->reason(), v1::ERROR_REASON_REQUEST_OUTCOME_UNKNOWN);
    EXPECT_TRUE(detail->may_have_been_processed());
    EXPECT_THAT(again.error_message(), HasSubstr("creation time"));
  }
  EXPECT_EQ(emulator_->stats().register_requests, 1);
}

TEST_F(SharedStateTest, RedisStoppedRefusesCallsWithARequestIdAndRecovers) {
  redis_->Kill();
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  // Refused, never sent, while Redis is gone (once both replicas noticed).
  for (int replica = 0; replica < 2; ++replica) {
    for (;;) {
      v1::RegisterClientResponse response;
      grpc::Status status = Register(replica, Request(), &response);
      absl::optional<v1::RegistrationError> detail = api::RegistrationErrorOf(status);
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE && detail.has_value() &&
          detail->reason() == v1::ERROR_REASON_STATE_STORE_UNAVAILABLE) {
        EXPECT_FALSE(detail->may_have_been_processed());
        break;
      }
      ASSERT_LT(absl::Now(), give_up) << status.error_message();
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  EXPECT_EQ(emulator_->stats().register_requests, 0);
  // Without a request_id: as always, no store needed.
  v1::RegisterClientRequest plain = Request("");
  v1::RegisterClientResponse response;
  ASSERT_TRUE(Register(0, plain, &response).ok());
  EXPECT_EQ(emulator_->stats().register_requests, 1);

  ASSERT_TRUE(redis_->Restart().ok());
  const absl::Time back_by = absl::Now() + absl::Seconds(15);
  for (int replica = 0; replica < 2; ++replica) {
    for (;;) {
      grpc::Status status = Register(replica, Request(), &response);
      if (status.ok()) break;
      ASSERT_LT(absl::Now(), back_by) << status.error_message();
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  // The second replica got the first one's reply.
  EXPECT_EQ(emulator_->stats().register_requests, 2);
  for (Replica& replica : replicas_) EXPECT_TRUE(replica.process->Running());
}

// Calls of the limited caller admitted over a run that hammers both
// replicas (plain Registers, no request_id).
class SharedRateLimitTest : public SharedStateTest {
 protected:
  int Admitted(absl::Duration run) {
    std::atomic<int> admitted{0}, limited{0}, other{0};
    const absl::Time end = absl::Now() + run;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        while (absl::Now() < end) {
          v1::RegisterClientResponse response;
          grpc::Status status =
              Register(t % 2, Request(""), &response, absl::Seconds(5), kLimitedKey);
          if (status.ok()) {
            ++admitted;
          } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
            ++limited;
          } else {
            ++other;
          }
          absl::SleepFor(absl::Milliseconds(10));
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(other.load(), 0);
    EXPECT_GT(limited.load(), 0);
    return admitted.load();
  }
};

// The same over TLS: both replicas reach Redis on its TLS port only.
class SharedStateOverTlsTest : public SharedStateTest {
 protected:
  void SetUp() override {
    tls_ = true;
    SharedStateTest::SetUp();
  }
};

TEST_F(SharedStateOverTlsTest, AReplyThroughOneReplicaIsReplayedThroughTheOther) {
  absl::StatusOr<std::unique_ptr<testing::RedisMonitor>> monitor =
      testing::RedisMonitor::Start(*redis_, dir_.path());
  ASSERT_TRUE(monitor.ok()) << monitor.status();
  v1::RegisterClientResponse first;
  grpc::Status status = Register(0, Request(), &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::RegisterClientResponse again;
  status = Register(1, Request(), &again);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(first.SerializeAsString(), again.SerializeAsString());
  EXPECT_EQ(emulator_->stats().register_requests, 1);
  // The records went to this Redis (seen from its plaintext port), sealed.
  EXPECT_THAT((*monitor)->Stop(), HasSubstr("EVALSHA"));
  ExpectNoSecretInRedis(
      {first.client().client_secret(), first.client().registration_access_token()});
  for (const Replica& replica : replicas_) {
    EXPECT_THAT(ReadFile(replica.log), HasSubstr(R"("tls":"on")"));
  }
  EXPECT_THAT(ReadFile(replicas_[1].log), HasSubstr(R"("replayed":true)"));
}

// The public endpoint's per-address limit, in Redis: three requests from
// one address admitted across both replicas, not three on each. (Bodies the
// policy refuses: 400 once admitted, so Authlete is not involved.)
class SharedPublicLimitTest : public SharedStateTest {
 protected:
  void SetUp() override {
    public_ = true;
    SharedStateTest::SetUp();
  }
};

TEST_F(SharedPublicLimitTest, TwoReplicasHoldOneAddressToOneBucket) {
  const std::string refused_body = R"({"redirect_uris":["http://app.example.com/cb"]})";
  // The public port comes up right after the gRPC one.
  for (const Replica& replica : replicas_) {
    const absl::Time give_up = absl::Now() + absl::Seconds(5);
    while (PublicPost(replica.public_port, "{") == 0 && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  // The probes above were admitted too ("{" is a 400 after admission).
  ASSERT_TRUE(redis_->Command({"FLUSHALL"}).ok());
  std::map<long, int> statuses;
  for (int i = 0; i < 10; ++i) ++statuses[PublicPost(replicas_[i % 2].public_port, refused_body)];
  EXPECT_EQ(statuses[400], 3) << "admitted";
  EXPECT_EQ(statuses[429], 7) << "rate limited";
  EXPECT_EQ(emulator_->stats().register_requests, 0);
}

// Rate 5/s, burst 5, a 2 s run: one bucket admits 5 + 5 x 2 = 15 (+-3 for
// the run's edges and scheduling); a bucket per replica about twice that.
constexpr absl::Duration kRun = absl::Seconds(2);

TEST_F(SharedRateLimitTest, TwoReplicasSharingRedisHoldOneCallerToItsRate) {
  const int admitted = Admitted(kRun);
  EXPECT_GE(admitted, 12);
  EXPECT_LE(admitted, 18);
}

class InProcessRateLimitTest : public SharedRateLimitTest {
 protected:
  void SetUp() override {
    store_ = "in_process";
    SharedRateLimitTest::SetUp();
  }
};

TEST_F(InProcessRateLimitTest, TwoReplicasWithTheirOwnStoresAdmitAboutTwiceTheRate) {
  const int admitted = Admitted(kRun);
  EXPECT_GE(admitted, 25);
  EXPECT_LE(admitted, 36);
}

}  // namespace
}  // namespace dcr

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
