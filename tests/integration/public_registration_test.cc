// The public RFC 7591/7592 endpoint of the real gateway in front of the
// emulator, driven with libcurl as an outside client would: the whole
// lifecycle through registration_client_uri, every status and header, the
// native loopback rule, nothing sent to Authlete for what the gateway
// refuses, floods from one address with and without a trusted proxy,
// slowloris and the connection limit, TLS with the gRPC port's certificate,
// and initial access tokens.
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gateway_test_env.h"
#include "nlohmann/json.hpp"
#include "service/callers/caller_policy.h"
#include "tests/testing/free_port.h"
#include "tests/testing/test_pki.h"

namespace dcr::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct Answer {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
};

struct Call {
  Call(std::string method, std::string url, std::string body = "",
       std::vector<std::string> headers = {}, std::string ca_file = "")
      : method(std::move(method)),
        url(std::move(url)),
        body(std::move(body)),
        headers(std::move(headers)),
        ca_file(std::move(ca_file)) {}
  std::string method;
  std::string url;
  std::string body;
  std::vector<std::string> headers;
  std::string ca_file;  // for https
};

Answer Curl(const Call& call) {
  Answer answer;
  CURL* easy = curl_easy_init();
  curl_easy_setopt(easy, CURLOPT_URL, call.url.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
  if (!call.body.empty() || call.method == "POST" || call.method == "PUT") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call.body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(call.body.size()));
  }
  if (call.method == "GET" || call.method == "DELETE") curl_easy_setopt(easy, CURLOPT_POST, 0L);
  if (!call.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, call.ca_file.c_str());
  curl_slist* list = nullptr;
  for (const std::string& h : call.headers) list = curl_slist_append(list, h.c_str());
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                   +[](char* data, std::size_t size, std::size_t n, void* out) {
                     static_cast<std::string*>(out)->append(data, size * n);
                     return size * n;
                   });
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION,
                   +[](char* data, std::size_t size, std::size_t n, void* out) {
                     std::string line(data, size * n);
                     const std::size_t colon = line.find(':');
                     if (colon != std::string::npos) {
                       (*static_cast<std::map<std::string, std::string>*>(out))
                           [absl::AsciiStrToLower(line.substr(0, colon))] =
                               std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
                     }
                     return size * n;
                   });
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &answer.headers);
  if (curl_easy_perform(easy) == CURLE_OK) {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &answer.status);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(easy);
  return answer;
}

const char kWebClient[] = R"({"client_name":"Partner App","redirect_uris":["https://app.example.com/cb"]})";

void ExpectNoStoreJson(const Answer& a) {
  EXPECT_EQ(a.headers.count("content-type") ? a.headers.at("content-type") : "",
            "application/json");
  EXPECT_EQ(a.headers.count("cache-control") ? a.headers.at("cache-control") : "", "no-store");
  EXPECT_EQ(a.headers.count("pragma") ? a.headers.at("pragma") : "", "no-cache");
}

class PublicRegistrationTest : public ::testing::Test {
 protected:
  void Start(std::function<void(config::GatewayConfig&)> tweak = nullptr,
             const std::string& scheme = "http") {
    // Free now: the emulator must know the endpoint's URL before the gateway
    // starts (registration_client_uri).
    port_ = testing::PickFreeLoopbackPort();
    scheme_ = scheme;
    EnvOptions options;
    const std::string base = absl::StrCat(scheme, "://127.0.0.1:", port_, "/register");
    // The Authlete service setting registrationManagementEndpoint: the
    // public endpoint's /register, so that registration_client_uri is ours.
    options.tweak_emulator = [base](emulator::EmulatorOptions& e) {
      e.services[0].registration_management_endpoint = base;
    };
    const int port = port_;
    options.tweak_gateway = [port, tweak](config::GatewayConfig& c) {
      c.public_registration.listen_address = absl::StrCat("127.0.0.1:", port);
      c.public_registration.header_timeout = absl::Seconds(1);
      c.public_registration.read_timeout = absl::Seconds(2);
      if (tweak) tweak(c);
    };
    auto env = GatewayTestEnv::Start(options);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
    ASSERT_EQ(env_->gateway().public_registration_port(), port_);
  }
  std::string Url(const std::string& path = "/register") const {
    return absl::StrCat(scheme_, "://127.0.0.1:", port_, path);
  }
  Call Post(std::string body, std::vector<std::string> headers = {}) const {
    headers.push_back("Content-Type: application/json");
    return Call{"POST", Url(), std::move(body), std::move(headers), ca_file_};
  }

  int port_ = 0;
  std::string scheme_ = "http";
  std::string ca_file_;
  std::unique_ptr<GatewayTestEnv> env_;
};

TEST_F(PublicRegistrationTest, RegisterReadUpdateDeleteThroughRegistrationClientUri) {
  Start();
  Answer created = Curl(Post(kWebClient));
  ASSERT_EQ(created.status, 201) << created.body;
  ExpectNoStoreJson(created);
  const nlohmann::json client = created.Json();
  const std::string id = client["client_id"];
  const std::string token = client["registration_access_token"];
  const std::string uri = client["registration_client_uri"];
  EXPECT_EQ(uri, Url("/register/" + id));
  const std::string bearer = "Authorization: Bearer " + token;

  Answer read = Curl({"GET", uri, "", {bearer}});
  EXPECT_EQ(read.status, 200);
  ExpectNoStoreJson(read);
  EXPECT_EQ(read.Json()["client_id"], id);

  nlohmann::json update = nlohmann::json::parse(kWebClient);
  update["client_id"] = id;
  update["client_name"] = "Partner App v2";
  Answer updated = Curl({"PUT", uri, update.dump(), {bearer, "Content-Type: application/json"}});
  EXPECT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.Json()["client_name"], "Partner App v2");

  Answer deleted = Curl({"DELETE", uri, "", {bearer}});
  EXPECT_EQ(deleted.status, 204);
  EXPECT_TRUE(deleted.body.empty());
  EXPECT_EQ(deleted.headers["cache-control"], "no-store");
  EXPECT_EQ(deleted.headers["pragma"], "no-cache");
  EXPECT_EQ(deleted.headers.count("content-type"), 0u);

  Answer gone = Curl({"GET", uri, "", {bearer}});
  EXPECT_EQ(gone.status, 401);
  ExpectNoStoreJson(gone);
  EXPECT_THAT(gone.headers["www-authenticate"], StartsWith("Bearer"));
  EXPECT_EQ(gone.Json()["error"], "invalid_token");
}

TEST_F(PublicRegistrationTest, NativeLoopbackOnARandomPortWithAuthMethodNone) {
  Start();
  const int random_port = 49152 + static_cast<int>(absl::ToUnixNanos(absl::Now()) % 16000);
  nlohmann::json native = {
      {"client_name", "CLI"},
      {"application_type", "native"},
      {"token_endpoint_auth_method", "none"},
      {"redirect_uris", {absl::StrCat("http://127.0.0.1:", random_port, "/callback")}}};
  Answer created = Curl(Post(native.dump()));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.Json()["token_endpoint_auth_method"], "none");
  native["redirect_uris"] = {absl::StrCat("http://[::1]:", random_port, "/callback")};
  EXPECT_EQ(Curl(Post(native.dump())).status, 201);
}

TEST_F(PublicRegistrationTest, RefusalsAreAnsweredBeforeAuthlete) {
  Start();
  env_->emulator().ResetStats();
  Answer web = Curl(Post(R"({"redirect_uris":["http://app.example.com/cb"]})"));
  EXPECT_EQ(web.status, 400);
  ExpectNoStoreJson(web);
  EXPECT_EQ(web.Json()["error"], "invalid_redirect_uri");
  Answer loopback_web = Curl(Post(R"({"redirect_uris":["http://127.0.0.1:8080/cb"]})"));
  EXPECT_EQ(loopback_web.Json()["error"], "invalid_redirect_uri");
  Answer grant = Curl(Post(
      R"({"redirect_uris":["https://a.example/cb"],"grant_types":["client_credentials"]})"));
  EXPECT_EQ(grant.Json()["error"], "invalid_client_metadata");
  Answer not_found = Curl({"GET", Url("/nothing")});
  EXPECT_EQ(not_found.status, 404);
  Answer wrong = Curl({"DELETE", Url("/register")});
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers["allow"], "POST");
  wrong = Curl({"POST", Url("/register/1"), "{}", {"Content-Type: application/json"}});
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers["allow"], "GET, PUT, DELETE");
  Answer big = Curl(Post(std::string(100 * 1024, ' ')));
  EXPECT_EQ(big.status, 413);
  Answer head = Curl({"GET", Url("/register/1"), "", {"X-Big: " + std::string(10000, 'a')}});
  EXPECT_EQ(head.status, 431);
  Answer no_token = Curl({"GET", Url("/register/1")});
  EXPECT_EQ(no_token.status, 401);
  EXPECT_EQ(no_token.headers["www-authenticate"], "Bearer");
  EXPECT_EQ(env_->emulator().stats().total, 0);
}

TEST_F(PublicRegistrationTest, AuthleteBadRequestRelayedVerbatim) {
  Start([](config::GatewayConfig& c) {
    // The gateway's policy lets it through; Authlete judges the metadata.
    c.public_registration.policy_file = "";
  });
  Answer bad = Curl(Post(R"({"redirect_uris":["https://a.example/cb"],"subject_type":"none-such"})"));
  EXPECT_EQ(bad.status, 400) << bad.body;
  ExpectNoStoreJson(bad);
  EXPECT_EQ(bad.Json()["error"], "invalid_client_metadata");
  EXPECT_THAT(bad.body, HasSubstr("error_description"));
}

TEST_F(PublicRegistrationTest, AuthleteDownIs503WithRetryAfterAndNoInternals) {
  Start([](config::GatewayConfig& c) { c.resilience.max_attempts = 1; });
  const std::string upstream = env_->emulator().base_url();
  env_->emulator().Shutdown();
  Answer down = Curl(Post(kWebClient));
  EXPECT_EQ(down.status, 503) << down.body;
  ExpectNoStoreJson(down);
  EXPECT_EQ(down.Json()["error"], "temporarily_unavailable");
  EXPECT_FALSE(down.headers["retry-after"].empty());
  EXPECT_THAT(down.body, Not(HasSubstr(upstream)));
  EXPECT_THAT(down.body, Not(HasSubstr("127.0.0.1")));
  EXPECT_THAT(down.body, Not(HasSubstr("Authlete")));
}

TEST_F(PublicRegistrationTest, AuthleteRefusingOrGarbledIs500WithoutInternals) {
  Start();
  for (emulator::FaultKind kind :
       {emulator::FaultKind::kHttpError, emulator::FaultKind::kUnknownAction,
        emulator::FaultKind::kMalformedJson}) {
    emulator::FaultSpec faults;
    emulator::FaultRule rule;
    rule.kind = kind;
    rule.http_status = 401;  // Authlete refusing the gateway's own credential
    rule.count = 1;
    faults.rules.push_back(rule);
    env_->emulator().SetFaults(faults);
    Answer failed = Curl(Post(kWebClient));
    EXPECT_EQ(failed.status, 500) << failed.body;
    ExpectNoStoreJson(failed);
    EXPECT_EQ(failed.Json()["error"], "server_error");
    EXPECT_THAT(failed.body, Not(HasSubstr("A001")));
    EXPECT_THAT(failed.body, Not(HasSubstr("Authlete")));
    EXPECT_THAT(failed.body, Not(HasSubstr("UNKNOWN_ACTION")));
  }
}

TEST_F(PublicRegistrationTest, FloodFromOneAddressWithoutAProxy) {
  Start([](config::GatewayConfig& c) {
    c.public_registration.per_address_rate = 0.1;
    c.public_registration.per_address_burst = 3;
  });
  env_->emulator().ResetStats();
  int limited = 0, other = 0;
  for (int i = 0; i < 20; ++i) {
    // X-Forwarded-For from a peer that is no trusted proxy changes nothing.
    Answer a = Curl(Post(kWebClient, {absl::StrCat("X-Forwarded-For: 203.0.113.", i)}));
    if (a.status == 429) {
      ++limited;
      EXPECT_FALSE(a.headers["retry-after"].empty());
      ExpectNoStoreJson(a);
    } else {
      ++other;
    }
  }
  EXPECT_EQ(other, 3);
  EXPECT_EQ(limited, 17);
  EXPECT_EQ(env_->emulator().stats().register_requests, 3);
}

TEST_F(PublicRegistrationTest, FloodBehindATrustedProxyIsPerClient) {
  Start([](config::GatewayConfig& c) {
    c.public_registration.per_address_rate = 0.1;
    c.public_registration.per_address_burst = 2;
    c.public_registration.trusted_proxies = {"127.0.0.0/8"};
  });
  // Each client behind the proxy has its own bucket...
  for (int client = 1; client <= 4; ++client) {
    const std::string xff = absl::StrCat("X-Forwarded-For: 198.51.100.", client, ", 127.0.0.2");
    EXPECT_EQ(Curl(Post(kWebClient, {xff})).status, 201);
    EXPECT_EQ(Curl(Post(kWebClient, {xff})).status, 201);
    EXPECT_EQ(Curl(Post(kWebClient, {xff})).status, 429);
  }
  // ...and one client flooding through it is limited alone.
  int limited = 0;
  for (int i = 0; i < 10; ++i) {
    limited += Curl(Post(kWebClient, {"Forwarded: for=192.0.2.77"})).status == 429;
  }
  EXPECT_EQ(limited, 8);
}

TEST_F(PublicRegistrationTest, SlowlorisClosedWithinTheHeaderTimeout) {
  Start();
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port_));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  const std::string head(200, 'a');
  const absl::Time start = absl::Now();
  bool closed = false;
  for (std::size_t i = 0; i < head.size() && !closed; ++i) {
    (void)!send(fd, i < 5 ? "POST " + i : head.data() + i, 1, MSG_NOSIGNAL);
    pollfd in = {fd, POLLIN, 0};
    if (poll(&in, 1, 200) > 0) {
      char c;
      closed = recv(fd, &c, 1, 0) <= 0;
    }
    if (absl::Now() - start > absl::Seconds(5)) break;
  }
  close(fd);
  EXPECT_TRUE(closed);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1800));
}

TEST_F(PublicRegistrationTest, ConnectionsBeyondTheLimitAreClosed) {
  Start([](config::GatewayConfig& c) {
    c.public_registration.max_connections = 2;
    c.public_registration.header_timeout = absl::Seconds(5);
  });
  std::vector<int> held;
  for (int i = 0; i < 2; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    held.push_back(fd);
  }
  absl::SleepFor(absl::Milliseconds(200));
  Answer refused = Curl(Post(kWebClient));
  EXPECT_EQ(refused.status, 0);  // closed at accept, no answer
  for (int fd : held) close(fd);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(Curl(Post(kWebClient)).status, 201);
}

TEST_F(PublicRegistrationTest, HttpsWithTheGrpcPortsCertificate) {
  TempDir dir("public-tls");
  absl::StatusOr<TestPki> pki = TestPki::Create("public CA");
  ASSERT_TRUE(pki.ok());
  LeafSpec spec;
  spec.common_name = "gateway";
  spec.ip_addresses = {"127.0.0.1"};
  absl::StatusOr<KeyPair> leaf = pki->Issue(spec);
  ASSERT_TRUE(leaf.ok());
  const std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  ca_file_ = dir.path() + "/ca.pem";
  ASSERT_TRUE(WriteFileAtomically(cert, leaf->cert_pem).ok());
  ASSERT_TRUE(WriteFileAtomically(key, leaf->key_pem).ok());
  ASSERT_TRUE(WriteFileAtomically(ca_file_, pki->ca_cert_pem()).ok());
  Start(
      [cert, key](config::GatewayConfig& c) {
        c.insecure_plaintext = false;
        c.tls.cert_file = cert;
        c.tls.key_file = key;
      },
      "https");
  Answer created = Curl(Post(kWebClient));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_THAT(std::string(created.Json()["registration_client_uri"]), StartsWith("https://"));
  // Plain HTTP on the TLS port gets no registration.
  Call plain = Post(kWebClient);
  plain.url = absl::StrCat("http://127.0.0.1:", port_, "/register");
  EXPECT_NE(Curl(plain).status, 201);
}

TEST_F(PublicRegistrationTest, InitialAccessTokens) {
  TempDir dir("iat");
  const std::string file = dir.path() + "/iat.json";
  std::ofstream(file) << absl::StrCat(
      R"({"initial_access_tokens":[{"name":"partner","token_sha256":")",
      callers::HashApiKeyHex("iat-secret-1"),
      R"(","expires_at":"2099-01-01T00:00:00Z","max_uses":1}]})");
  Start([file](config::GatewayConfig& c) {
    c.public_registration.access = config::PublicRegistrationConfig::Access::kInitialAccessToken;
    c.public_registration.initial_access_tokens_file = file;
  });
  Answer none = Curl(Post(kWebClient));
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.headers["www-authenticate"], "Bearer");
  Answer wrong = Curl(Post(kWebClient, {"Authorization: Bearer nope"}));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_THAT(wrong.headers["www-authenticate"], HasSubstr("invalid_token"));
  EXPECT_EQ(Curl(Post(kWebClient, {"Authorization: Bearer iat-secret-1"})).status, 201);
  EXPECT_EQ(Curl(Post(kWebClient, {"Authorization: Bearer iat-secret-1"})).status, 401);
}

// A request waiting on Authlete when the gateway stops: the shutdown is
// bounded by its grace, the request is answered or its connection closed,
// and the endpoint outlives the call that was cancelled.
TEST_F(PublicRegistrationTest, ShutdownWithARequestWaitingOnAuthlete) {
  Start();
  emulator::FaultSpec slow;
  emulator::FaultRule rule;
  rule.kind = emulator::FaultKind::kLatency;
  rule.latency_ms = 3000;
  slow.rules.push_back(rule);
  env_->emulator().SetFaults(slow);
  Answer answer;
  std::thread client([&] { answer = Curl(Post(kWebClient)); });
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time start = absl::Now();
  env_->gateway().Shutdown(absl::Milliseconds(500));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  client.join();
  EXPECT_NE(answer.status, 201);
}

}  // namespace
}  // namespace dcr::testing
