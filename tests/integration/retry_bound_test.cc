// One retry story, end to end: dcr::client (its default 3 attempts) calls
// the real gateway (its default 3 attempts to Authlete) while the emulator
// fails every request. Whatever the fault and the RPC, one client call
// causes at most the gateway's 3 Authlete requests (README "Retries: one
// story"), and a Register that may have been processed is sent once only.
#include <string>
#include <tuple>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "client/registration_client.h"
#include "gateway_test_env.h"

namespace dcr::testing {
namespace {

using emulator::FaultKind;
using emulator::FaultRule;
using emulator::FaultSpec;
using emulator::Operation;

constexpr int kGatewayAttempts = 3;  // --upstream_max_attempts' default

struct BoundCase {
  std::string name;
  FaultKind kind;
  // Whether the fault leaves the request unprocessed.
  bool unprocessed;
};

void PrintTo(const BoundCase& c, std::ostream* os) { *os << c.name; }

int64_t RequestsOf(const emulator::Stats& stats, Operation op) {
  switch (op) {
    case Operation::kRegister: return stats.register_requests;
    case Operation::kGet: return stats.get_requests;
    case Operation::kUpdate: return stats.update_requests;
    case Operation::kDelete: return stats.delete_requests;
    default: return stats.management_requests;
  }
  return 0;
}

class RetryBoundTest : public ::testing::TestWithParam<std::tuple<BoundCase, Operation>> {
 protected:
  void SetUp() override {
    auto env = GatewayTestEnv::Start();
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
    auto channel = client::MakeChannel(absl::StrCat("127.0.0.1:", env_->gateway().port()));
    ASSERT_TRUE(channel.ok()) << channel.status();
    client::ConnectionOptions options;  // the defaults: 3 attempts, 10 s
    options.initial_backoff = absl::Milliseconds(5);
    client_.emplace(client::MakeGrpcRegistrationConnection(*channel, options));
  }

  absl::Status Call(Operation op, const v1::ClientInformation& client) {
    v1::ClientMetadata metadata;
    metadata.add_redirect_uris("https://app.example.com/cb");
    switch (op) {
      case Operation::kRegister: return client_->RegisterClient(metadata).status();
      case Operation::kGet:
        return client_->GetClient(client.client_id(), client.registration_access_token()).status();
      case Operation::kUpdate:
        return client_
            ->UpdateClient(client.client_id(), client.registration_access_token(), metadata)
            .status();
      case Operation::kDelete:
        return client_->DeleteClient(client.client_id(), client.registration_access_token())
            .status();
      default:
        break;
    }
    return absl::InternalError("unknown operation");
  }

  std::unique_ptr<GatewayTestEnv> env_;
  absl::optional<client::RegistrationClient> client_;
};

TEST_P(RetryBoundTest, OneClientCallCausesAtMostTheGatewaysAttempts) {
  const auto& [fault, operation] = GetParam();
  v1::ClientMetadata metadata;
  metadata.add_redirect_uris("https://app.example.com/cb");
  absl::StatusOr<v1::RegisterClientResponse> registered = client_->RegisterClient(metadata);
  ASSERT_TRUE(registered.ok()) << registered.status();
  FaultRule rule;
  rule.kind = fault.kind;
  rule.operation = operation;
  rule.count = -1;  // every request fails
  env_->emulator().SetFaults(FaultSpec{{rule}});
  const emulator::Stats before = env_->emulator().stats();

  EXPECT_FALSE(Call(operation, registered->client()).ok());

  const emulator::Stats after = env_->emulator().stats();
  const int64_t requests = RequestsOf(after, operation) - RequestsOf(before, operation);
  EXPECT_GE(requests, 1);
  EXPECT_LE(requests, kGatewayAttempts);
  if (operation == Operation::kRegister && !fault.unprocessed) {
    // May have been processed: never sent again, by either side.
    EXPECT_EQ(requests, 1);
  }
}

INSTANTIATE_TEST_SUITE_P(
    FaultsTimesRpcs, RetryBoundTest,
    ::testing::Combine(
        ::testing::Values(BoundCase{"http_503", FaultKind::kHttpError, false},
                          BoundCase{"rate_limit", FaultKind::kRateLimit, true},
                          BoundCase{"reset_before", FaultKind::kResetBeforeProcessing, true},
                          BoundCase{"reset_after", FaultKind::kResetAfterProcessing, false},
                          BoundCase{"malformed_json", FaultKind::kMalformedJson, false}),
        ::testing::Values(Operation::kRegister, Operation::kGet, Operation::kUpdate,
                          Operation::kDelete)),
    [](const auto& info) {
      return std::get<0>(info.param).name + "_" +
             std::string(emulator::OperationName(std::get<1>(info.param)));
    });

}  // namespace
}  // namespace dcr::testing
