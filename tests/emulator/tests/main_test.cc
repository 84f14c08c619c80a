// The authlete-emulator executable: start-up banner, port file, request log
// without secrets, graceful stop on SIGTERM, start-up errors.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/emulator/tests/test_util.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_pki.h"

#ifndef AUTHLETE_EMULATOR_BINARY
#error "AUTHLETE_EMULATOR_BINARY must be defined by the build"
#endif

namespace dcr::emulator {
namespace {

using namespace ::dcr::emulator::testing;  // NOLINT: test helpers
using ::dcr::testing::TempDir;  // a test's directory, removed when the test ends
using ::nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// An emulator process of the test's. Killed and reaped with the test should
// an assertion end it early; Wait reaps it otherwise.
struct Child {
  Child() = default;
  Child(Child&& other) noexcept
      : pid(std::exchange(other.pid, -1)), log(std::move(other.log)) {}
  Child& operator=(Child&&) = delete;
  ~Child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  // Waits for it to exit: its exit status, or -1 if it had not within
  // `timeout` (it is then killed).
  int Wait(std::chrono::milliseconds timeout);

  pid_t pid = -1;
  std::string log;  // path of its stderr
};

// env: NAME=VALUE pairs added to the child's environment.
Child Spawn(const std::vector<std::string>& args, const std::string& dir,
            const std::vector<std::pair<std::string, std::string>>& env = {}) {
  Child child;
  child.log = dir + "/stderr.log";
  child.pid = fork();
  if (child.pid == 0) {
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    int fd = open(child.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    dup2(fd, 1);
    std::vector<char*> argv;
    std::string binary = AUTHLETE_EMULATOR_BINARY;
    argv.push_back(binary.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  return child;
}

int Child::Wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  pid = -1;
  return -1;
}

// The port a child wrote to its --port_file; 0 if none within 5 s.
int WaitForPortFile(const std::string& path) {
  for (int i = 0; i < 250; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::string text = ReadFile(path);
    if (!text.empty()) return std::stoi(text);
  }
  return 0;
}

TEST(MainTest, ServesTheDefaultServiceAndStopsOnSigterm) {
  const TempDir temp("emulator_main");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  std::string port_file = dir + "/port";
  Child child = Spawn({"--listen=127.0.0.1:0", "--port_file=" + port_file}, dir);
  ASSERT_GT(child.pid, 0);
  const int port = WaitForPortFile(port_file);
  ASSERT_GT(port, 0) << ReadFile(child.log);
  std::string base = "http://127.0.0.1:" + std::to_string(port);

  DcrCall reg = ToDcrCall(Request(
      "POST", base + "/api/21653835348762/client/registration",
      {Bearer(kDefaultServiceToken), "Content-Type: application/json"},
      RegisterParams(MinimalMetadata()).dump()));
  ASSERT_EQ(reg.action(), "CREATED") << reg.http.body;
  DcrCall got = ToDcrCall(Request("POST", base + "/api/client/registration/get",
                                  {Basic(kDefaultServiceId, kDefaultApiSecret),
                                   "Content-Type: application/json"},
                                  ManageParams(reg).dump()));
  EXPECT_EQ(got.action(), "OK");
  EXPECT_EQ(Request("POST", base + "/api/21653835348762/client/registration", {}, "{}").status, 401);

  ASSERT_EQ(kill(child.pid, SIGTERM), 0);
  EXPECT_EQ(child.Wait(std::chrono::seconds(10)), 0);
  std::string log = ReadFile(child.log);
  // The banner shows the documented default credential and the URLs.
  EXPECT_THAT(log, HasSubstr("21653835348762"));
  EXPECT_THAT(log, HasSubstr("Bearer emulator-service-token"));
  EXPECT_THAT(log, HasSubstr(base));
  EXPECT_THAT(log, HasSubstr("http://127.0.0.1:8787/dcr/register"));
  // One line per request, with status, action and latency.
  EXPECT_THAT(log, HasSubstr("POST /api/21653835348762/client/registration 200 CREATED "));
  EXPECT_THAT(log, HasSubstr("POST /api/client/registration/get 200 OK "));
  EXPECT_THAT(log, HasSubstr("POST /api/21653835348762/client/registration 401 A001202 "));
  // Never a client secret or a registration access token.
  EXPECT_THAT(log, Not(HasSubstr(reg.content["client_secret"].get<std::string>())));
  EXPECT_THAT(log, Not(HasSubstr(TokenOf(reg))));
}

// Access tokens for introspection: --max_access_tokens bounds them, and
// neither a token nor a body ever reaches the request log.
TEST(MainTest, IssuesAndIntrospectsAccessTokensWithoutLoggingThem) {
  const TempDir temp("emulator_main");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  std::string port_file = dir + "/port";
  Child child =
      Spawn({"--listen=127.0.0.1:0", "--port_file=" + port_file, "--max_access_tokens=1"}, dir);
  ASSERT_GT(child.pid, 0);
  const int port = WaitForPortFile(port_file);
  ASSERT_GT(port, 0) << ReadFile(child.log);
  std::string base = "http://127.0.0.1:" + std::to_string(port);

  HttpResult issued = Request("POST", base + "/emulator/tokens", {},
                              R"({"scopes":["register"],"subject":"svc-subject"})");
  ASSERT_EQ(issued.status, 200) << issued.body;
  const std::string token = issued.Json().value("access_token", "");
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(Request("POST", base + "/emulator/tokens", {}, "{}").status, 503);
  HttpResult ok = Request("POST", base + "/api/21653835348762/auth/introspection",
                          {Bearer(kDefaultServiceToken), "Content-Type: application/json"},
                          json{{"token", token}, {"scopes", {"register"}}}.dump());
  EXPECT_EQ(ok.Json().value("action", ""), "OK") << ok.body;
  HttpResult forbidden = Request("POST", base + "/api/auth/introspection",
                                 {Basic(kDefaultServiceId, kDefaultApiSecret)},
                                 json{{"token", token}, {"scopes", {"admin"}}}.dump());
  EXPECT_EQ(forbidden.Json().value("action", ""), "FORBIDDEN") << forbidden.body;

  ASSERT_EQ(kill(child.pid, SIGTERM), 0);
  EXPECT_EQ(child.Wait(std::chrono::seconds(10)), 0);
  std::string log = ReadFile(child.log);
  EXPECT_THAT(log, HasSubstr("POST /api/21653835348762/auth/introspection 200 OK "));
  EXPECT_THAT(log, HasSubstr("POST /api/auth/introspection 200 FORBIDDEN "));
  EXPECT_THAT(log, HasSubstr("/emulator/{faults,stats,reset,health,tokens}"));
  EXPECT_THAT(log, Not(HasSubstr(token)));
  EXPECT_THAT(log, Not(HasSubstr("svc-subject")));

  Child bad = Spawn({"--listen=127.0.0.1:0", "--max_access_tokens=0"}, dir);
  EXPECT_EQ(bad.Wait(std::chrono::seconds(10)), 1);
  EXPECT_THAT(ReadFile(bad.log), HasSubstr("--max_access_tokens"));
}

TEST(MainTest, StartUpErrorsExitNonZero) {
  const TempDir temp("emulator_main");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  std::ofstream(dir + "/corrupt.json") << "{oops";
  Child corrupt = Spawn({"--listen=127.0.0.1:0", "--store_file=" + dir + "/corrupt.json"}, dir);
  EXPECT_EQ(corrupt.Wait(std::chrono::seconds(10)), 1);
  EXPECT_THAT(ReadFile(corrupt.log), HasSubstr("is corrupt"));

  std::ofstream(dir + "/config.json")
      << R"({"services":[{"serviceId":"1","serviceAccessToken":"t",)"
         R"("registrationManagementEndpoint":"https://g.example/r"}]})";
  Child conflict = Spawn({"--config=" + dir + "/config.json", "--service_id=5"}, dir);
  EXPECT_EQ(conflict.Wait(std::chrono::seconds(10)), 1);
  EXPECT_THAT(ReadFile(conflict.log), HasSubstr("cannot be combined with --config"));

  Child bad_faults = Spawn({"--listen=127.0.0.1:0", "--faults={\"kind\":\"boom\"}"}, dir);
  EXPECT_EQ(bad_faults.Wait(std::chrono::seconds(10)), 1);
  EXPECT_THAT(ReadFile(bad_faults.log), HasSubstr("unknown kind"));

  Child help = Spawn({"--help"}, dir);
  EXPECT_NE(help.Wait(std::chrono::seconds(10)), -1);
  EXPECT_THAT(ReadFile(help.log), HasSubstr("--store_file"));
}

// Every flag can come from AUTHLETE_EMULATOR_<FLAG> (as the container image
// sets its listen address); the command line wins; a bad value is refused.
TEST(MainTest, FlagsFromTheEnvironment) {
  const TempDir temp("emulator_main");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  Child child = Spawn({"--port_file=" + dir + "/port", "--service_token=from-flag"}, dir,
                      {{"AUTHLETE_EMULATOR_LISTEN", "127.0.0.1:0"},
                       {"AUTHLETE_EMULATOR_SERVICE_ID", "777"},
                       {"AUTHLETE_EMULATOR_SERVICE_TOKEN", "from-env"},
                       {"AUTHLETE_EMULATOR_LOG_REQUESTS", "false"}});
  const int port = WaitForPortFile(dir + "/port");
  ASSERT_GT(port, 0) << ReadFile(child.log);
  std::string base = "http://127.0.0.1:" + std::to_string(port) + "/api/777/client/registration";
  DcrCall reg = ToDcrCall(
      Request("POST", base, {Bearer("from-flag")}, RegisterParams(MinimalMetadata()).dump()));
  EXPECT_EQ(reg.action(), "CREATED") << reg.http.body;
  EXPECT_EQ(Request("POST", base, {Bearer("from-env")}, RegisterParams(MinimalMetadata()).dump())
                .status,
            401);
  kill(child.pid, SIGTERM);
  EXPECT_EQ(child.Wait(std::chrono::seconds(10)), 0);
  std::string log = ReadFile(child.log);
  EXPECT_THAT(log, HasSubstr("service 777"));
  EXPECT_THAT(log, Not(HasSubstr("POST /api/777/client/registration")));  // log_requests=false

  Child bad = Spawn({"--listen=127.0.0.1:0"}, dir, {{"AUTHLETE_EMULATOR_THREADS", "many"}});
  EXPECT_EQ(bad.Wait(std::chrono::seconds(10)), 1);
  EXPECT_THAT(ReadFile(bad.log), HasSubstr("environment variable AUTHLETE_EMULATOR_THREADS"));
}

TEST(MainTest, ConfigFileServices) {
  const TempDir temp("emulator_main");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  std::ofstream(dir + "/config.json")
      << R"({"organizationToken":"org","services":[{"serviceId":"42","serviceAccessToken":"t42",)"
         R"("registrationManagementEndpoint":"https://g.example/r","supportedCustomClientMetadata":["x"]}]})";
  Child child = Spawn({"--listen=127.0.0.1:0", "--port_file=" + dir + "/port",
                       "--config=" + dir + "/config.json", "--latency_ms=1"},
                      dir);
  const int port = WaitForPortFile(dir + "/port");
  ASSERT_GT(port, 0) << ReadFile(child.log);
  nlohmann::json md = MinimalMetadata();
  md["x"] = {1, 2};
  DcrCall reg = ToDcrCall(Request("POST",
                                  "http://127.0.0.1:" + std::to_string(port) +
                                      "/api/42/client/registration",
                                  {Bearer("org")}, RegisterParams(md).dump()));
  EXPECT_EQ(reg.action(), "CREATED") << reg.http.body;
  EXPECT_EQ(reg.content["x"], nlohmann::json({1, 2}));
  EXPECT_EQ(reg.content["registration_client_uri"], "https://g.example/r/" + ClientIdOf(reg));
  kill(child.pid, SIGINT);
  EXPECT_EQ(child.Wait(std::chrono::seconds(10)), 0);
  EXPECT_THAT(ReadFile(child.log), HasSubstr("(configured, not shown)"));
}

TEST(MainTest, ServesHttpsWithTlsFlags) {
  const TempDir temp("emulator_main");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  auto pki = dcr::testing::TestPki::Create("main test CA");
  ASSERT_TRUE(pki.ok()) << pki.status();
  dcr::testing::LeafSpec spec;
  spec.ip_addresses = {"127.0.0.1"};
  auto leaf = pki->Issue(spec);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  ASSERT_TRUE(dcr::testing::WriteFileAtomically(dir + "/ca.pem", pki->ca_cert_pem()).ok());
  ASSERT_TRUE(dcr::testing::WriteFileAtomically(dir + "/tls.pem", leaf->cert_pem).ok());
  ASSERT_TRUE(dcr::testing::WriteFileAtomically(dir + "/tls.key", leaf->key_pem).ok());

  Child alone = Spawn({"--listen=127.0.0.1:0", "--tls_cert_file=" + dir + "/tls.pem"}, dir);
  EXPECT_EQ(alone.Wait(std::chrono::seconds(10)), 1);
  EXPECT_THAT(ReadFile(alone.log), HasSubstr("go together"));

  Child child = Spawn({"--listen=127.0.0.1:0", "--port_file=" + dir + "/port",
                       "--tls_cert_file=" + dir + "/tls.pem", "--tls_key_file=" + dir + "/tls.key"},
                      dir);
  const int port = WaitForPortFile(dir + "/port");
  ASSERT_GT(port, 0) << ReadFile(child.log);
  std::string base = "https://127.0.0.1:" + std::to_string(port);
  TestClient client;
  client.set_ca_file(dir + "/ca.pem");
  DcrCall reg = ToDcrCall(client.Request("POST", base + "/api/21653835348762/client/registration",
                                         {Bearer(kDefaultServiceToken)},
                                         RegisterParams(MinimalMetadata()).dump()));
  EXPECT_EQ(reg.action(), "CREATED") << curl_easy_strerror(reg.http.curl_code);
  kill(child.pid, SIGTERM);
  EXPECT_EQ(child.Wait(std::chrono::seconds(10)), 0);
  EXPECT_THAT(ReadFile(child.log), HasSubstr("listening on " + base));
}

}  // namespace
}  // namespace dcr::emulator
