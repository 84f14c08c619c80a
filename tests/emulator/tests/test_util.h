// Test helpers: a libcurl easy client and DCR call shortcuts.
#ifndef DCR_TESTS_EMULATOR_TESTS_TEST_UTIL_H_
#define DCR_TESTS_EMULATOR_TESTS_TEST_UTIL_H_

#include <curl/curl.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/emulator/emulator.h"

namespace dcr::emulator::testing {

using nlohmann::json;

struct HttpResult {
  CURLcode curl_code = CURLE_OK;
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  double seconds = 0;

  std::string Header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(k, name)) return v;
    }
    return "";
  }
  json Json() const { return json::parse(body, nullptr, false); }
};

// One easy handle: consecutive requests reuse the connection (keep-alive).
class TestClient {
 public:
  TestClient() : curl_(curl_easy_init()) {}
  ~TestClient() { curl_easy_cleanup(curl_); }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  // Trust this PEM CA bundle for https:// URLs instead of the system's.
  void set_ca_file(std::string path) { ca_file_ = std::move(path); }

  HttpResult Request(const std::string& method, const std::string& url,
                     const std::vector<std::string>& headers, const std::string& body,
                     long timeout_ms = 10000) {
    HttpResult result;
    curl_easy_reset(curl_);
    curl_slist* list = nullptr;
    for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method != "GET" || !body.empty()) {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    if (method == "GET" && body.empty()) curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &TestClient::OnBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &result.body);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &TestClient::OnHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &result.headers);
    if (!ca_file_.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, ca_file_.c_str());
    auto start = std::chrono::steady_clock::now();
    result.curl_code = curl_easy_perform(curl_);
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &result.status);
    curl_slist_free_all(list);
    return result;
  }

 private:
  static size_t OnBody(char* data, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
  }
  static size_t OnHeader(char* data, size_t size, size_t n, void* out) {
    std::string line(data, size * n);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      static_cast<std::vector<std::pair<std::string, std::string>>*>(out)->emplace_back(
          line.substr(0, colon),
          std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
    }
    return size * n;
  }
  CURL* curl_;
  std::string ca_file_;
};

inline HttpResult Request(const std::string& method, const std::string& url,
                          const std::vector<std::string>& headers, const std::string& body,
                          long timeout_ms = 10000) {
  TestClient client;
  return client.Request(method, url, headers, body, timeout_ms);
}

inline std::string OpSuffix(Operation op) {
  switch (op) {
    case Operation::kRegister: return "/client/registration";
    case Operation::kGet: return "/client/registration/get";
    case Operation::kUpdate: return "/client/registration/update";
    case Operation::kDelete: return "/client/registration/delete";
    default: break;  // the management paths take a client id: see their tests
  }
  return "";
}

inline std::string V3Url(const Emulator& e, Operation op,
                         const std::string& service_id = kDefaultServiceId) {
  return absl::StrCat(e.base_url(), "/api/", service_id, OpSuffix(op));
}

inline std::string V2Url(const Emulator& e, Operation op) {
  return absl::StrCat(e.base_url(), "/api", OpSuffix(op));
}

inline std::string Bearer(const std::string& token) {
  return absl::StrCat("Authorization: Bearer ", token);
}

inline std::string Basic(const std::string& key, const std::string& secret) {
  return absl::StrCat("Authorization: Basic ", absl::Base64Escape(absl::StrCat(key, ":", secret)));
}

// A processed DCR call: the HTTP result, the parsed body and responseContent.
struct DcrCall {
  HttpResult http;
  json body;     // the ClientRegistrationResponse
  json content;  // responseContent parsed (null if absent)

  std::string action() const { return body.value("action", ""); }
  std::string result_code() const { return body.value("resultCode", ""); }
  std::string error() const { return content.is_object() ? content.value("error", "") : ""; }
};

inline DcrCall ToDcrCall(HttpResult http) {
  DcrCall call;
  call.body = http.Json();
  if (call.body.is_object() && call.body.contains("responseContent")) {
    call.content = json::parse(call.body["responseContent"].get<std::string>(), nullptr, false);
  }
  call.http = std::move(http);
  return call;
}

inline DcrCall CallV3(const Emulator& e, Operation op, const json& params,
                      const std::string& token = kDefaultServiceToken,
                      const std::string& service_id = kDefaultServiceId) {
  return ToDcrCall(Request("POST", V3Url(e, op, service_id),
                           {Bearer(token), "Content-Type: application/json",
                            "Accept: application/json"},
                           params.dump()));
}

inline DcrCall CallV2(const Emulator& e, Operation op, const json& params,
                      const std::string& key = kDefaultServiceId,
                      const std::string& secret = kDefaultApiSecret) {
  return ToDcrCall(Request("POST", V2Url(e, op),
                           {Basic(key, secret), "Content-Type: application/json",
                            "Accept: application/json"},
                           params.dump()));
}

inline json RegisterParams(const json& metadata) { return json{{"json", metadata.dump()}}; }

inline json MinimalMetadata() {
  return json{{"redirect_uris", {"https://client.example.org/cb"}},
              {"client_name", "My Dynamic Client"}};
}

inline std::string ClientIdOf(const DcrCall& c) { return c.content.value("client_id", ""); }
inline std::string TokenOf(const DcrCall& c) {
  return c.content.value("registration_access_token", "");
}

inline json ManageParams(const DcrCall& registered) {
  return json{{"clientId", ClientIdOf(registered)}, {"token", TokenOf(registered)}};
}

}  // namespace dcr::emulator::testing

#endif  // DCR_TESTS_EMULATOR_TESTS_TEST_UTIL_H_
