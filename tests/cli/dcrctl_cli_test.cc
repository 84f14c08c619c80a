// dcrctl as a subprocess against an in-process scripted gateway: help, usage
// errors (exit 64), exit codes, text/json output, metadata and token sources,
// and no secret on stderr.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/registration_error.h"
#include "client/testing/fake_registration_service.h"
#include "tests/cli/subprocess.h"
#include "tests/testing/temp_dir.h"

#ifndef DCRCTL_PATH
#error "DCRCTL_PATH must name the dcrctl binary"
#endif

namespace dcr::cli_test {
namespace {

using ::dcr::client::testing::FakeGateway;
using ::dcr::client::testing::kCannedSecret;
using ::dcr::client::testing::kCannedToken;
using ::dcr::client::testing::Outcome;
using ::dcr::client::testing::Rpc;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kToken[] = "s3cr3t-registration-access-token-XYZ";

class DcrctlTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  // Runs dcrctl with --address pointing at the fake (unless args set it).
  RunResult Dcrctl(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                   const std::string& stdin_data = "") {
    bool has_address = false;
    for (const auto& a : args) has_address |= a.rfind("--address", 0) == 0;
    if (!has_address && !env.count("DCR_ADDRESS")) {
      args.push_back("--address=" + gateway_.address());
    }
    return ::dcr::cli_test::Run(DCRCTL_PATH, args, env, stdin_data);
  }

  std::string TokenFile(const std::string& content = std::string(kToken) + "\n") {
    std::string path = dir_.path() + "/token";
    WriteFile(path, content);
    return path;
  }

  template <typename Request>
  Request LastRequest(Rpc rpc) {
    auto calls = gateway_.service().Calls(rpc);
    Request request;
    EXPECT_FALSE(calls.empty());
    if (!calls.empty()) {
      EXPECT_TRUE(request.ParseFromString(calls.back().request));
    }
    return request;
  }

  int TotalCalls() {
    int n = 0;
    for (Rpc rpc : {Rpc::kRegister, Rpc::kGet, Rpc::kUpdate, Rpc::kDelete}) {
      n += gateway_.service().CallCount(rpc);
    }
    return n;
  }

  // Token and metadata files; removed when the test ends.
  ::dcr::testing::TempDir dir_{"dcrctl_test"};
  FakeGateway gateway_;
};

// ---- help and usage errors ----

TEST_F(DcrctlTest, HelpListsCommandsAndFlags) {
  for (const char* flag : {"--help", "-h", "help"}) {
    RunResult r = Dcrctl({flag});
    EXPECT_EQ(r.exit_code, 0) << flag;
    EXPECT_THAT(r.out, AllOf(HasSubstr("register"), HasSubstr("get"), HasSubstr("update"),
                             HasSubstr("delete"), HasSubstr("--token_file"),
                             HasSubstr("--metadata_file"), HasSubstr("--address"),
                             HasSubstr("--output"), HasSubstr("--redirect_uris"),
                             HasSubstr("DCR_REGISTRATION_ACCESS_TOKEN")));
  }
}

TEST_F(DcrctlTest, UsageErrorsExit64WithoutCallingTheGateway) {
  const std::string token_file = TokenFile();
  const std::string missing = dir_.path() + "/does-not-exist.json";
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate"},
      {"register", "extra"},
      {"register", "--no_such_flag=1", "--client_name=x"},
      {"register", "--timeout=soon", "--client_name=x"},
      {"register", "--timeout=0s", "--client_name=x"},
      {"register", "--output=xml", "--client_name=x"},
      {"register"},                                          // no metadata
      {"register", "--metadata_file=" + missing},            // unreadable
      {"register", "--metadata_file=-", "--client_name=x"},  // both sources
      {"register", "--client_name=x", "--application_type=desktop"},
      {"register", "--client_name=x", "--client_id=1"},      // not for register
      {"get", "--token_file=" + token_file},                 // no client id
      {"get", "--client_id=1"},                              // no token
      {"get", "--client_id=1", "--token_file=" + token_file, "--client_name=x"},
      {"get", "--client_id=1", "--token_file=" + dir_.path() + "/none"},
      {"get", "--client_id=1", "--token_file=" + TokenFile("\n")},  // empty token
      {"update", "--client_id=1", "--token_file=" + token_file},    // no metadata
      {"delete", "--client_id"},                                    // no value
  };
  for (const auto& args : cases) {
    RunResult r = Dcrctl(args);
    EXPECT_EQ(r.exit_code, 64) << absl::StrJoin(args, " ") << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("dcrctl: ")) << absl::StrJoin(args, " ");
    EXPECT_THAT(r.out, IsEmpty());
  }
  EXPECT_EQ(TotalCalls(), 0);
}

TEST_F(DcrctlTest, TokenOnTheCommandLineIsRefused) {
  RunResult r = Dcrctl({"get", "--client_id=1", std::string("--token=") + kToken});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_THAT(r.err, HasSubstr("--token_file"));
  EXPECT_EQ(TotalCalls(), 0);
}

// ---- register ----

TEST_F(DcrctlTest, RegisterFromTypedFlagsPrintsText) {
  RunResult r = Dcrctl({"register", "--client_name=My App",
                        "--redirect_uris=https://a.example/cb, https://b.example/cb",
                        "--grant_types=authorization_code,refresh_token",
                        "--response_types=code", "--scope=openid profile",
                        "--token_endpoint_auth_method=private_key_jwt",
                        "--application_type=native", "--contacts=ops@example.com",
                        "--jwks_uri=https://a.example/jwks", "--software_id=sw",
                        "--software_version=1.2", "--service_id=21653835348762"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, IsEmpty());
  EXPECT_THAT(r.out, AllOf(HasSubstr("Registered client 26837717140341"),
                           HasSubstr("ACTION_CREATED"), HasSubstr("client_id: 26837717140341"),
                           HasSubstr(std::string("registration_access_token: ") + kCannedToken),
                           HasSubstr("client_name: Canned Client")));
  auto request = LastRequest<v1::RegisterClientRequest>(Rpc::kRegister);
  ASSERT_TRUE(request.has_metadata());
  const v1::ClientMetadata& m = request.metadata();
  EXPECT_EQ(request.service_id(), "21653835348762");
  EXPECT_EQ(m.client_name(), "My App");
  EXPECT_THAT(m.redirect_uris(), ElementsAre("https://a.example/cb", "https://b.example/cb"));
  EXPECT_THAT(m.grant_types(), ElementsAre("authorization_code", "refresh_token"));
  EXPECT_THAT(m.response_types(), ElementsAre("code"));
  EXPECT_EQ(m.scope(), "openid profile");
  EXPECT_EQ(m.token_endpoint_auth_method(), "private_key_jwt");
  EXPECT_EQ(m.application_type(), v1::APPLICATION_TYPE_NATIVE);
  EXPECT_THAT(m.contacts(), ElementsAre("ops@example.com"));
  EXPECT_EQ(m.jwks_uri(), "https://a.example/jwks");
  EXPECT_EQ(m.software_id(), "sw");
  EXPECT_EQ(m.software_version(), "1.2");
  // Unset flags stay unset (proto3 optional presence).
  EXPECT_FALSE(m.has_logo_uri());
}

TEST_F(DcrctlTest, RegisterEmptyFlagValueIsSentAsEmpty) {
  RunResult r = Dcrctl({"register", "--client_name="});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto request = LastRequest<v1::RegisterClientRequest>(Rpc::kRegister);
  EXPECT_TRUE(request.metadata().has_client_name());
  EXPECT_EQ(request.metadata().client_name(), "");
}

TEST_F(DcrctlTest, RegisterMetadataFileSentVerbatim) {
  // Not even valid JSON: the gateway, not dcrctl, judges the document.
  const std::string json = "{ \"client_name\": \"x\",\n  \"redirect_uris\": [\"https://a/cb\"],"
                           " \"custom\": 1e400 }\n\n";
  const std::string path = dir_.path() + "/metadata.json";
  WriteFile(path, json);
  RunResult r = Dcrctl({"register", "--metadata_file=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto request = LastRequest<v1::RegisterClientRequest>(Rpc::kRegister);
  EXPECT_EQ(request.metadata_json(), json);
}

TEST_F(DcrctlTest, RegisterMetadataFromStdin) {
  const std::string json = "{\"client_name\":\"from stdin\"}";
  RunResult r = Dcrctl({"register", "--metadata_file=-"}, {}, json);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(LastRequest<v1::RegisterClientRequest>(Rpc::kRegister).metadata_json(), json);
}

TEST_F(DcrctlTest, RegisterJsonOutputIsOneParsableDocument) {
  RunResult r = Dcrctl({"register", "--client_name=x", "--output=json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::RegisterClientResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &parsed).ok()) << r.out;
  EXPECT_EQ(parsed.client().client_id(), "26837717140341");
  EXPECT_EQ(parsed.client().client_secret(), kCannedSecret);
  EXPECT_EQ(parsed.action(), v1::ACTION_CREATED);
  // Proto field names, not lowerCamelCase; no defaults printed.
  EXPECT_THAT(r.out, AllOf(HasSubstr("\"registration_access_token\""),
                           HasSubstr("\"http_status\""), Not(HasSubstr("registrationAccessToken")),
                           Not(HasSubstr("\"logo_uri\""))));
  EXPECT_EQ(r.out.find('{'), 0u);
  EXPECT_EQ(r.out.rfind('}'), r.out.find_last_not_of(" \n"));
}

TEST_F(DcrctlTest, RegisterMayHaveBeenProcessedExplainsAndExits14) {
  v1::RegistrationError detail;
  detail.set_reason(v1::ERROR_REASON_UPSTREAM_FAILED);
  detail.set_http_status(503);
  detail.set_may_have_been_processed(true);
  gateway_.service().Enqueue(
      Rpc::kRegister, Outcome::Error(grpc::StatusCode::UNAVAILABLE, "Authlete failed", detail));
  RunResult r = Dcrctl({"register", "--client_name=x"});
  EXPECT_EQ(r.exit_code, 14);
  EXPECT_THAT(r.err, AllOf(HasSubstr("UNAVAILABLE"), HasSubstr("Authlete failed"),
                           HasSubstr("ERROR_REASON_UPSTREAM_FAILED"),
                           HasSubstr("may_have_been_processed: true"),
                           HasSubstr("may have been registered")));
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(gateway_.service().CallCount(Rpc::kRegister), 1);  // not retried
}

TEST_F(DcrctlTest, RejectedRegistrationExits3WithDetail) {
  v1::RegistrationError detail;
  detail.set_reason(v1::ERROR_REASON_REGISTRATION_REJECTED);
  detail.set_action(v1::ACTION_BAD_REQUEST);
  detail.set_http_status(400);
  detail.set_error("invalid_redirect_uri");
  detail.set_error_description("[A202201] The redirect URI is bad.");
  detail.set_result_code("A202201");
  gateway_.service().Enqueue(
      Rpc::kRegister, Outcome::Error(grpc::StatusCode::INVALID_ARGUMENT, "rejected", detail));
  RunResult r = Dcrctl({"register", "--client_name=x", "--output=json"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, AllOf(HasSubstr("INVALID_ARGUMENT"), HasSubstr("rejected"),
                           HasSubstr("reason: ERROR_REASON_REGISTRATION_REJECTED"),
                           HasSubstr("action: ACTION_BAD_REQUEST"), HasSubstr("http_status: 400"),
                           HasSubstr("error: invalid_redirect_uri"),
                           HasSubstr("error_description: [A202201] The redirect URI is bad."),
                           HasSubstr("result_code: A202201")));
  EXPECT_THAT(r.out, IsEmpty());
}

// ---- get / update / delete, token sources ----

TEST_F(DcrctlTest, GetWithTokenFile) {
  RunResult r = Dcrctl({"get", "--client_id=42", "--token_file=" + TokenFile()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, IsEmpty());
  EXPECT_THAT(r.out, AllOf(HasSubstr("Client 42"), HasSubstr("client_id: 42"),
                           HasSubstr("redirect_uris: https://client.example.com/cb")));
  auto request = LastRequest<v1::GetClientRequest>(Rpc::kGet);
  EXPECT_EQ(request.client_id(), "42");
  EXPECT_EQ(request.registration_access_token(), kToken);  // newline stripped
}

// Text output shows secrets only when the caller cannot have them yet: a new
// client's (register), or a token that an update rotated.
TEST_F(DcrctlTest, TextOutputHidesSecretsTheCallerAlreadyHas) {
  RunResult got = Dcrctl({"get", "--client_id=42", "--token_file=" +
                                                       TokenFile(std::string(kCannedToken))});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_THAT(got.out, Not(HasSubstr(kCannedSecret)));
  EXPECT_THAT(got.out, Not(HasSubstr(kCannedToken)));
  EXPECT_THAT(got.out, HasSubstr("client_secret: (hidden; --output=json shows it)"));

  // The canned reply's token differs from the presented one: a rotation.
  RunResult updated = Dcrctl({"update", "--client_id=42", "--client_name=x",
                              "--token_file=" + TokenFile()});
  ASSERT_EQ(updated.exit_code, 0) << updated.err;
  EXPECT_THAT(updated.out, Not(HasSubstr(kCannedSecret)));
  EXPECT_THAT(updated.out, HasSubstr(std::string("registration_access_token: ") + kCannedToken +
                                     "  (rotated"));

  RunResult json = Dcrctl({"get", "--client_id=42", "--output=json", "--token_file=" +
                                                                        TokenFile()});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr(kCannedSecret));
}

TEST_F(DcrctlTest, GetWithTokenFromEnvAndAddressFromEnv) {
  RunResult r = Dcrctl({"get", "--client_id=42", "--output=json"},
                       {{"DCR_REGISTRATION_ACCESS_TOKEN", kToken},
                        {"DCR_ADDRESS", gateway_.address()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::GetClientResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &parsed).ok()) << r.out;
  EXPECT_EQ(parsed.client().client_id(), "42");
  EXPECT_EQ(LastRequest<v1::GetClientRequest>(Rpc::kGet).registration_access_token(), kToken);
}

TEST_F(DcrctlTest, TokenFileWinsOverEnv) {
  RunResult r = Dcrctl({"get", "--client_id=42", "--token_file=" + TokenFile("from-file\n")},
                       {{"DCR_REGISTRATION_ACCESS_TOKEN", kToken}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(LastRequest<v1::GetClientRequest>(Rpc::kGet).registration_access_token(),
            "from-file");
}

TEST_F(DcrctlTest, TokenFromStdin) {
  RunResult r = Dcrctl({"delete", "--client_id=42", "--token_file=-"}, {},
                       std::string(kToken) + "\r\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(LastRequest<v1::DeleteClientRequest>(Rpc::kDelete).registration_access_token(),
            kToken);
}

TEST_F(DcrctlTest, UnauthenticatedExits16AndNeverPrintsTheToken) {
  v1::RegistrationError detail;
  detail.set_reason(v1::ERROR_REASON_REGISTRATION_REJECTED);
  detail.set_action(v1::ACTION_UNAUTHORIZED);
  detail.set_http_status(401);
  detail.set_error("invalid_token");
  // A misbehaving layer echoing the token must not leak it to stderr.
  detail.set_error_description(std::string("token ") + kToken + " is not valid");
  detail.set_result_code("A217201");
  gateway_.service().Enqueue(
      Rpc::kGet, Outcome::Error(grpc::StatusCode::UNAUTHENTICATED,
                                std::string("bad token ") + kToken, detail));
  RunResult r = Dcrctl({"get", "--client_id=42"}, {{"DCR_REGISTRATION_ACCESS_TOKEN", kToken}});
  EXPECT_EQ(r.exit_code, 16);
  EXPECT_THAT(r.err, AllOf(HasSubstr("UNAUTHENTICATED"), HasSubstr("invalid_token"),
                           HasSubstr("A217201"), HasSubstr("[REDACTED]"),
                           Not(HasSubstr(kToken))));
  EXPECT_THAT(r.out, IsEmpty());
}

TEST_F(DcrctlTest, UpdateFromFileAndTypedFlags) {
  const std::string path = dir_.path() + "/update.json";
  WriteFile(path, "{\"client_name\":\"renamed\"}");
  RunResult r = Dcrctl({"update", "--client_id=42", "--metadata_file=" + path,
                        "--token_file=" + TokenFile()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Updated client 42"));
  auto request = LastRequest<v1::UpdateClientRequest>(Rpc::kUpdate);
  EXPECT_EQ(request.client_id(), "42");
  EXPECT_EQ(request.registration_access_token(), kToken);
  EXPECT_EQ(request.metadata_json(), "{\"client_name\":\"renamed\"}");

  r = Dcrctl({"update", "--client_id=42", "--client_name=typed", "--application_type=web"},
             {{"DCR_REGISTRATION_ACCESS_TOKEN", kToken}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  request = LastRequest<v1::UpdateClientRequest>(Rpc::kUpdate);
  EXPECT_EQ(request.metadata().client_name(), "typed");
  EXPECT_EQ(request.metadata().application_type(), v1::APPLICATION_TYPE_WEB);
}

TEST_F(DcrctlTest, DeleteTextAndJson) {
  const std::map<std::string, std::string> env = {{"DCR_REGISTRATION_ACCESS_TOKEN", kToken}};
  RunResult r = Dcrctl({"delete", "--client_id=42"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("Deleted client 42"), HasSubstr("ACTION_DELETED")));
  r = Dcrctl({"delete", "--client_id=42", "--output", "json"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::DeleteClientResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &parsed).ok()) << r.out;
  EXPECT_EQ(parsed.http_status(), 204);
}

// ---- exit codes from transport failures ----

TEST_F(DcrctlTest, UnreachableGatewayExits14) {
  RunResult r = Dcrctl({"register", "--client_name=x", "--address=127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, 14);
  EXPECT_THAT(r.err, HasSubstr("UNAVAILABLE"));
}

TEST_F(DcrctlTest, SlowGatewayExits4) {
  Outcome slow;
  slow.delay = absl::Milliseconds(1500);
  gateway_.service().Enqueue(Rpc::kGet, slow);
  RunResult r = Dcrctl({"get", "--client_id=42", "--timeout=200ms"},
                       {{"DCR_REGISTRATION_ACCESS_TOKEN", kToken}});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.err, AllOf(HasSubstr("DEADLINE_EXCEEDED"), Not(HasSubstr(kToken))));
}

TEST_F(DcrctlTest, ExitCodeIsTheStatusCode) {
  const grpc::StatusCode codes[] = {grpc::StatusCode::PERMISSION_DENIED,
                                    grpc::StatusCode::FAILED_PRECONDITION,
                                    grpc::StatusCode::INTERNAL};
  for (grpc::StatusCode code : codes) {
    v1::RegistrationError detail;
    detail.set_reason(v1::ERROR_REASON_AUTHLETE_ERROR);
    gateway_.service().Enqueue(Rpc::kDelete, Outcome::Error(code, "x", detail));
    RunResult r = Dcrctl({"delete", "--client_id=42"}, {{"DCR_REGISTRATION_ACCESS_TOKEN", kToken}});
    EXPECT_EQ(r.exit_code, static_cast<int>(code));
  }
}

TEST_F(DcrctlTest, GarbageDetailsStillReportTheStatus) {
  gateway_.service().Enqueue(
      Rpc::kDelete, Outcome::RawDetails(grpc::StatusCode::INTERNAL, "odd", "\xff\xfe garbage"));
  RunResult r = Dcrctl({"delete", "--client_id=42"}, {{"DCR_REGISTRATION_ACCESS_TOKEN", kToken}});
  EXPECT_EQ(r.exit_code, 13);
  EXPECT_THAT(r.err, AllOf(HasSubstr("INTERNAL"), HasSubstr("odd"), Not(HasSubstr("reason:"))));
}

}  // namespace
}  // namespace dcr::cli_test
