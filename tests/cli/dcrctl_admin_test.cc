// dcrctl's administrative commands (list, rotate-secret, lock, unlock) as a
// subprocess against the real gateway and the emulator in this process:
// the list table and its paging, JSON output, a rotated or set secret that
// RFC 7592 then returns, locking, usage errors, and no secret on stderr.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/cli/subprocess.h"
#include "tests/integration/gateway_test_env.h"
#include "tests/testing/temp_dir.h"

#ifndef DCRCTL_PATH
#error "DCRCTL_PATH must name the dcrctl binary"
#endif

namespace dcr::cli_test {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

class DcrctlAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto env = testing::GatewayTestEnv::Start();
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
  }

  RunResult Dcrctl(std::vector<std::string> args) {
    args.push_back(absl::StrCat("--address=127.0.0.1:", env_->gateway().port()));
    return ::dcr::cli_test::Run(DCRCTL_PATH, args);
  }

  v1::ClientInformation Register(const std::string& name, const std::string& developer = "") {
    v1::RegisterClientRequest request;
    std::string json = absl::StrCat(R"({"redirect_uris":["https://app.example.com/cb"],)",
                                     R"("client_name":")", name, R"(")");
    if (!developer.empty()) absl::StrAppend(&json, R"(,"developer":")", developer, R"(")");
    request.set_metadata_json(json + "}");
    v1::RegisterClientResponse response;
    EXPECT_TRUE(env_->stub().RegisterClient(testing::Context().get(), request, &response).ok());
    return response.client();
  }

  std::string SecretViaRfc7592(const v1::ClientInformation& client) {
    v1::GetClientRequest get;
    get.set_client_id(client.client_id());
    get.set_registration_access_token(client.registration_access_token());
    v1::GetClientResponse got;
    grpc::Status status = env_->stub().GetClient(testing::Context().get(), get, &got);
    return status.ok() ? got.client().client_secret() : "(" + status.error_message() + ")";
  }

  // Files handed to dcrctl; removed when the test ends.
  testing::TempDir dir_{"dcrctl_test"};
  std::unique_ptr<testing::GatewayTestEnv> env_;
};

TEST_F(DcrctlAdminTest, ListPrintsATableAndPagesOn) {
  const std::string a = Register("Alpha", "team-a").client_id();
  const std::string b = Register("Beta").client_id();
  const std::string c = Register("Gamma", "team-a").client_id();
  RunResult first = Dcrctl({"list", "--page_size=2"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.err, IsEmpty());
  std::vector<std::string> lines = absl::StrSplit(first.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << first.out;  // header, two rows, the summary
  EXPECT_THAT(lines[0], StartsWith("CLIENT_ID"));
  EXPECT_THAT(lines[0], HasSubstr("CLIENT_NAME"));
  EXPECT_THAT(lines[0], HasSubstr("LOCKED"));
  EXPECT_THAT(lines[3], StartsWith("2 of 3 clients; next page: --page_token="));
  // Columns line up: every row's second column starts where the header's does.
  const std::size_t name_column = lines[0].find("CLIENT_NAME");
  for (int i = 1; i <= 2; ++i) EXPECT_NE(lines[i].substr(name_column, 1), " ") << lines[i];
  const std::string token = lines[3].substr(lines[3].find('=') + 1);

  RunResult second = Dcrctl({"list", "--page_size=2", "--page_token=" + token});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.out, HasSubstr("1 of 3 clients\n"));
  EXPECT_THAT(second.out, Not(HasSubstr("next page")));
  std::string all = first.out + second.out;
  for (const std::string& id : {a, b, c}) EXPECT_THAT(all, HasSubstr(id));

  RunResult team = Dcrctl({"list", "--developer=team-a", "--output=json"});
  ASSERT_EQ(team.exit_code, 0) << team.err;
  v1::ListClientsResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(team.out, &parsed).ok()) << team.out;
  EXPECT_EQ(parsed.total_count(), 2);
  ASSERT_EQ(parsed.clients_size(), 2);
  EXPECT_EQ(parsed.clients(0).developer(), "team-a");
  EXPECT_THAT(team.out, Not(HasSubstr("clientSecret")));

  // A token that is not the gateway's: INVALID_ARGUMENT (3) with its reason.
  RunResult bad = Dcrctl({"list", "--page_token=forged"});
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_THAT(bad.err, HasSubstr("reason: ERROR_REASON_INVALID_PAGE_TOKEN"));
}

TEST_F(DcrctlAdminTest, RotateSecretPrintsTheNewSecretThatRfc7592ThenReturns) {
  const v1::ClientInformation client = Register("Rotated");
  RunResult rotated = Dcrctl({"rotate-secret", "--client_id=" + client.client_id()});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  EXPECT_THAT(rotated.err, IsEmpty());
  const std::string marker = "client_secret: ";
  const std::size_t at = rotated.out.find(marker);
  ASSERT_NE(at, std::string::npos) << rotated.out;
  const std::string secret =
      rotated.out.substr(at + marker.size(), rotated.out.find('\n', at) - at - marker.size());
  EXPECT_NE(secret, client.client_secret());
  EXPECT_EQ(SecretViaRfc7592(client), secret);
  EXPECT_THAT(rotated.out, Not(HasSubstr(client.client_secret())));

  const std::string file = dir_.path() + "/secret";
  WriteFile(file, "chosen-by-ops-5a6b7c8d9e\n");
  RunResult set = Dcrctl({"rotate-secret", "--client_id=" + client.client_id(),
                          "--new_secret_file=" + file, "--output=json"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  v1::RotateClientSecretResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(set.out, &parsed).ok()) << set.out;
  EXPECT_EQ(parsed.new_client_secret(), "chosen-by-ops-5a6b7c8d9e");
  EXPECT_EQ(SecretViaRfc7592(client), "chosen-by-ops-5a6b7c8d9e");

  // A failure never shows the secret that was to be set.
  RunResult failed = Dcrctl({"rotate-secret", "--client_id=99999999999999",
                             "--new_secret_file=" + file});
  EXPECT_NE(failed.exit_code, 0);
  EXPECT_THAT(failed.err, Not(HasSubstr("chosen-by-ops-5a6b7c8d9e")));
  EXPECT_THAT(failed.out, IsEmpty());
}

TEST_F(DcrctlAdminTest, LockAndUnlock) {
  const v1::ClientInformation client = Register("Locked");
  RunResult locked = Dcrctl({"lock", "--client_id=" + client.client_id()});
  ASSERT_EQ(locked.exit_code, 0) << locked.err;
  EXPECT_THAT(locked.out, StartsWith("Locked client " + client.client_id()));
  EXPECT_THAT(SecretViaRfc7592(client), StartsWith("("));  // refused while locked
  RunResult listed = Dcrctl({"list"});
  EXPECT_THAT(listed.out, HasSubstr("yes"));
  RunResult unlocked = Dcrctl({"unlock", "--client_id=" + client.client_id(), "--output=json"});
  ASSERT_EQ(unlocked.exit_code, 0) << unlocked.err;
  EXPECT_THAT(unlocked.out, HasSubstr("result_code"));
  EXPECT_EQ(SecretViaRfc7592(client), client.client_secret());
}

TEST_F(DcrctlAdminTest, UsageErrorsExit64WithoutCallingTheGateway) {
  const std::vector<std::vector<std::string>> cases = {
      {"lock"},
      {"unlock", "--client_id="},
      {"rotate-secret"},
      {"list", "--client_id=1"},
      {"list", "--page_size=-1"},
      {"lock", "--client_id=1", "--page_size=3"},
      {"rotate-secret", "--client_id=1", "--new_client_secret=visible"},
      {"rotate-secret", "--client_id=1", "--new_secret_file=/nonexistent/secret"},
  };
  for (const auto& args : cases) {
    RunResult r = Dcrctl(args);
    EXPECT_EQ(r.exit_code, 64) << args[0] << " " << (args.size() > 1 ? args[1] : "") << "\n"
                               << r.err;
  }
  EXPECT_EQ(env_->emulator().stats().total, 0);
  RunResult help = Dcrctl({"--help"});
  for (const char* command : {"list", "rotate-secret", "lock", "unlock"}) {
    EXPECT_THAT(help.out, HasSubstr(command));
  }
}

}  // namespace
}  // namespace dcr::cli_test
