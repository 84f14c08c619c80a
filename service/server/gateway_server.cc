#include "service/server/gateway_server.h"

#include <thread>
#include <utility>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "service/authlete/authlete_client.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "service/reflection/descriptor_set_bytes.h"
#include "service/callers/caller_guard.h"
#include "service/state/fallback_state_store.h"
#include "service/state/in_process_state_store.h"
#include "service/state/redis_state_store.h"
#include "service/telemetry/logging.h"

namespace dcr::server {
namespace {

using config::CallerTlsConfig;
using config::GatewayConfig;

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// The first PEM certificate of `path`; the error names the file, never its
// content.
absl::StatusOr<X509Ptr> ReadCertificate(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
  if (bio == nullptr) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (cert == nullptr) return absl::InvalidArgumentError(absl::StrCat(path, ": no PEM certificate"));
  return cert;
}

// The TLS files gRPC's file watcher will load, checked now: the watcher only
// logs a bad file and fails every handshake, which is a poor way to learn of
// a typo in a path.
absl::Status CheckTlsFiles(const CallerTlsConfig& tls) {
  absl::StatusOr<X509Ptr> cert = ReadCertificate(tls.cert_file);
  if (!cert.ok()) return cert.status();
  BioPtr key_bio(BIO_new_file(tls.key_file.c_str(), "r"), &BIO_free);
  if (key_bio == nullptr) return absl::InvalidArgumentError(absl::StrCat("cannot read ", tls.key_file));
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (key == nullptr) {
    // Never echo the file's content: it is a private key.
    return absl::InvalidArgumentError(absl::StrCat(tls.key_file, ": no PEM private key"));
  }
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(tls.key_file, " does not match ", tls.cert_file));
  }
  if (!tls.client_ca_file.empty()) {
    absl::StatusOr<X509Ptr> ca = ReadCertificate(tls.client_ca_file);
    if (!ca.ok()) return ca.status();
  }
  ERR_clear_error();
  return absl::OkStatus();
}

// The gRPC port's credentials: TLS from watched files, or plaintext when
// explicitly asked for (ValidateConfig enforces one or the other).
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const GatewayConfig& config) {
  if (config.insecure_plaintext) return grpc::InsecureServerCredentials();
  const CallerTlsConfig& tls = config.tls;
  const auto interval =
      static_cast<unsigned int>(absl::ToInt64Seconds(tls.reload_interval));
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file, tls.cert_file, tls.client_ca_file, interval);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (tls.client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(tls.require_client_certificate
                                      ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                      : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

// Room for gRPC framing and the other request fields around the metadata.
constexpr std::size_t kRequestOverheadBytes = 16 * 1024;

// The budget in force: the configured bounds, else those derived from the
// container's memory limit.
admission::BudgetOptions BudgetOf(const config::AdmissionConfig& config,
                                  const admission::DerivedBudget& derived) {
  admission::BudgetOptions budget;
  budget.max_bytes = config.memory_budget_bytes > 0 ? config.memory_budget_bytes
                                                    : derived.call_bytes;
  budget.max_calls = config.max_calls_in_flight > 0 ? config.max_calls_in_flight
                                                    : admission::DefaultMaxCalls(budget.max_bytes);
  budget.caller_share = config.caller_budget_share;
  return budget;
}

// The store of request_id records the configuration names, with the log line
// and the metrics that say which one is in force.
absl::StatusOr<std::shared_ptr<state::StateStore>> MakeStateStore(
    const config::StateStoreConfig& config, metrics::Registry& registry) {
  const std::string kind(config::StateStoreKindName(config.kind));
  const std::string mode(config::WhenUnavailableName(config.when_unavailable));
  registry
      .Add("dcr_gateway_state_store_mode",
           "The state store in force (1): store in_process or redis, and what calls that "
           "need an unreachable Redis get (when_unavailable refuse or local).",
           metrics::Type::kGauge, {"store", "when_unavailable"})
      .With({kind, mode})
      .Set(1);
  metrics::Series* up =
      &registry
           .Add("dcr_gateway_state_store_up",
                "1 while the state store can answer (the in-process store always can).",
                metrics::Type::kGauge, {"store"})
           .With({kind});
  state::InProcessOptions local;
  local.max_records = static_cast<std::size_t>(config.max_records);
  if (config.kind == config::StateStoreConfig::Kind::kInProcess) {
    up->Set(1);
    telemetry::Log(telemetry::LogLevel::kInfo, "state store",
                   {{"store", kind},
                    {"note", std::string("request_id records are this replica's own")}});
    return std::shared_ptr<state::StateStore>(
        std::make_shared<state::InProcessStateStore>(local));
  }
  absl::StatusOr<state::RecordCipher> cipher = state::RecordCipher::FromFile(config.keys_file);
  if (!cipher.ok()) return cipher.status();
  state::RedisOptions redis;
  redis.host = config.redis_host;
  redis.port = config.redis_port;
  redis.password_file = config.redis_password_file;
  redis.username = config.redis_username;
  redis.tls.enabled = config.redis_tls;
  redis.tls.ca_file = config.redis_tls_ca_file;
  redis.tls.server_name = config.redis_tls_server_name;
  redis.tls.cert_file = config.redis_tls_cert_file;
  redis.tls.key_file = config.redis_tls_key_file;
  redis.key_prefix = config.redis_key_prefix;
  const std::string address = absl::StrCat(config.redis_host, ":", config.redis_port);
  redis.on_connection_change = [up, address, mode](bool connected, const std::string& reason) {
    up->Set(connected ? 1 : 0);
    telemetry::Log(connected ? telemetry::LogLevel::kInfo : telemetry::LogLevel::kWarning,
                   connected ? "state store connected" : "state store unreachable",
                   {{"store", std::string("redis")},
                    {"address", address},
                    {"when_unavailable", mode},
                    {"reason", reason}});
  };
  absl::StatusOr<std::unique_ptr<state::RedisStateStore>> store =
      state::RedisStateStore::Create(std::move(redis), *std::move(cipher));
  if (!store.ok()) return store.status();
  telemetry::Log(telemetry::LogLevel::kInfo, "state store",
                 {{"store", kind},
                  {"address", address},
                  {"tls", std::string(config.redis_tls ? "on" : "off")},
                  {"when_unavailable", mode}});
  std::shared_ptr<state::StateStore> shared = *std::move(store);
  if (config.when_unavailable == config::StateStoreConfig::WhenUnavailable::kLocal) {
    return std::shared_ptr<state::StateStore>(std::make_shared<state::FallbackStateStore>(
        std::move(shared), std::make_shared<state::InProcessStateStore>(local)));
  }
  return shared;
}

// The public registration endpoint of `config`, on `authlete` and the
// RPCs' call options: its policy, tokens and proxies read and checked now.
absl::StatusOr<std::shared_ptr<public_registration::RegistrationEndpoint>> MakePublicEndpoint(
    const GatewayConfig& config, const registration::ClientRegistrationService::Options& rpc,
    std::shared_ptr<authlete::AuthleteConnection> authlete, metrics::Registry* registry) {
  using public_registration::RegistrationEndpoint;
  const config::PublicRegistrationConfig& pub = config.public_registration;
  callers::PublicRegistrationPolicy policy = callers::DefaultPublicPolicy();
  if (!pub.policy_file.empty()) {
    absl::StatusOr<callers::PublicRegistrationPolicy> loaded =
        callers::LoadPublicPolicyFile(pub.policy_file);
    if (!loaded.ok()) return loaded.status();
    policy = *std::move(loaded);
  }
  std::shared_ptr<public_registration::InitialAccessTokens> tokens;
  if (pub.access == RegistrationEndpoint::Access::kInitialAccessToken) {
    absl::StatusOr<std::vector<public_registration::InitialAccessTokens::Entry>> entries =
        public_registration::InitialAccessTokens::Load(pub.initial_access_tokens_file);
    if (!entries.ok()) return entries.status();
    tokens = std::make_shared<public_registration::InitialAccessTokens>(*std::move(entries));
  }
  absl::StatusOr<public_registration::TrustedProxies> proxies =
      public_registration::TrustedProxies::Parse(pub.trusted_proxies);
  if (!proxies.ok()) return proxies.status();
  RegistrationEndpoint::Options options;
  options.access = pub.access;
  options.required_scope = pub.required_scope;
  options.upstream_timeout = config.max_upstream_timeout;
  options.call = rpc.call;
  options.observe = rpc.observe;
  options.rate.per_address_rate = pub.per_address_rate;
  options.rate.per_address_burst = pub.per_address_burst;
  options.rate.max_addresses = static_cast<std::size_t>(pub.max_addresses);
  options.rate.global_rate = pub.global_rate;
  options.rate.global_burst = pub.global_burst;
  return std::make_shared<RegistrationEndpoint>(std::move(options), std::move(policy),
                                                std::move(tokens), *std::move(proxies),
                                                std::move(authlete), registry);
}

}  // namespace

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    const GatewayConfig& config) {
  if (absl::Status valid = config::ValidateConfig(config); !valid.ok()) return valid;
  if (!config.insecure_plaintext) {
    if (absl::Status tls = CheckTlsFiles(config.tls); !tls.ok()) return tls;
  }
  absl::optional<std::vector<callers::CallerPolicy>> callers;
  if (!config.callers_file.empty()) {
    absl::StatusOr<std::vector<callers::CallerPolicy>> loaded =
        callers::LoadCallersFile(config.callers_file);
    if (!loaded.ok()) return loaded.status();
    callers = *std::move(loaded);
  }

  std::unique_ptr<GatewayServer> gateway(new GatewayServer());
  gateway->registry_.AddCollectable(metrics::ProcessMetrics());
  gateway->derived_budget_ = admission::DeriveBudget(admission::CgroupMemoryLimit());
  const std::size_t caller_count = callers.has_value() ? callers->size() : 1;
  gateway->budget_ = std::make_shared<admission::InFlightBudget>(
      BudgetOf(config.admission, gateway->derived_budget_), caller_count);
  {
    metrics::Registry& r = gateway->registry_;
    const admission::BudgetOptions& b = gateway->budget_->options();
    r.Add("dcr_gateway_admission_budget_bytes",
          "Bytes the calls in flight may hold (estimated per call).", metrics::Type::kGauge)
        .With({})
        .Set(static_cast<double>(b.max_bytes));
    r.Add("dcr_gateway_admission_max_calls", "Calls that may be in flight at once.",
          metrics::Type::kGauge)
        .With({})
        .Set(static_cast<double>(b.max_calls));
    gateway->budget_bytes_in_use_ =
        &r.Add("dcr_gateway_admission_bytes_in_use",
               "Bytes of the budget the calls in flight hold (estimated per call).",
               metrics::Type::kGauge)
             .With({});
    gateway->budget_calls_in_use_ =
        &r.Add("dcr_gateway_admission_calls_in_use", "Calls holding a share of the budget.",
               metrics::Type::kGauge)
             .With({});
  }
  http::CurlOptions curl;
  curl.connect_timeout = config.upstream_connect_timeout;
  curl.max_response_bytes = config.max_upstream_response_bytes;
  curl.ca_file = config.authlete_ca_file;
  curl.max_host_connections = config.max_upstream_connections;
  absl::StatusOr<std::unique_ptr<http::CurlMultiHttpClient>> http =
      http::CurlMultiHttpClient::Create(curl);
  if (!http.ok()) return http.status();
  gateway->http_ = std::move(*http);
  gateway->authlete_ = std::make_shared<resilience::ResilientAuthleteConnection>(
      config.resilience, std::make_shared<authlete::AuthleteClient>(config.authlete, gateway->http_),
      &gateway->registry_);

  registration::ClientRegistrationService::Options options;
  options.call.default_service_id = config.default_service_id;
  options.call.allowed_service_ids = config.allowed_service_ids;
  options.call.max_metadata_bytes = config.max_metadata_bytes;
  // Every replica holds the same credential, so each accepts the page
  // tokens of the others; the key reveals nothing of it.
  options.call.page_token_key = registration::PageTokens::DeriveKey(config.authlete.credential);
  options.observe.log_requests = config.log_requests;
  options.observe.audit_reads = config.audit_reads;
  options.max_upstream_timeout = config.max_upstream_timeout;
  options.idempotency.retention = config.state_store.request_id_retention;
  // Longer than any call may take upstream, so that a reservation never
  // lapses (and lets a duplicate be sent) while its call still runs.
  options.idempotency.reservation_ttl = config.max_upstream_timeout + absl::Seconds(10);
  gateway->drain_delay_ = config.drain_delay;
  absl::StatusOr<std::shared_ptr<state::StateStore>> store =
      MakeStateStore(config.state_store, gateway->registry_);
  if (!store.ok()) return store.status();
  gateway->store_ = *std::move(store);
  auto guard = std::make_shared<callers::CallerGuard>(std::move(callers));
  // With Redis, the callers' rate limits hold across the fleet; the
  // in-process store keeps them per replica, as the guard does itself.
  if (config.state_store.kind == config::StateStoreConfig::Kind::kRedis) {
    guard->ShareRateLimits(gateway->store_);
  }
  gateway->service_ = std::make_unique<registration::ClientRegistrationService>(
      options, std::move(guard), gateway->authlete_, &gateway->registry_, gateway->budget_,
      gateway->store_);

  // Health (grpc.health.v1, our own so that reflection can describe it) and
  // reflection, so grpcurl and Kubernetes' native gRPC probes just work.
  gateway->health_ = std::make_unique<health::HealthService>(
      std::vector<std::string>{v1::ClientRegistrationService::service_full_name()});
  // Our own reflection, answering from the descriptors with comments so that
  // `grpcurl describe` shows each field's documentation.
  absl::StatusOr<std::unique_ptr<reflection::ReflectionService>> reflection =
      reflection::ReflectionService::Create(reflection::DescriptorSetBytes(),
      {v1::ClientRegistrationService::service_full_name(),
       grpc::health::v1::Health::service_full_name(),
       grpc::reflection::v1::ServerReflection::service_full_name(),
       grpc::reflection::v1alpha::ServerReflection::service_full_name()});
  if (!reflection.ok()) return reflection.status();
  gateway->reflection_ = *std::move(reflection);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address, ServerCredentials(config), &gateway->port_);
  builder.RegisterService(gateway->service_.get());
  builder.RegisterService(gateway->health_.get());
  builder.RegisterService(gateway->reflection_->v1());
  builder.RegisterService(gateway->reflection_->v1alpha());
  const std::size_t max_request = config.max_metadata_bytes + kRequestOverheadBytes;
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<std::size_t>(max_request, INT32_MAX)));
  // gRPC's own buffers (requests being received, replies being sent) come
  // out of a quota of their own, a backstop behind the admission budget:
  // past it gRPC stops reading and, at worst, cancels streams, which is
  // why the admission budget, which refuses with a reason, sits well below.
  grpc::ResourceQuota quota("dcr-gateway");
  quota.Resize(static_cast<std::size_t>(
      config.admission.memory_budget_bytes > 0 ? config.admission.memory_budget_bytes / 2
                                               : gateway->derived_budget_.transport_bytes));
  builder.SetResourceQuota(quota);
  gateway->server_ = builder.BuildAndStart();
  if (gateway->server_ == nullptr || gateway->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen_address));
  }
  if (const config::PublicRegistrationConfig& pub = config.public_registration;
      !pub.listen_address.empty()) {
    absl::StatusOr<std::shared_ptr<public_registration::RegistrationEndpoint>> endpoint =
        MakePublicEndpoint(config, options, gateway->authlete_, &gateway->registry_);
    if (!endpoint.ok()) return endpoint.status();
    gateway->public_endpoint_ = *std::move(endpoint);
    // As the callers' limits: shared by the replicas when Redis is the store.
    if (config.state_store.kind == config::StateStoreConfig::Kind::kRedis) {
      gateway->public_endpoint_->ShareRateLimits(gateway->store_);
    }
    public_registration::PublicRegistrationServer::Options server;
    server.listen_address = pub.listen_address;
    server.max_connections = pub.max_connections;
    server.max_body_bytes = pub.max_body_bytes;
    server.max_header_bytes = pub.max_header_bytes;
    server.header_timeout = pub.header_timeout;
    server.read_timeout = pub.read_timeout;
    server.max_requests_per_connection = pub.max_requests_per_connection;
    // TLS as the gRPC port: its certificate and key, or plaintext when it is.
    if (!config.insecure_plaintext) {
      server.tls_cert_file = config.tls.cert_file;
      server.tls_key_file = config.tls.key_file;
    }
    // Not owned by the server: the gateway keeps the endpoint until its
    // calls in flight are over (Shutdown).
    public_registration::RegistrationEndpoint* handler = gateway->public_endpoint_.get();
    absl::StatusOr<std::unique_ptr<public_registration::PublicRegistrationServer>> started =
        public_registration::PublicRegistrationServer::Start(
            std::move(server),
            [handler](public_registration::PublicRequest request,
                      public_registration::PublicRegistrationServer::Respond respond) {
              handler->Handle(std::move(request), std::move(respond));
            },
            &gateway->registry_);
    if (!started.ok()) return started.status();
    gateway->public_server_ = *std::move(started);
    telemetry::Log(telemetry::LogLevel::kInfo, "public registration endpoint",
                   {{"port", gateway->public_server_->port()},
                    {"access", std::string(config::AccessName(pub.access))},
                    {"tls", !config.insecure_plaintext}});
  }
  if (!config.admin_listen_address.empty()) {
    GatewayServer* raw = gateway.get();
    absl::StatusOr<std::unique_ptr<metrics::AdminServer>> admin = metrics::AdminServer::Start(
        config.admin_listen_address, [raw] { return raw->RenderMetrics(); },
        [raw] { return raw->health_->serving(); });
    if (!admin.ok()) return admin.status();
    gateway->admin_ = *std::move(admin);
  }
  return gateway;
}

std::string GatewayServer::RenderMetrics() {
  const admission::InFlightBudget::Usage use = budget_->InUse();
  budget_bytes_in_use_->Set(static_cast<double>(use.bytes));
  budget_calls_in_use_->Set(static_cast<double>(use.calls));
  return registry_.Render();
}

GatewayServer::~GatewayServer() { Shutdown(absl::ZeroDuration()); }

void GatewayServer::Shutdown(absl::Duration grace) {
  if (stopped_) return;
  stopped_ = true;
  if (server_ == nullptr) return;
  // Probes and clients watching health see NOT_SERVING first, while calls are
  // still served, so that they move to other replicas before this one stops
  // accepting calls; then Watch and reflection streams end so they do not
  // hold the shutdown open.
  health_->SetServing(false);
  if (drain_delay_ > absl::ZeroDuration()) absl::SleepFor(drain_delay_);
  health_->Shutdown();
  reflection_->Shutdown();
  // grpc::Server::Shutdown waits for every reactor to finish, and a reactor
  // finishes only when its Authlete call completes: once the grace period is
  // over, fail the calls still waiting so that shutdown is bounded.
  const absl::Time grace_ends = absl::Now() + grace;
  absl::Notification drained;
  std::thread canceller([this, grace, &drained] {
    if (!drained.WaitForNotificationWithTimeout(grace)) {
      service_->CancelWaits();  // calls waiting for a duplicate in flight
      authlete_->CancelAll();  // calls waiting to retry
      http_->CancelAll();      // calls waiting on Authlete
    }
  });
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  drained.Notify();
  canceller.join();
  server_->Wait();
  // After the RPCs: the public requests in flight had the same grace; those
  // still waiting on Authlete then are failed, and the endpoint outlives
  // them all (its calls do not own it).
  public_server_.reset();
  if (public_endpoint_ != nullptr) {
    while (public_endpoint_->in_flight() > 0 && absl::Now() < grace_ends) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    if (public_endpoint_->in_flight() > 0) {
      authlete_->CancelAll();
      http_->CancelAll();
      // Cancelled calls answer at once; the bound only keeps a bug from
      // hanging the shutdown.
      const absl::Time cancelled_by = absl::Now() + absl::Seconds(5);
      while (public_endpoint_->in_flight() > 0 && absl::Now() < cancelled_by) {
        absl::SleepFor(absl::Milliseconds(1));
      }
    }
  }
}

}  // namespace dcr::server
