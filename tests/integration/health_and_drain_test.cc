// grpc.health.v1 and graceful shutdown: NOT_SERVING first, in-flight calls
// finish within the grace period, and shutdown is bounded even when Authlete
// never answers.
#include <gtest/gtest.h>

#include <thread>

#include "gateway_test_env.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace dcr::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

TEST(HealthTest, CheckKnowsTheServerAndTheService) {
  auto env = GatewayTestEnv::Start();
  ASSERT_TRUE(env.ok()) << env.status();
  auto health = Health::NewStub((*env)->channel());
  for (const char* service : {"", "dcr.v1.ClientRegistrationService"}) {
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status status = health->Check(Context().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING) << service;
  }
  HealthCheckRequest unknown;
  unknown.set_service("no.such.Service");
  HealthCheckResponse response;
  EXPECT_EQ(health->Check(Context().get(), unknown, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(HealthTest, WatchSeesNotServingAndEndsOnShutdown) {
  auto env = GatewayTestEnv::Start();
  ASSERT_TRUE(env.ok()) << env.status();
  auto health = Health::NewStub((*env)->channel());
  auto context = Context(absl::Seconds(10));
  auto reader = health->Watch(context.get(), HealthCheckRequest());
  HealthCheckResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  std::thread stopper([&] { (*env)->gateway().Shutdown(absl::Seconds(2)); });
  std::vector<HealthCheckResponse::ServingStatus> seen;
  while (reader->Read(&response)) seen.push_back(response.status());
  EXPECT_TRUE(reader->Finish().ok());
  stopper.join();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), HealthCheckResponse::NOT_SERVING);
}

v1::RegisterClientRequest SimpleRegistration() {
  v1::RegisterClientRequest request;
  request.set_metadata_json(R"({"redirect_uris":["https://app.example.com/cb"]})");
  return request;
}

// Starts a registration on another thread and returns once the emulator has
// received it (bounded: 1 s).
std::thread RegisterInBackground(GatewayTestEnv& env, grpc::Status* status) {
  std::thread caller([&env, status] {
    v1::RegisterClientResponse response;
    *status = env.stub().RegisterClient(Context().get(), SimpleRegistration(), &response);
  });
  for (int i = 0; i < 200 && env.emulator().stats().register_requests == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  return caller;
}

TEST(DrainTest, InFlightCallsFinishWithinTheGracePeriod) {
  auto env = GatewayTestEnv::Start();
  ASSERT_TRUE(env.ok()) << env.status();
  emulator::FaultRule slow;
  slow.kind = emulator::FaultKind::kLatency;
  slow.latency_ms = 500;
  (*env)->emulator().SetFaults(emulator::FaultSpec{{slow}});

  grpc::Status in_flight;
  std::thread caller = RegisterInBackground(**env, &in_flight);
  const absl::Time start = absl::Now();
  (*env)->gateway().Shutdown(absl::Seconds(5));
  caller.join();
  EXPECT_TRUE(in_flight.ok()) << in_flight.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));

  // No new calls after shutdown.
  v1::RegisterClientResponse response;
  grpc::Status after = (*env)->stub().RegisterClient(Context(absl::Seconds(2)).get(),
                                                     SimpleRegistration(), &response);
  EXPECT_EQ(after.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(DrainTest, ShutdownIsBoundedWhenAuthleteNeverAnswers) {
  auto env = GatewayTestEnv::Start();
  ASSERT_TRUE(env.ok()) << env.status();
  emulator::FaultRule stuck;
  stuck.kind = emulator::FaultKind::kLatency;
  stuck.latency_ms = 4000;  // Below the gateway's 5 s upstream maximum.
  (*env)->emulator().SetFaults(emulator::FaultSpec{{stuck}});

  grpc::Status in_flight;
  std::thread caller = RegisterInBackground(**env, &in_flight);
  const absl::Time start = absl::Now();
  (*env)->gateway().Shutdown(absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - start;
  caller.join();
  EXPECT_LT(took, absl::Seconds(2));
  // Cancelled by the deadline of the server or failed by the gateway: either
  // way the caller is released promptly with a retryable code, not left hanging.
  EXPECT_TRUE(in_flight.error_code() == grpc::StatusCode::UNAVAILABLE ||
              in_flight.error_code() == grpc::StatusCode::CANCELLED)
      << in_flight.error_code() << " " << in_flight.error_message();
}

}  // namespace
}  // namespace dcr::testing
