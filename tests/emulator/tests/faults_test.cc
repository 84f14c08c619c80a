// Fault injection: the rule engine, and every fault end to end.
#include "tests/emulator/faults.h"

#include <chrono>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/emulator/tests/test_util.h"

namespace dcr::emulator {
namespace {

using namespace ::dcr::emulator::testing;  // NOLINT: test helpers
using ::nlohmann::json;
using ::testing::HasSubstr;

FaultSpec Spec(const std::string& text) {
  absl::StatusOr<FaultSpec> spec = ParseFaultSpec(text);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : FaultSpec{};
}

// --- Parsing and the rule engine -----------------------------------------

TEST(FaultSpecTest, ParsesAllForms) {
  EXPECT_EQ(Spec(R"({"kind":"latency","latencyMs":5})").rules.size(), 1u);
  EXPECT_EQ(Spec(R"([{"kind":"reset_before"},{"kind":"reset_after"}])").rules.size(), 2u);
  FaultSpec s = Spec(R"({"rules":[{"kind":"http_error","status":502,"body":"x","operation":"get",
                     "count":3,"probability":0.5}]})");
  ASSERT_EQ(s.rules.size(), 1u);
  const FaultRule& r = s.rules[0];
  EXPECT_EQ(r.kind, FaultKind::kHttpError);
  EXPECT_EQ(r.http_status, 502);
  EXPECT_EQ(r.body, "x");
  EXPECT_EQ(r.operation, Operation::kGet);
  EXPECT_EQ(r.count, 3);
  EXPECT_EQ(r.probability, 0.5);
  EXPECT_FALSE(Spec(R"({"kind":"latency","operation":"all"})").rules[0].operation.has_value());
  EXPECT_EQ(Spec(R"({"kind":"internal_server_error","operation":"introspection"})").rules[0].kind,
            FaultKind::kInternalServerError);
  EXPECT_EQ(Spec(R"({"kind":"latency","operation":"introspection"})").rules[0].operation,
            Operation::kIntrospection);
  // Round trip.
  FaultSpec again = Spec(FaultSpecToJson(s));
  EXPECT_EQ(FaultSpecToJson(again), FaultSpecToJson(s));
}

TEST(FaultSpecTest, RejectsBadSpecs) {
  for (const char* bad : {
           "", "nope", "5", R"({"kind":"explode"})", R"({"latencyMs":5})",
           R"({"kind":"latency","latencyMs":-1})", R"({"kind":"latency","latencyMs":"5"})",
           R"({"kind":"latency","operation":"list"})", R"({"kind":"latency","count":0})",
           R"({"kind":"latency","probability":1.5})", R"({"kind":"http_error","status":200})",
           R"({"kind":"slow_body","chunkBytes":0})", R"({"kind":"latency","typo":1})",
           R"({"rules":{}})", R"({"rules":[],"extra":1})", R"([{"kind":"latency"}, 5])"}) {
    EXPECT_FALSE(ParseFaultSpec(bad).ok()) << bad;
  }
}

TEST(FaultInjectorTest, CountsTargetsAndLatencySums) {
  FaultInjector f;
  f.Set(Spec(R"([{"kind":"latency","latencyMs":100},
                 {"kind":"latency","latencyMs":20,"operation":"get"},
                 {"kind":"reset_before","operation":"register","count":2},
                 {"kind":"http_error","count":1}])"));
  FaultDecision d = f.Decide(Operation::kRegister);
  EXPECT_EQ(d.delay_ms, 100);
  ASSERT_TRUE(d.outcome.has_value());
  EXPECT_EQ(d.outcome->kind, FaultKind::kResetBeforeProcessing);
  EXPECT_EQ(d.fired, 2);
  // The http_error rule was not consumed by the first request.
  d = f.Decide(Operation::kGet);
  EXPECT_EQ(d.delay_ms, 120);
  EXPECT_EQ(d.outcome->kind, FaultKind::kHttpError);
  d = f.Decide(Operation::kRegister);
  EXPECT_EQ(d.outcome->kind, FaultKind::kResetBeforeProcessing);
  d = f.Decide(Operation::kRegister);
  EXPECT_FALSE(d.outcome.has_value());
  EXPECT_EQ(f.Get().rules.size(), 2u);  // only the unlimited latency rules remain
  f.Clear();
  EXPECT_EQ(f.Decide(Operation::kDelete).fired, 0);
}

TEST(FaultInjectorTest, ProbabilityAndJitter) {
  FaultInjector f;
  f.Set(Spec(R"([{"kind":"http_error","probability":0}])"));
  for (int i = 0; i < 200; ++i) EXPECT_FALSE(f.Decide(Operation::kGet).outcome.has_value());
  f.Set(Spec(R"([{"kind":"http_error","probability":0.5}])"));
  int fired = 0;
  for (int i = 0; i < 2000; ++i) fired += f.Decide(Operation::kGet).outcome.has_value() ? 1 : 0;
  EXPECT_GT(fired, 800);
  EXPECT_LT(fired, 1200);
  f.Set(Spec(R"([{"kind":"latency","latencyMs":10,"jitterMs":5}])"));
  std::set<int64_t> delays;
  for (int i = 0; i < 200; ++i) {
    int64_t d = f.Decide(Operation::kGet).delay_ms;
    EXPECT_GE(d, 10);
    EXPECT_LE(d, 15);
    delays.insert(d);
  }
  EXPECT_GT(delays.size(), 3u);
}

// --- End to end -----------------------------------------------------------

class FaultsE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto e = Emulator::Start(EmulatorOptions());
    ASSERT_TRUE(e.ok()) << e.status();
    emulator_ = *std::move(e);
  }
  HttpResult RawRegister(long timeout_ms = 10000) {
    return Request("POST", V3Url(*emulator_, Operation::kRegister),
                   {Bearer(kDefaultServiceToken), "Content-Type: application/json"},
                   RegisterParams(MinimalMetadata()).dump(), timeout_ms);
  }
  void Set(const std::string& spec) { emulator_->SetFaults(Spec(spec)); }
  int64_t Clients() const { return emulator_->stats().clients_stored; }
  std::unique_ptr<Emulator> emulator_;
};

TEST_F(FaultsE2ETest, Latency) {
  Set(R"({"kind":"latency","latencyMs":300})");
  HttpResult r = RawRegister();
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(r.seconds, 0.29);
  EXPECT_EQ(ToDcrCall(r).action(), "CREATED");
  Set(R"({"kind":"latency","latencyMs":0,"jitterMs":150})");
  for (int i = 0; i < 3; ++i) {
    r = RawRegister();
    EXPECT_EQ(r.status, 200);
    EXPECT_LT(r.seconds, 1.0);
  }
  EXPECT_EQ(emulator_->stats().faults_injected, 4);
}

TEST_F(FaultsE2ETest, LatencyNeverBlocksAThread) {
  // One server thread, 20 requests each delayed 400 ms: concurrent, not serial.
  EmulatorOptions options;
  options.threads = 1;
  options.faults = Spec(R"({"kind":"latency","latencyMs":400})");
  auto e = Emulator::Start(options);
  ASSERT_TRUE(e.ok());
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&] {
      if (ToDcrCall(Request("POST", V3Url(**e, Operation::kRegister),
                            {Bearer(kDefaultServiceToken)},
                            RegisterParams(MinimalMetadata()).dump()))
              .action() == "CREATED") {
        ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_LT(seconds, 2.0);
}

TEST_F(FaultsE2ETest, HttpErrorWithBody) {
  Set(R"({"kind":"http_error","status":503,"body":"{\"oops\":true}","count":1})");
  HttpResult r = RawRegister();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "{\"oops\":true}");
  EXPECT_EQ(Clients(), 0) << "not processed";
  // Default body: Authlete's own server error; and the rule was used up.
  Set(R"({"kind":"http_error","status":500,"count":1})");
  r = RawRegister();
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.Json()["resultCode"], "A001101");
  EXPECT_EQ(RawRegister().status, 200);
}

TEST_F(FaultsE2ETest, RateLimitWithRetryAfter) {
  Set(R"({"kind":"rate_limit","retryAfterSeconds":7})");
  HttpResult r = RawRegister();
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("Retry-After"), "7");
  EXPECT_EQ(r.Json()["resultCode"], "A001102");
  EXPECT_EQ(Clients(), 0);
}

TEST_F(FaultsE2ETest, ResetBeforeProcessing) {
  Set(R"({"kind":"reset_before","count":1})");
  HttpResult r = RawRegister();
  EXPECT_NE(r.curl_code, CURLE_OK);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(Clients(), 0);
  EXPECT_EQ(emulator_->stats().register_requests, 1) << "seen, not processed";
  EXPECT_EQ(RawRegister().status, 200);
}

TEST_F(FaultsE2ETest, ResetAfterProcessingLeavesAnOrphan) {
  Set(R"({"kind":"reset_after","count":1})");
  HttpResult r = RawRegister();
  EXPECT_NE(r.curl_code, CURLE_OK);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(Clients(), 1) << "the client really was created";
}

TEST_F(FaultsE2ETest, TruncatedBody) {
  Set(R"({"kind":"truncated_body"})");
  HttpResult r = RawRegister();
  EXPECT_EQ(r.curl_code, CURLE_PARTIAL_FILE) << curl_easy_strerror(r.curl_code);
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(r.body.size(), std::stoul(r.Header("Content-Length")));
  EXPECT_EQ(Clients(), 1);
}

TEST_F(FaultsE2ETest, MalformedJson) {
  Set(R"({"kind":"malformed_json"})");
  HttpResult r = RawRegister();
  EXPECT_EQ(r.curl_code, CURLE_OK);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.body.empty());
  EXPECT_TRUE(r.Json().is_discarded()) << r.body;
  EXPECT_EQ(Clients(), 1);
}

TEST_F(FaultsE2ETest, UnknownAction) {
  Set(R"({"kind":"unknown_action","action":"TEAPOT"})");
  DcrCall c = ToDcrCall(RawRegister());
  EXPECT_EQ(c.action(), "TEAPOT");
  EXPECT_EQ(c.result_code(), "A202001");
  EXPECT_TRUE(c.content.is_object());
  Set(R"({"kind":"unknown_action"})");
  EXPECT_EQ(ToDcrCall(RawRegister()).action(), "UNKNOWN_ACTION");
}

TEST_F(FaultsE2ETest, InternalServerErrorIsAnActionAndNothingIsProcessed) {
  Set(R"({"kind":"internal_server_error","operation":"register","count":1})");
  DcrCall c = ToDcrCall(RawRegister());
  EXPECT_EQ(c.http.status, 200);
  EXPECT_EQ(c.action(), "INTERNAL_SERVER_ERROR");
  EXPECT_EQ(c.result_code(), "A202101");
  EXPECT_EQ(c.error(), "server_error");
  EXPECT_EQ(Clients(), 0) << "not processed";
  EXPECT_EQ(emulator_->stats().faults_injected, 1);
  EXPECT_EQ(ToDcrCall(RawRegister()).action(), "CREATED");
  // The management calls answer no action: a 500 refusal.
  Set(R"({"kind":"internal_server_error","operation":"list_clients"})");
  HttpResult list = Request("GET", emulator_->base_url() + "/api/" + kDefaultServiceId +
                                       "/client/get/list",
                            {Bearer(kDefaultServiceToken)}, "");
  EXPECT_EQ(list.status, 500);
  EXPECT_EQ(list.Json().value("resultCode", ""), "A001101");
  EXPECT_FALSE(list.Json().contains("action"));
  EXPECT_EQ(FaultSpecToJson(emulator_->faults()),
            R"({"rules":[{"count":-1,"kind":"internal_server_error","operation":"list_clients",)"
            R"("probability":1.0}]})");
}

TEST_F(FaultsE2ETest, SlowBodyIsCompleteAndKeepsTheConnection) {
  Set(R"({"kind":"slow_body","chunkBytes":200,"chunkDelayMs":40,"count":1})");
  TestClient client;
  auto call = [&] {
    return client.Request("POST", V3Url(*emulator_, Operation::kRegister),
                          {Bearer(kDefaultServiceToken)},
                          RegisterParams(MinimalMetadata()).dump());
  };
  HttpResult r = call();
  EXPECT_EQ(r.curl_code, CURLE_OK);
  DcrCall c = ToDcrCall(r);
  EXPECT_EQ(c.action(), "CREATED");
  size_t chunks = (r.body.size() + 199) / 200;
  EXPECT_GE(r.seconds, 0.04 * static_cast<double>(chunks) * 0.9);
  EXPECT_EQ(call().status, 200);
  EXPECT_EQ(emulator_->stats().connections_accepted, 1);
}

TEST_F(FaultsE2ETest, TargetsOneOperation) {
  Set(R"({"kind":"http_error","status":502,"operation":"get"})");
  DcrCall reg = ToDcrCall(RawRegister());
  ASSERT_EQ(reg.action(), "CREATED");
  EXPECT_EQ(CallV3(*emulator_, Operation::kGet, ManageParams(reg)).http.status, 502);
  EXPECT_EQ(CallV2(*emulator_, Operation::kGet, ManageParams(reg)).http.status, 502);
  json params = ManageParams(reg);
  params["json"] = MinimalMetadata().dump();
  EXPECT_EQ(CallV3(*emulator_, Operation::kUpdate, params).action(), "UPDATED");
  EXPECT_EQ(CallV3(*emulator_, Operation::kDelete, ManageParams(reg)).action(), "DELETED");
}

TEST_F(FaultsE2ETest, NextNRequestsThenNormal) {
  Set(R"({"kind":"http_error","status":500,"count":2})");
  EXPECT_EQ(RawRegister().status, 500);
  EXPECT_EQ(RawRegister().status, 500);
  EXPECT_EQ(RawRegister().status, 200);
  EXPECT_TRUE(emulator_->faults().rules.empty());
}

TEST_F(FaultsE2ETest, ProbabilityZeroNeverFires) {
  Set(R"({"kind":"reset_before","probability":0})");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(RawRegister().status, 200);
  EXPECT_EQ(emulator_->stats().faults_injected, 0);
}

TEST_F(FaultsE2ETest, AdminAndUnknownPathsAreNeverFaulted) {
  Set(R"({"kind":"reset_before"})");
  EXPECT_EQ(Request("GET", emulator_->base_url() + "/emulator/stats", {}, "").status, 200);
  EXPECT_EQ(Request("POST", emulator_->base_url() + "/api/nope", {}, "").status, 404);
  // Set through the admin endpoint, cleared through it.
  EXPECT_EQ(Request("DELETE", emulator_->base_url() + "/emulator/faults", {}, "").status, 200);
  EXPECT_EQ(RawRegister().status, 200);
  EXPECT_EQ(Request("POST", emulator_->base_url() + "/emulator/faults", {},
                    R"({"kind":"rate_limit","operation":"register"})")
                .status,
            200);
  EXPECT_EQ(RawRegister().status, 429);
}

TEST_F(FaultsE2ETest, InitialFaultsFromOptions) {
  EmulatorOptions options;
  options.faults = Spec(R"({"kind":"http_error","status":504,"count":1})");
  auto e = Emulator::Start(options);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Request("POST", V3Url(**e, Operation::kRegister), {Bearer(kDefaultServiceToken)},
                    RegisterParams(MinimalMetadata()).dump())
                .status,
            504);
}

TEST_F(FaultsE2ETest, LatencyCombinesWithAnOutcome) {
  Set(R"([{"kind":"latency","latencyMs":200},{"kind":"reset_after"}])");
  HttpResult r = RawRegister();
  EXPECT_NE(r.curl_code, CURLE_OK);
  EXPECT_GE(r.seconds, 0.19);
  EXPECT_EQ(Clients(), 1);
}

}  // namespace
}  // namespace dcr::emulator
