// The admin port after real traffic: the counters and histograms say what
// happened, `promtool check metrics` (Debian's prometheus package) accepts
// the page, and untrusted requests to the port get proper refusals.
#include <curl/curl.h>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gateway_test_env.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace dcr::testing {
namespace {

using ::testing::HasSubstr;

struct HttpAnswer {
  long status = 0;
  std::string body;
};

HttpAnswer Fetch(int port, const std::string& path, const char* method = "GET") {
  HttpAnswer answer;
  CURL* easy = curl_easy_init();
  const std::string url = absl::StrCat("http://127.0.0.1:", port, path);
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                   +[](char* data, std::size_t size, std::size_t n, void* out) {
                     static_cast<std::string*>(out)->append(data, size * n);
                     return size * n;
                   });
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &answer.body);
  if (curl_easy_perform(easy) == CURLE_OK) {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &answer.status);
  }
  curl_easy_cleanup(easy);
  return answer;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = GatewayTestEnv::Start(
        TweakGateway([](config::GatewayConfig& c) { c.admin_listen_address = "127.0.0.1:0"; }));
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
    ASSERT_GT(env_->gateway().admin_port(), 0);
  }
  std::unique_ptr<GatewayTestEnv> env_;
};

TEST_F(MetricsTest, CountsCallsAndPassesPromtool) {
  auto& stub = env_->stub();
  v1::RegisterClientRequest request;
  request.set_metadata_json(R"({"redirect_uris":["https://app.example.com/cb"]})");
  v1::RegisterClientResponse registered;
  ASSERT_TRUE(stub.RegisterClient(Context().get(), request, &registered).ok());
  v1::GetClientRequest get;
  get.set_client_id(registered.client().client_id());
  get.set_registration_access_token("wrong");
  v1::GetClientResponse got;
  EXPECT_EQ(stub.GetClient(Context().get(), get, &got).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  get.set_client_id("");  // refused by the gateway: Authlete is not called
  EXPECT_EQ(stub.GetClient(Context().get(), get, &got).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  const HttpAnswer page = Fetch(env_->gateway().admin_port(), "/metrics");
  ASSERT_EQ(page.status, 200);
  const std::string& m = page.body;
  EXPECT_THAT(m, HasSubstr("dcr_gateway_rpc_calls_total{rpc=\"RegisterClient\",code=\"OK\","
                           "action=\"ACTION_CREATED\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("dcr_gateway_rpc_calls_total{rpc=\"GetClient\",code=\"UNAUTHENTICATED\","
                           "action=\"ACTION_UNAUTHORIZED\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("dcr_gateway_rpc_calls_total{rpc=\"GetClient\",code=\"INVALID_ARGUMENT\","
                           "action=\"ACTION_UNSPECIFIED\"} 1\n"));
  // Two Gets reached Authlete's side of the histogram only once.
  EXPECT_THAT(m, HasSubstr("dcr_gateway_rpc_duration_seconds_count{rpc=\"GetClient\"} 2\n"));
  EXPECT_THAT(m, HasSubstr("dcr_gateway_upstream_duration_seconds_count{rpc=\"GetClient\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("dcr_gateway_upstream_requests_total{rpc=\"RegisterClient\",outcome=\"ok\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("dcr_gateway_rpc_duration_seconds_bucket{rpc=\"RegisterClient\",le=\"+Inf\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("dcr_gateway_upstream_in_flight 0\n"));
  EXPECT_THAT(m, HasSubstr("dcr_gateway_rpc_in_flight{rpc=\"GetClient\"} 0\n"));
  EXPECT_THAT(m, HasSubstr("\nprocess_resident_memory_bytes "));
  EXPECT_THAT(m, HasSubstr("\nprocess_cpu_seconds_total "));
  // Never a secret, whatever the traffic.
  EXPECT_THAT(m, ::testing::Not(HasSubstr(registered.client().registration_access_token())));
  EXPECT_THAT(m, ::testing::Not(HasSubstr("emulator-service-token")));

  // promtool (Debian's prometheus package, from deploy/local/install-deps.sh):
  // missing, it fails this test rather than skip it.
  const std::string file = ::testing::TempDir() + "/metrics.txt";
  std::ofstream(file) << m;
  const std::string command = "promtool check metrics < " + file + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  const int status = pclose(pipe);
  EXPECT_EQ(status, 0) << "promtool check metrics: " << output;
}

TEST_F(MetricsTest, AdminPortRefusesWhatItDoesNotServe) {
  const int port = env_->gateway().admin_port();
  EXPECT_EQ(Fetch(port, "/healthz").status, 200);
  EXPECT_EQ(Fetch(port, "/readyz").status, 200);
  EXPECT_EQ(Fetch(port, "/nothing").status, 404);
  EXPECT_EQ(Fetch(port, "/metrics", "POST").status, 405);
  // Garbage and an oversized request: refused or dropped, and the port
  // keeps serving.
  for (const std::string& raw : {std::string("\x01\x02 garbage\r\n\r\n"),
                                 std::string("GET /metrics HTTP/1.1\r\nX: ") +
                                     std::string(20000, 'a') + "\r\n\r\n"}) {
    CURL* easy = curl_easy_init();
    const std::string url = absl::StrCat("http://127.0.0.1:", port);
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
    ASSERT_EQ(curl_easy_perform(easy), CURLE_OK);
    std::size_t sent = 0;
    curl_easy_send(easy, raw.data(), raw.size(), &sent);
    curl_easy_cleanup(easy);
  }
  EXPECT_EQ(Fetch(port, "/metrics").status, 200);
}

}  // namespace
}  // namespace dcr::testing

namespace dcr::testing {
namespace {

// SIGTERM's first step: for the drain delay the gateway says it is not
// ready (gRPC health and /readyz, for probes that cannot speak gRPC over
// TLS) while it still serves calls; then it stops.
TEST(DrainDelayTest, NotReadyButStillServingDuringTheDrainDelay) {
  auto env = GatewayTestEnv::Start(TweakGateway([](config::GatewayConfig& c) {
    c.admin_listen_address = "127.0.0.1:0";
    c.drain_delay = absl::Seconds(2);
  }));
  ASSERT_TRUE(env.ok()) << env.status();
  const int admin = (*env)->gateway().admin_port();
  ASSERT_EQ(Fetch(admin, "/readyz").status, 200);
  std::thread shutdown([&] { (*env)->gateway().Shutdown(absl::Seconds(1)); });
  // Bounded wait for the drain to begin.
  HttpAnswer ready;
  for (int i = 0; i < 100; ++i) {
    ready = Fetch(admin, "/readyz");
    if (ready.status == 503) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, "draining\n");
  auto health = grpc::health::v1::Health::NewStub((*env)->channel());
  grpc::health::v1::HealthCheckRequest check;
  check.set_service("dcr.v1.ClientRegistrationService");
  grpc::health::v1::HealthCheckResponse answer;
  ASSERT_TRUE(health->Check(Context().get(), check, &answer).ok());
  EXPECT_EQ(answer.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  v1::RegisterClientRequest request;
  request.set_metadata_json(R"({"redirect_uris":["https://app.example.com/cb"]})");
  v1::RegisterClientResponse response;
  grpc::Status served = (*env)->stub().RegisterClient(Context().get(), request, &response);
  EXPECT_TRUE(served.ok()) << served.error_message();
  shutdown.join();
}

}  // namespace
}  // namespace dcr::testing
