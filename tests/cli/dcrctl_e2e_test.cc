// End to end: dcrctl -> dcr-gateway -> authlete-emulator, all real binaries
// started as subprocesses on ephemeral ports. register -> get -> update ->
// delete -> get (gone), plus a rejected registration.
//
// Usage: dcrctl_e2e_test --dcrctl=PATH --gateway=PATH --emulator=PATH
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "dcr/v1/client_registration_service.pb.h"
#include "tests/cli/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace dcr::cli_test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string g_dcrctl, g_gateway, g_emulator;

constexpr char kServiceId[] = "21653835348762";         // the emulator's default service
constexpr char kServiceToken[] = "emulator-service-token";  // its v3 Bearer token

class DcrctlEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(g_dcrctl.empty() || g_gateway.empty() || g_emulator.empty())
        << "usage: dcrctl_e2e_test --dcrctl=PATH --gateway=PATH --emulator=PATH";
    ASSERT_FALSE(dir_.path().empty());
    auto emulator = Process::Start(
        g_emulator, {"--listen=127.0.0.1:0", "--port_file=" + dir_.path() + "/emulator.port"}, {},
        dir_.path() + "/emulator.log");
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_.emplace(*std::move(emulator));
    auto emulator_port = WaitForPortFile(dir_.path() + "/emulator.port", *emulator_);
    ASSERT_TRUE(emulator_port.ok()) << emulator_port.status() << "\n"
                                    << ReadFile(dir_.path() + "/emulator.log.err");

    auto gateway = Process::Start(
        g_gateway,
        {"--listen=127.0.0.1:0", "--admin_listen=", "--insecure_plaintext",
         "--port_file=" + dir_.path() + "/gateway.port",
         absl::StrCat("--authlete_base_url=http://127.0.0.1:", *emulator_port),
         absl::StrCat("--authlete_service_id=", kServiceId), "--shutdown_grace=1s"},
        {{"DCR_AUTHLETE_CREDENTIAL", kServiceToken}}, dir_.path() + "/gateway.log");
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_.emplace(*std::move(gateway));
    auto gateway_port = WaitForPortFile(dir_.path() + "/gateway.port", *gateway_);
    ASSERT_TRUE(gateway_port.ok()) << gateway_port.status() << "\n"
                                   << ReadFile(dir_.path() + "/gateway.log.err");
    address_ = absl::StrCat("127.0.0.1:", *gateway_port);
  }

  RunResult Dcrctl(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.push_back("--address=" + address_);
    args.push_back("--timeout=15s");
    RunResult r = ::dcr::cli_test::Run(g_dcrctl, args, {}, stdin_data);
    // No secret ever reaches stderr.
    for (const std::string& secret : secrets_) {
      EXPECT_THAT(r.err, Not(HasSubstr(secret))) << absl::StrJoin(args, " ");
    }
    return r;
  }

  std::string TokenFile(const std::string& token) {
    const std::string path = dir_.path() + "/token";
    WriteFile(path, token + "\n");
    return path;
  }

  std::string GatewayLogs() {
    return ReadFile(dir_.path() + "/gateway.log") + ReadFile(dir_.path() + "/gateway.log.err");
  }

  // Their port files and logs: removed after both processes are killed.
  ::dcr::testing::TempDir dir_{"dcrctl_test"};
  std::string address_;
  std::vector<std::string> secrets_;
  // Destroyed (killed) in reverse order: the gateway before the emulator.
  std::optional<Process> emulator_;
  std::optional<Process> gateway_;
};

TEST_F(DcrctlEndToEnd, RegisterGetUpdateDelete) {
  // register (typed metadata, JSON output)
  RunResult r = Dcrctl({"register", "--client_name=E2E Client",
                        "--redirect_uris=https://e2e.example.com/cb",
                        "--grant_types=authorization_code", "--response_types=code",
                        "--output=json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::RegisterClientResponse registered;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &registered).ok()) << r.out;
  const std::string client_id = registered.client().client_id();
  std::string token = registered.client().registration_access_token();
  ASSERT_FALSE(client_id.empty());
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(registered.action(), v1::ACTION_CREATED);
  EXPECT_EQ(registered.http_status(), 201);
  secrets_ = {token};
  if (!registered.client().client_secret().empty()) {
    secrets_.push_back(registered.client().client_secret());
  }

  // get (token file, text output)
  r = Dcrctl({"get", "--client_id=" + client_id, "--token_file=" + TokenFile(token)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("client_id: " + client_id),
                           HasSubstr("client_name: E2E Client"),
                           HasSubstr("https://e2e.example.com/cb")));

  // update (metadata JSON from stdin; RFC 7592 wants client_id in the body)
  const std::string update = absl::StrCat(
      R"({"client_id":")", client_id,
      R"(","client_name":"E2E Renamed","redirect_uris":["https://e2e.example.com/cb2"]})");
  r = Dcrctl({"update", "--client_id=" + client_id, "--token_file=" + TokenFile(token),
              "--metadata_file=-", "--output=json"},
             update);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::UpdateClientResponse updated;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &updated).ok()) << r.out;
  EXPECT_EQ(updated.client().metadata().client_name(), "E2E Renamed");
  // Authlete may rotate the token on update; follow it if it did.
  if (!updated.client().registration_access_token().empty()) {
    token = updated.client().registration_access_token();
    secrets_.push_back(token);
  }

  // update again with typed flags, then read it back
  r = Dcrctl({"update", "--client_id=" + client_id, "--token_file=" + TokenFile(token),
              "--client_name=E2E Typed", "--redirect_uris=https://e2e.example.com/cb3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Updated client " + client_id));
  r = Dcrctl({"get", "--client_id=" + client_id, "--token_file=" + TokenFile(token),
              "--output=json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::GetClientResponse got;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &got).ok()) << r.out;
  EXPECT_EQ(got.client().metadata().client_name(), "E2E Typed");
  ASSERT_EQ(got.client().metadata().redirect_uris_size(), 1);
  EXPECT_EQ(got.client().metadata().redirect_uris(0), "https://e2e.example.com/cb3");

  // delete, then the client is gone: the token no longer works.
  r = Dcrctl({"delete", "--client_id=" + client_id, "--token_file=" + TokenFile(token)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ACTION_DELETED"));
  r = Dcrctl({"get", "--client_id=" + client_id, "--token_file=" + TokenFile(token)});
  EXPECT_EQ(r.exit_code, 16) << r.err;  // UNAUTHENTICATED (Authlete's UNAUTHORIZED)
  EXPECT_THAT(r.err, HasSubstr("UNAUTHENTICATED"));
  EXPECT_THAT(r.out, IsEmpty());

  // The gateway's logs never carry a secret either.
  for (const std::string& secret : secrets_) {
    EXPECT_THAT(GatewayLogs(), Not(HasSubstr(secret)));
  }
}

TEST_F(DcrctlEndToEnd, RejectedMetadataExits3WithAuthletesVerdict) {
  // RFC 6749 §3.1.2: a redirection URI must not include a fragment.
  RunResult r = Dcrctl({"register", "--metadata_file=-"},
                       R"({"client_name":"bad","redirect_uris":["https://e2e.example.com/cb#x"]})");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, AllOf(HasSubstr("INVALID_ARGUMENT"),
                           HasSubstr("reason: ERROR_REASON_REGISTRATION_REJECTED"),
                           HasSubstr("http_status: 400"),
                           HasSubstr("error: invalid_redirect_uri")));
  EXPECT_THAT(r.out, IsEmpty());
}

TEST_F(DcrctlEndToEnd, UnparsableMetadataIsInvalidArgument) {
  RunResult r = Dcrctl({"register", "--metadata_file=-"}, "{not json");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("INVALID_ARGUMENT"));
}

}  // namespace
}  // namespace dcr::cli_test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);  // removes the --gtest_* flags
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--dcrctl=")) dcr::cli_test::g_dcrctl = std::string(arg);
    else if (absl::ConsumePrefix(&arg, "--gateway=")) dcr::cli_test::g_gateway = std::string(arg);
    else if (absl::ConsumePrefix(&arg, "--emulator=")) dcr::cli_test::g_emulator = std::string(arg);
  }
  return RUN_ALL_TESTS();
}
