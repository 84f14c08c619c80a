// A full run of the real dcr-gateway binary, its stdout and stderr captured:
// every RPC, successes and every kind of failure (Authlete faults, refused
// callers, bad tokens), and a SIGTERM drain. Then every secret issued or
// presented during the run is searched for in every log line and in the
// metrics page, and must not be there: client secrets, registration access
// tokens, the Authlete credential, callers' API keys.
//
// Usage: secrets_in_logs_test --gateway=PATH (CTest passes it).
#include <signal.h>

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/channel.h"
#include "nlohmann/json.hpp"
#include "dcr/v1/client_registration_service.grpc.pb.h"
#include "service/callers/caller_policy.h"
#include "tests/cli/subprocess.h"
#include "tests/emulator/emulator.h"
#include "tests/testing/temp_dir.h"

ABSL_FLAG(std::string, gateway, "", "path of the dcr-gateway binary");

namespace dcr::testing {
namespace {

using cli_test::Process;
using cli_test::ReadFile;
using cli_test::WriteFile;

constexpr char kCredential[] = "emulator-service-token";
constexpr char kApiKey[] = "caller-api-key-3c0ffee5d1e7";
constexpr char kWrongApiKey[] = "caller-api-key-3c0ffee5d1e8";
// The public registration endpoint's initial access token.
constexpr char kInitialAccessToken[] = "initial-access-token-9a7b6c5d";

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return context;
}

// A minimal HTTP GET on 127.0.0.1, for the admin port's /metrics.
std::string HttpGet(int port, const std::string& path) {
  cli_test::RunResult r = cli_test::Run(
      "/usr/bin/curl", {"-s", "--max-time", "5", absl::StrCat("http://127.0.0.1:", port, path)});
  return r.out;
}

TEST(SecretsInLogsTest, NoSecretOfAFullRunAppearsInAnyLogLine) {
  const std::string gateway_path = absl::GetFlag(FLAGS_gateway);
  ASSERT_FALSE(gateway_path.empty()) << "usage: secrets_in_logs_test --gateway=PATH";
  // Declared before the emulator and the gateway: removed after both stop.
  const TempDir temp("secrets_in_logs");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();

  emulator::EmulatorOptions emulator_options;
  auto emulator = emulator::Emulator::Start(emulator_options);
  ASSERT_TRUE(emulator.ok()) << emulator.status();

  WriteFile(dir + "/credential", std::string(kCredential) + "\n");
  WriteFile(dir + "/callers.json",
            absl::StrCat(R"({"callers": [{"name": "portal", "api_key_sha256": [")",
                         callers::HashApiKeyHex(kApiKey), R"("], "rpcs": ["*", "ListClients",
                         "GetClientRecord", "RotateClientSecret", "SetClientLocked"],
                         "service_ids": ["*"],
                         "redirect_uri_patterns": ["https://*.example.com/cb"],
                         "grant_types": ["*"]}]})"));
  WriteFile(dir + "/iat.json",
            absl::StrCat(R"({"initial_access_tokens": [{"name": "partner", "token_sha256": ")",
                         callers::HashApiKeyHex(kInitialAccessToken),
                         R"(", "expires_at": "2099-01-01T00:00:00Z", "max_uses": 100}]})"));
  auto gateway = Process::Start(
      gateway_path,
      {"--listen=127.0.0.1:0", "--admin_listen=127.0.0.1:0", "--insecure_plaintext",
       "--public_registration_listen=127.0.0.1:0",
       "--public_registration_access=initial_access_token",
       "--public_registration_burst_per_address=100",
       "--public_registration_initial_access_tokens_file=" + dir + "/iat.json",
       "--port_file=" + dir + "/gateway.port", "--callers_file=" + dir + "/callers.json",
       "--authlete_base_url=" + (*emulator)->base_url(),
       absl::StrCat("--authlete_service_id=", emulator::kDefaultServiceId),
       "--authlete_credential_file=" + dir + "/credential", "--log_requests", "--audit_reads",
       "--upstream_initial_backoff=10ms", "--drain_delay=100ms", "--shutdown_grace=2s"},
      {}, dir + "/gateway.log");
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  auto port = cli_test::WaitForPortFile(dir + "/gateway.port", *gateway);
  ASSERT_TRUE(port.ok()) << port.status() << ReadFile(dir + "/gateway.log");

  std::vector<std::string> secrets = {kCredential, kApiKey, kWrongApiKey, kInitialAccessToken};
  auto stub_with = [&](const std::string& key) {
    client::ChannelOptions options;
    options.api_key = key;
    options.health_check = false;
    auto channel = client::MakeChannel(absl::StrCat("127.0.0.1:", *port), options);
    EXPECT_TRUE(channel.ok());
    return v1::ClientRegistrationService::NewStub(*channel);
  };
  auto stub = stub_with(kApiKey);
  std::vector<std::string> error_messages;
  int mutations = 0;

  for (int i = 0; i < 8; ++i) {
    // Faults on some rounds: the failures are logged too.
    emulator::FaultSpec faults;
    if (i % 4 == 1) {
      emulator::FaultRule rule;
      rule.kind = i == 1 ? emulator::FaultKind::kMalformedJson : emulator::FaultKind::kHttpError;
      rule.count = 1;
      faults.rules.push_back(rule);
    }
    (*emulator)->SetFaults(faults);

    v1::RegisterClientRequest reg;
    if (i % 2 == 0) {
      reg.set_metadata_json(absl::StrCat(
          R"({"redirect_uris":["https://app)", i,
          R"(.example.com/cb"],"token_endpoint_auth_method":"client_secret_basic"})"));
    } else {
      reg.mutable_metadata()->add_redirect_uris(absl::StrCat("https://typed", i, ".example.com/cb"));
      reg.mutable_metadata()->set_client_name("typed client");
    }
    v1::RegisterClientResponse registered;
    grpc::Status status = stub->RegisterClient(Context().get(), reg, &registered);
    ++mutations;
    if (!status.ok()) {
      error_messages.push_back(status.error_message());
      continue;
    }
    const v1::ClientInformation& client = registered.client();
    ASSERT_FALSE(client.registration_access_token().empty());
    secrets.push_back(client.registration_access_token());
    if (!client.client_secret().empty()) secrets.push_back(client.client_secret());

    v1::GetClientRequest get;
    get.set_client_id(client.client_id());
    get.set_registration_access_token(client.registration_access_token());
    v1::GetClientResponse got;
    status = stub->GetClient(Context().get(), get, &got);
    if (!status.ok()) error_messages.push_back(status.error_message());

    // A wrong token: Authlete refuses it, and it is a secret too.
    const std::string wrong_token = absl::StrCat("wrong-token-", i, "-a9b8c7d6e5f4");
    secrets.push_back(wrong_token);
    get.set_registration_access_token(wrong_token);
    status = stub->GetClient(Context().get(), get, &got);
    EXPECT_FALSE(status.ok());
    error_messages.push_back(status.error_message());

    // RFC 7592 updates carry the client secret back.
    v1::UpdateClientRequest update;
    update.set_client_id(client.client_id());
    update.set_registration_access_token(client.registration_access_token());
    update.set_metadata_json(absl::StrCat(R"({"redirect_uris":["https://upd.example.com/cb"],)",
                                          R"("client_id":")", client.client_id(),
                                          R"(","client_secret":")", client.client_secret(), R"("})"));
    v1::UpdateClientResponse updated;
    status = stub->UpdateClient(Context().get(), update, &updated);
    ++mutations;
    if (!status.ok()) error_messages.push_back(status.error_message());
    if (status.ok() && !updated.client().client_secret().empty()) {
      secrets.push_back(updated.client().client_secret());
    }
    if (status.ok()) secrets.push_back(updated.client().registration_access_token());

    // The administrative RPCs: a refresh, a secret set by the caller, the
    // record, the listing, a lock and an unlock. Every secret of the rotation
    // (the old, the new, the one set) must stay out of logs and errors.
    {
      v1::RotateClientSecretRequest rotate;
      rotate.set_client_id(client.client_id());
      v1::RotateClientSecretResponse rotated;
      status = stub->RotateClientSecret(Context().get(), rotate, &rotated);
      ++mutations;
      if (status.ok()) {
        EXPECT_FALSE(rotated.new_client_secret().empty());
        secrets.push_back(rotated.new_client_secret());
      } else {
        error_messages.push_back(status.error_message());
      }
      const std::string chosen = absl::StrCat("chosen-secret-", i, "-5e4d3c2b1a09");
      secrets.push_back(chosen);
      rotate.set_new_client_secret(chosen);
      status = stub->RotateClientSecret(Context().get(), rotate, &rotated);
      ++mutations;
      if (!status.ok()) error_messages.push_back(status.error_message());
      v1::GetClientRecordRequest record;
      record.set_client_id(client.client_id());
      v1::GetClientRecordResponse got_record;
      status = stub->GetClientRecord(Context().get(), record, &got_record);
      if (status.ok()) {
        EXPECT_EQ(got_record.client_secret(), chosen);  // the administrative read's secret
        secrets.push_back(got_record.client_secret());
      } else {
        error_messages.push_back(status.error_message());
      }
      v1::ListClientsRequest list;
      v1::ListClientsResponse listed;
      status = stub->ListClients(Context().get(), list, &listed);
      if (!status.ok()) error_messages.push_back(status.error_message());
      for (bool locked : {true, false}) {
        v1::SetClientLockedRequest lock;
        lock.set_client_id(client.client_id());
        lock.set_locked(locked);
        v1::SetClientLockedResponse lock_response;
        status = stub->SetClientLocked(Context().get(), lock, &lock_response);
        ++mutations;
        if (!status.ok()) error_messages.push_back(status.error_message());
      }
    }

    v1::DeleteClientRequest del;
    del.set_client_id(client.client_id());
    del.set_registration_access_token(status.ok() ? updated.client().registration_access_token()
                                                  : client.registration_access_token());
    v1::DeleteClientResponse deleted;
    status = stub->DeleteClient(Context().get(), del, &deleted);
    ++mutations;
    if (!status.ok()) error_messages.push_back(status.error_message());
  }
  (*emulator)->ClearFaults();

  // Refused callers: a wrong key, no key, a policy refusal.
  v1::RegisterClientRequest reg;
  reg.set_metadata_json(R"({"redirect_uris":["https://evil.test/cb"]})");
  v1::RegisterClientResponse registered;
  for (const std::string& key : {std::string(kWrongApiKey), std::string()}) {
    grpc::Status refused = stub_with(key)->RegisterClient(Context().get(), reg, &registered);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    error_messages.push_back(refused.error_message());
  }
  grpc::Status denied = stub->RegisterClient(Context().get(), reg, &registered);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  error_messages.push_back(denied.error_message());

  const std::string log_so_far = ReadFile(dir + "/gateway.log");
  int admin_port = 0, public_port = 0;
  for (absl::string_view line : absl::StrSplit(log_so_far, '\n')) {
    const std::size_t at = line.find("\"admin_port\":");
    if (at != absl::string_view::npos) {
      absl::string_view rest = line.substr(at + 13);
      ASSERT_TRUE(absl::SimpleAtoi(rest.substr(0, rest.find_first_of(",}")), &admin_port));
    }
    if (absl::StrContains(line, "\"msg\":\"public registration endpoint\"")) {
      const std::size_t p = line.find("\"port\":");
      ASSERT_NE(p, absl::string_view::npos);
      absl::string_view rest = line.substr(p + 7);
      ASSERT_TRUE(absl::SimpleAtoi(rest.substr(0, rest.find_first_of(",}")), &public_port));
    }
  }
  ASSERT_NE(admin_port, 0) << log_so_far;
  ASSERT_NE(public_port, 0) << log_so_far;

  // The public endpoint: an initial access token, the registration access
  // tokens and client secrets it hands out, and refused tokens.
  const std::string base = absl::StrCat("http://127.0.0.1:", public_port, "/register");
  auto curl = [](std::vector<std::string> args) {
    args.insert(args.begin(), {"-s", "--max-time", "5"});
    return cli_test::Run("/usr/bin/curl", args).out;
  };
  for (int i = 0; i < 3; ++i) {
    const std::string created = curl(
        {"-X", "POST", base, "-H", "Content-Type: application/json", "-H",
         absl::StrCat("Authorization: Bearer ", kInitialAccessToken), "-d",
         absl::StrCat(R"({"redirect_uris":["https://public)", i, R"(.example.com/cb"]})")});
    const nlohmann::json client = nlohmann::json::parse(created, nullptr, false);
    ASSERT_TRUE(client.is_object() && client.contains("registration_access_token")) << created;
    const std::string id = client["client_id"];
    const std::string token = client["registration_access_token"];
    secrets.push_back(token);
    if (client.contains("client_secret")) secrets.push_back(client["client_secret"]);
    const std::string bearer = "Authorization: Bearer " + token;
    curl({base + "/" + id, "-H", bearer});
    curl({"-X", "PUT", base + "/" + id, "-H", bearer, "-H", "Content-Type: application/json", "-d",
          absl::StrCat(R"({"client_id":")", id, R"(","redirect_uris":["https://public.example.com/cb"]})")});
    curl({"-X", "DELETE", base + "/" + id, "-H", bearer});
    curl({base + "/" + id, "-H", bearer});  // refused: deleted
    mutations += 3;
  }
  const std::string wrong_iat = "initial-access-token-wrong-1234";
  secrets.push_back(wrong_iat);
  curl({"-X", "POST", base, "-H", "Content-Type: application/json", "-H",
        "Authorization: Bearer " + wrong_iat, "-d", "{}"});

  // The metrics page, then a SIGTERM drain.
  const std::string metrics = HttpGet(admin_port, "/metrics");
  ASSERT_THAT(metrics, ::testing::HasSubstr("dcr_gateway_rpc"));
  ASSERT_EQ(kill(gateway->pid(), SIGTERM), 0);
  for (int i = 0; i < 100 && gateway->Running(); ++i) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(gateway->Running());

  const std::string log = ReadFile(dir + "/gateway.log") + ReadFile(dir + "/gateway.log.err");
  // Not vacuous: the run was logged, one audit line per mutation at least.
  int audit_lines = 0;
  std::vector<absl::string_view> lines = absl::StrSplit(log, '\n');
  for (absl::string_view line : lines) audit_lines += absl::StrContains(line, "\"msg\":\"audit\"");
  EXPECT_GE(audit_lines, mutations);
  EXPECT_THAT(log, ::testing::HasSubstr("\"msg\":\"stopped\""));
  ASSERT_GT(secrets.size(), 20u);
  for (const std::string& secret : secrets) {
    ASSERT_GE(secret.size(), 8u);
    for (absl::string_view line : lines) {
      EXPECT_FALSE(absl::StrContains(line, secret)) << "secret in log line: " << line;
    }
    EXPECT_FALSE(absl::StrContains(metrics, secret)) << "secret in /metrics";
    for (const std::string& message : error_messages) {
      EXPECT_FALSE(absl::StrContains(message, secret)) << "secret in error: " << message;
    }
  }
  RecordProperty("log_lines", static_cast<int>(lines.size()));
  RecordProperty("secrets_checked", static_cast<int>(secrets.size()));
}

}  // namespace
}  // namespace dcr::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
