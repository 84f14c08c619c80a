#include "tests/emulator/emulator.h"

#include <cstdio>
#include <deque>
#include <exception>
#include <limits>

#include <nlohmann/json.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "tests/emulator/client_store.h"
#include "tests/emulator/crypto_util.h"
#include "tests/emulator/dcr_handler.h"
#include "tests/emulator/http_server.h"
#include "tests/emulator/introspection.h"
#include "tests/emulator/json_util.h"

namespace dcr::emulator {

namespace {

using nlohmann::json;

constexpr char kJsonContentType[] = "application/json;charset=UTF-8";

HttpResponse JsonResponse(int status, const std::string& body) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", kJsonContentType);
  r.body = body;
  return r;
}

HttpResponse FromApiResponse(ApiResponse a) {
  HttpResponse r = JsonResponse(a.http_status, a.body);
  for (auto& h : a.headers) r.headers.push_back(std::move(h));
  r.log_action = a.action.empty() ? a.result_code : a.action;
  return r;
}

// Authlete's paths all start with /api/, so no admin path can be taken for one.
bool IsAdminPath(absl::string_view path) {
  return path == "/emulator" || absl::StartsWith(path, "/emulator/");
}

// Bounds of "expires_in": ten years either way, far from any overflow.
constexpr int64_t kMaxExpiresInSeconds = 10LL * 365 * 24 * 3600;

// The body of POST /emulator/tokens: RFC 6749's names (scopes as an array).
absl::StatusOr<AccessTokenSpec> ParseAccessTokenSpec(const std::string& text) {
  absl::StatusOr<json> body = ParseJson(text.empty() ? "{}" : text);
  if (!body.ok() || !body->is_object()) {
    return absl::InvalidArgumentError("the body must be a JSON object");
  }
  AccessTokenSpec spec;
  for (auto it = body->begin(); it != body->end(); ++it) {
    const std::string& name = it.key();
    const json& v = *it;
    if (name == "scopes") {
      if (!v.is_array()) return absl::InvalidArgumentError("\"scopes\" must be an array");
      for (const json& scope : v) {
        if (!scope.is_string() || !IsValidScopeName(scope.get<std::string>())) {
          return absl::InvalidArgumentError(
              "\"scopes\" must hold scope names (RFC 6749: printable ASCII, no space, '\"' "
              "or '\\')");
        }
        spec.scopes.push_back(scope.get<std::string>());
      }
    } else if (name == "expires_in") {
      if (!v.is_number_integer() ||
          (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{kMaxExpiresInSeconds}) ||
          v.get<int64_t>() > kMaxExpiresInSeconds || v.get<int64_t>() < -kMaxExpiresInSeconds) {
        return absl::InvalidArgumentError(
            absl::StrCat("\"expires_in\" must be an integer in [", -kMaxExpiresInSeconds, ", ",
                         kMaxExpiresInSeconds, "] (seconds; <= 0 = already expired)"));
      }
      spec.expires_in = absl::Seconds(v.get<int64_t>());
    } else if (name == "subject") {
      if (!v.is_string()) return absl::InvalidArgumentError("\"subject\" must be a string");
      spec.subject = v.get<std::string>();
    } else if (name == "client_id") {
      if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0) ||
          (v.is_number_unsigned() &&
           v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
        return absl::InvalidArgumentError("\"client_id\" must be a non-negative integer");
      }
      spec.client_id = v.get<int64_t>();
    } else if (name == "service_id") {
      if (!v.is_string()) return absl::InvalidArgumentError("\"service_id\" must be a string");
      spec.service_id = v.get<std::string>();
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown member \"", name,
          "\" (scopes, expires_in, subject, client_id, service_id)"));
    }
  }
  return spec;
}

}  // namespace

class Emulator::Application : public HttpApplication {
 public:
  Application(const EmulatorOptions& options, std::unique_ptr<ClientStore> store)
      : admin_token_(options.admin_token),
        max_recorded_(options.max_recorded_requests),
        services_(options.services),
        store_(std::move(store)),
        tokens_(options.max_access_tokens),
        handler_(EmulatorConfig{options.services, options.organization_token}, store_.get(),
                 &tokens_) {
    faults_.Set(options.faults);
  }

  FaultInjector& faults() { return faults_; }

  absl::StatusOr<IssuedAccessToken> IssueAccessToken(AccessTokenSpec spec) {
    if (spec.service_id.empty()) spec.service_id = services_.front().service_id;
    bool known = false;
    for (const ServiceConfig& s : services_) known = known || s.service_id == spec.service_id;
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("no service '", spec.service_id, "' in this emulator"));
    }
    for (const std::string& scope : spec.scopes) {
      if (!IsValidScopeName(scope)) {
        return absl::InvalidArgumentError("a scope name must be 1*NQCHAR (RFC 6749 §3.3)");
      }
    }
    return tokens_.Issue(spec, absl::Now());
  }

  void ClearAccessTokens() { tokens_.Clear(); }

  RequestPlan Plan(const HttpRequest& request) override {
    RequestPlan plan;
    std::string path = request.Path();
    if (IsAdminPath(path)) return plan;
    absl::optional<ApiRoute> route = ParseApiRoute(path);
    FaultDecision decision;
    if (route) decision = faults_.Decide(route->operation);
    plan.delay_ms = decision.delay_ms;
    plan.fault = decision.outcome;

    absl::MutexLock lock(&mu_);
    CountRequest(route);
    if (decision.fired > 0) ++stats_.faults_injected;
    if (max_recorded_ > 0) {
      recorded_.push_back(
          RecordedRequest{request.method, request.target, request.headers, request.body});
      while (recorded_.size() > max_recorded_) recorded_.pop_front();
    }
    return plan;
  }

  HttpResponse Handle(const HttpRequest& request, const RequestPlan& plan) override {
    // Last line of defence: nothing may escape into an asio handler (it would
    // end the process). E.g. a hand-edited store file with odd value types.
    try {
      return HandleUnsafe(request, plan);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "authlete-emulator: internal error: %s\n", e.what());
      return FromApiResponse(MakeRefusal(500, kCodeServerError, "Authlete Server error."));
    }
  }

  HttpResponse HandleUnsafe(const HttpRequest& request, const RequestPlan& plan) {
    std::string path = request.Path();
    if (IsAdminPath(path)) return HandleAdmin(request, path);
    absl::optional<FaultKind> fault;
    if (plan.fault) fault = plan.fault->kind;
    // Faults that answer instead of Authlete: the request is not processed.
    if (fault == FaultKind::kHttpError) {
      HttpResponse r = plan.fault->body.empty()
                           ? FromApiResponse(MakeRefusal(plan.fault->http_status, kCodeServerError,
                                                         "Authlete Server error."))
                           : JsonResponse(plan.fault->http_status, plan.fault->body);
      r.status = plan.fault->http_status;
      return r;
    }
    if (fault == FaultKind::kRateLimit) {
      HttpResponse r = FromApiResponse(MakeRefusal(429, kCodeTooManyRequests, "Too many requests."));
      r.headers.emplace_back("Retry-After", std::to_string(plan.fault->retry_after_seconds));
      return r;
    }

    absl::optional<ApiRoute> route = ParseApiRoute(path);
    ApiResponse answer;
    if (!route) {
      answer = MakeRefusal(404, kCodeNoSuchApi, absl::StrCat("No API exists at '", path, "'."));
    } else if (fault == FaultKind::kInternalServerError) {
      answer = InternalServerErrorAnswer(route->operation);  // not processed
    } else {
      ApiRequest api;
      api.method = request.method;
      api.authorization = request.Header("Authorization");
      api.content_type = request.Header("Content-Type").value_or("");
      api.body = request.body;
      const size_t question = request.target.find('?');
      if (question != std::string::npos) api.query = request.target.substr(question + 1);
      answer = handler_.Handle(*route, api);
    }
    if (answer.http_status != 200) {
      absl::MutexLock lock(&mu_);
      ++stats_.refused;
    }
    HttpResponse r = FromApiResponse(std::move(answer));

    if (fault == FaultKind::kMalformedJson) {
      // A prefix of a JSON object is never valid JSON.
      r.body = r.body.substr(0, r.body.size() / 2);
      r.status = 200;
    } else if (fault == FaultKind::kUnknownAction && r.status == 200) {
      absl::StatusOr<json> body = ParseJson(r.body);
      if (body.ok() && body->is_object()) {
        (*body)["action"] = plan.fault->action_value;
        r.body = DumpJson(*body);
        r.log_action = plan.fault->action_value;
      }
    }
    return r;
  }

  HttpResponse ProtocolError(int status, const std::string& path) override {
    if (!IsAdminPath(path)) {
      absl::optional<ApiRoute> route = ParseApiRoute(path);
      absl::MutexLock lock(&mu_);
      CountRequest(route);
      ++stats_.refused;
    }
    if (status == 413) {
      return FromApiResponse(
          MakeRefusal(413, kCodeBodyTooLarge, "The request body is too large."));
    }
    return FromApiResponse(MakeRefusal(status, kCodeMalformedHttp, "The HTTP request is malformed."));
  }

  void OnConnectionOpened() override {
    absl::MutexLock lock(&mu_);
    ++stats_.connections_accepted;
    ++stats_.active_connections;
    stats_.peak_connections = std::max(stats_.peak_connections, stats_.active_connections);
  }

  void OnConnectionClosed() override {
    absl::MutexLock lock(&mu_);
    --stats_.active_connections;
  }

  Stats stats() const {
    Stats s;
    {
      absl::MutexLock lock(&mu_);
      s = stats_;
    }
    s.clients_stored = static_cast<int64_t>(store_->size());
    s.access_tokens_stored = static_cast<int64_t>(tokens_.size());
    return s;
  }

  void ResetStats() {
    absl::MutexLock lock(&mu_);
    Stats fresh;
    fresh.active_connections = stats_.active_connections;
    fresh.peak_connections = stats_.active_connections;
    stats_ = fresh;
    recorded_.clear();
  }

  std::vector<RecordedRequest> recorded() const {
    absl::MutexLock lock(&mu_);
    return std::vector<RecordedRequest>(recorded_.begin(), recorded_.end());
  }

 private:
  void CountRequest(const absl::optional<ApiRoute>& route) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ++stats_.total;
    if (!route) {
      ++stats_.other_requests;
      return;
    }
    switch (route->operation) {
      case Operation::kRegister: ++stats_.register_requests; break;
      case Operation::kGet: ++stats_.get_requests; break;
      case Operation::kUpdate: ++stats_.update_requests; break;
      case Operation::kDelete: ++stats_.delete_requests; break;
      case Operation::kListClients:
      case Operation::kGetClientRecord:
      case Operation::kRefreshSecret:
      case Operation::kUpdateSecret:
      case Operation::kUpdateLockFlag: ++stats_.management_requests; break;
      case Operation::kIntrospection: ++stats_.introspection_requests; break;
    }
  }

  HttpResponse AdminError(int status, const std::string& message) {
    return JsonResponse(status, DumpJson(json{{"error", message}}));
  }

  HttpResponse HandleAdmin(const HttpRequest& request, const std::string& path) {
    if (!admin_token_.empty()) {
      std::string auth = request.Header("Authorization").value_or("");
      absl::string_view presented = auth;
      if (!absl::ConsumePrefix(&presented, "Bearer ") ||
          !SecretEquals(absl::StripAsciiWhitespace(presented), admin_token_)) {
        HttpResponse r = AdminError(401, "the admin endpoints need 'Authorization: Bearer <admin_token>'");
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"authlete-emulator\"");
        return r;
      }
    }
    const std::string& m = request.method;
    if (path == "/emulator/faults") {
      if (m == "GET") return JsonResponse(200, FaultSpecToJson(faults_.Get()));
      if (m == "POST") {
        absl::StatusOr<FaultSpec> spec = ParseFaultSpec(request.body);
        if (!spec.ok()) return AdminError(400, std::string(spec.status().message()));
        faults_.Set(*spec);
        return JsonResponse(200, FaultSpecToJson(faults_.Get()));
      }
      if (m == "DELETE") {
        faults_.Clear();
        return JsonResponse(200, FaultSpecToJson(FaultSpec{}));
      }
      return AdminError(405, "use GET, POST or DELETE");
    }
    if (path == "/emulator/stats") {
      if (m != "GET") return AdminError(405, "use GET");
      Stats s = stats();
      return JsonResponse(
          200, DumpJson(json{{"total", s.total},
                             {"register", s.register_requests},
                             {"get", s.get_requests},
                             {"update", s.update_requests},
                             {"delete", s.delete_requests},
                             {"management", s.management_requests},
                             {"introspection", s.introspection_requests},
                             {"other", s.other_requests},
                             {"refused", s.refused},
                             {"faultsInjected", s.faults_injected},
                             {"connectionsAccepted", s.connections_accepted},
                             {"activeConnections", s.active_connections},
                             {"peakConnections", s.peak_connections},
                             {"clientsStored", s.clients_stored},
                             {"accessTokensStored", s.access_tokens_stored}}));
    }
    if (path == "/emulator/reset") {
      if (m != "POST") return AdminError(405, "use POST");
      ResetStats();
      return JsonResponse(200, DumpJson(json{{"reset", true}}));
    }
    if (path == "/emulator/tokens") return HandleTokens(request);
    if (path == "/emulator/health") {
      return JsonResponse(200, DumpJson(json{{"status", "ok"}}));
    }
    return AdminError(404, absl::StrCat("no admin endpoint at '", path, "'"));
  }

  // POST: issue an access token; GET: how many are held; DELETE: drop them all.
  HttpResponse HandleTokens(const HttpRequest& request) {
    const std::string& m = request.method;
    if (m == "GET") {
      return JsonResponse(200, DumpJson(json{{"count", tokens_.size()},
                                             {"max", tokens_.max_tokens()}}));
    }
    if (m == "DELETE") {
      tokens_.Clear();
      return JsonResponse(200, DumpJson(json{{"count", 0}, {"max", tokens_.max_tokens()}}));
    }
    if (m != "POST") return AdminError(405, "use POST, GET or DELETE");
    absl::StatusOr<AccessTokenSpec> spec = ParseAccessTokenSpec(request.body);
    if (!spec.ok()) return AdminError(400, std::string(spec.status().message()));
    const int64_t expires_in = absl::ToInt64Seconds(spec->expires_in);
    const std::string scope = absl::StrJoin(spec->scopes, " ");
    absl::StatusOr<IssuedAccessToken> issued = IssueAccessToken(*std::move(spec));
    if (absl::IsResourceExhausted(issued.status())) {
      return AdminError(503, std::string(issued.status().message()));
    }
    if (absl::IsInvalidArgument(issued.status())) {
      return AdminError(400, std::string(issued.status().message()));
    }
    if (!issued.ok()) return AdminError(500, std::string(issued.status().message()));
    // As an RFC 6749 token response, plus the absolute expiry introspection reports.
    return JsonResponse(200, DumpJson(json{{"access_token", issued->access_token},
                                           {"token_type", "Bearer"},
                                           {"expires_in", expires_in},
                                           {"expires_at", issued->expires_at_ms},
                                           {"scope", scope}}));
  }

  const std::string admin_token_;
  const size_t max_recorded_;
  const std::vector<ServiceConfig> services_;
  std::unique_ptr<ClientStore> store_;
  AccessTokenStore tokens_;
  DcrHandler handler_;
  FaultInjector faults_;
  mutable absl::Mutex mu_;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::deque<RecordedRequest> recorded_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<Emulator>> Emulator::Start(EmulatorOptions options) {
  if (absl::Status st = ValidateServices(options.services); !st.ok()) return st;
  if (options.max_access_tokens < 1) {
    return absl::InvalidArgumentError("max_access_tokens must be at least 1");
  }
  RaiseFileDescriptorLimit();
  absl::StatusOr<std::unique_ptr<ClientStore>> store = ClientStore::Open(options.store_file);
  if (!store.ok()) return store.status();

  std::unique_ptr<Emulator> emulator(new Emulator());
  emulator->app_ = std::make_unique<Application>(options, *std::move(store));
  HttpServerOptions http;
  http.address = options.listen_address;
  http.port = options.port;
  http.threads = options.threads;
  http.max_body_bytes = options.max_body_bytes;
  http.idle_timeout = options.idle_timeout;
  http.log_requests = options.log_requests;
  http.tls_cert_file = options.tls_cert_file;
  http.tls_key_file = options.tls_key_file;
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(http, emulator->app_.get());
  if (!server.ok()) return server.status();
  emulator->server_ = *std::move(server);
  std::string host = options.listen_address;
  // A wildcard address is not something to connect to.
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
  emulator->base_url_ = absl::StrCat(emulator->server_->tls() ? "https://" : "http://", host, ":",
                                     emulator->server_->port());
  return emulator;
}

Emulator::~Emulator() { Shutdown(); }

int Emulator::port() const { return server_ ? server_->port() : 0; }
std::string Emulator::base_url() const { return base_url_; }
void Emulator::SetFaults(FaultSpec faults) { app_->faults().Set(std::move(faults)); }
void Emulator::ClearFaults() { app_->faults().Clear(); }
FaultSpec Emulator::faults() const { return app_->faults().Get(); }
Stats Emulator::stats() const { return app_->stats(); }
void Emulator::ResetStats() { app_->ResetStats(); }
std::vector<RecordedRequest> Emulator::recorded_requests() const { return app_->recorded(); }

absl::StatusOr<std::string> Emulator::IssueAccessToken(const AccessTokenSpec& spec) {
  absl::StatusOr<IssuedAccessToken> issued = app_->IssueAccessToken(spec);
  if (!issued.ok()) return issued.status();
  return issued->access_token;
}

void Emulator::ClearAccessTokens() { app_->ClearAccessTokens(); }

void Emulator::Shutdown() {
  if (server_) server_->Shutdown();
}

}  // namespace dcr::emulator
