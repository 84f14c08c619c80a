// authlete-emulator: serves the Authlete DCR API locally. See README.md.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/emulator/client_store.h"
#include "tests/emulator/emulator.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:8787",
          "HOST:PORT to listen on ([V6]:PORT for IPv6); port 0 picks a free port");
ABSL_FLAG(std::string, config, "",
          "JSON config file with the services (README \"Config file\"); without it the "
          "default service, adjusted by the per-service flags below, is served");
ABSL_FLAG(std::string, store_file, "",
          "persist clients to this file (atomic rewrite on every change); empty = memory only");
ABSL_FLAG(int, threads, 2, "server threads");
ABSL_FLAG(std::string, port_file, "", "write the bound port (decimal) to this file");
ABSL_FLAG(std::string, admin_token, "",
          "if set, /emulator/* admin endpoints need 'Authorization: Bearer <admin_token>'");
ABSL_FLAG(std::string, organization_token, "",
          "v3 Bearer token valid for every service (Authlete organization token)");
ABSL_FLAG(std::string, faults, "",
          "initial fault spec, same JSON as POST /emulator/faults (README \"Faults\")");
ABSL_FLAG(int, latency_ms, 0, "shorthand: add this latency to every DCR request");
ABSL_FLAG(int, jitter_ms, 0, "shorthand: add uniform random [0, jitter_ms] latency");
ABSL_FLAG(bool, log_requests, true, "log one line per request to stderr");
ABSL_FLAG(int, max_body_bytes, 1 << 20, "larger request bodies get HTTP 413");
ABSL_FLAG(int, max_access_tokens, 10000,
          "access tokens held for introspection (POST /emulator/tokens); when full, expired "
          "ones are dropped, then issuing answers 503");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate (chain) to serve HTTPS instead of HTTP; needs --tls_key_file");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file");

// Per-service flags: they adjust the default service when --config is not given.
ABSL_FLAG(std::string, service_id, dcr::emulator::kDefaultServiceId, "service id (API key)");
ABSL_FLAG(std::string, service_token, dcr::emulator::kDefaultServiceToken,
          "v3 service access token (Bearer)");
ABSL_FLAG(std::string, api_secret, dcr::emulator::kDefaultApiSecret,
          "v2 API secret (Basic password; the user is the service id)");
ABSL_FLAG(std::string, registration_management_endpoint,
          dcr::emulator::kDefaultRegistrationManagementEndpoint,
          "base of registration_client_uri");
ABSL_FLAG(bool, dynamic_registration_supported, true, "dynamicRegistrationSupported");
ABSL_FLAG(bool, unauthorized_on_client_config_supported, true,
          "unauthorizedOnClientConfigSupported (Authlete's default is false)");
ABSL_FLAG(bool, dcr_duplicate_software_id_blocked, false, "dcrDuplicateSoftwareIdBlocked");
ABSL_FLAG(bool, dcr_scope_used_as_requestable, false, "dcrScopeUsedAsRequestable");
ABSL_FLAG(std::vector<std::string>, supported_custom_client_metadata, {},
          "comma-separated supportedCustomClientMetadata");
ABSL_FLAG(bool, rotate_registration_access_token_on_update, false,
          "issue a new registration access token on every update");

namespace {

using dcr::emulator::ServiceConfig;

constexpr const char* kServiceFlags[] = {
    "service_id",
    "service_token",
    "api_secret",
    "registration_management_endpoint",
    "dynamic_registration_supported",
    "unauthorized_on_client_config_supported",
    "dcr_duplicate_software_id_blocked",
    "dcr_scope_used_as_requestable",
    "supported_custom_client_metadata",
    "rotate_registration_access_token_on_update",
};

// Every flag of this file may also come from the environment,
// AUTHLETE_EMULATOR_<FLAG> (upper case), as the gateway takes DCR_<FLAG>: a
// container image sets its defaults there and a command-line flag still wins.
constexpr const char* kEnvironmentPrefix = "AUTHLETE_EMULATOR_";

int Fail(const std::string& message) {
  std::fprintf(stderr, "authlete-emulator: %s\n", message.c_str());
  return 1;
}

bool ParseListen(const std::string& listen, std::string* host, int* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  *host = listen.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  if (host->empty()) *host = "0.0.0.0";
  return absl::SimpleAtoi(listen.substr(colon + 1), port) && *port >= 0 && *port <= 65535;
}

// Echo a credential only if it is the documented, public default.
std::string Shown(const std::string& value, const char* documented_default) {
  if (value.empty()) return "(none)";
  return value == documented_default ? value : "(configured, not shown)";
}

// Sets the flags named in the environment; called before the command line is
// parsed, so that flags given there override these. Only numbers and
// booleans can be refused; string flags (the tokens) parse from anything.
absl::Status ApplyEnvironmentToFlags() {
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!absl::EndsWith(flag->Filename(), "tests/emulator/main.cc")) continue;
    const std::string env = absl::StrCat(kEnvironmentPrefix, absl::AsciiStrToUpper(name));
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("environment variable ", env, ": ", error));
    }
  }
  return absl::OkStatus();
}

// absl's --help lists the flags of files named like the program; ours are
// in main.cc.
void SetUpUsage() {
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "tests/emulator/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "A local stand-in for Authlete's Dynamic Client Registration API (v2 and v3).\n"
      "Usage: authlete-emulator [--listen=127.0.0.1:8787] [--config=FILE] "
      "[--store_file=FILE] [--faults=JSON] ...\n"
      "Every flag may also be set as an environment variable AUTHLETE_EMULATOR_<FLAG_NAME>\n"
      "(e.g. AUTHLETE_EMULATOR_LISTEN=0.0.0.0:8787); a flag on the command line wins.\n"
      "Without arguments it serves the default service 21653835348762 with the token "
      "'emulator-service-token'. See tests/emulator/README.md.");
}

// The server's own flags: address, threads, store, tokens, limits, TLS files.
absl::Status ReadServerFlags(dcr::emulator::EmulatorOptions* options) {
  if (!ParseListen(absl::GetFlag(FLAGS_listen), &options->listen_address, &options->port)) {
    return absl::InvalidArgumentError("--listen must be HOST:PORT");
  }
  options->threads = absl::GetFlag(FLAGS_threads);
  options->store_file = absl::GetFlag(FLAGS_store_file);
  options->admin_token = absl::GetFlag(FLAGS_admin_token);
  options->organization_token = absl::GetFlag(FLAGS_organization_token);
  options->log_requests = absl::GetFlag(FLAGS_log_requests);
  if (absl::GetFlag(FLAGS_max_body_bytes) < 1) {
    return absl::InvalidArgumentError("--max_body_bytes must be positive");
  }
  options->max_body_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_body_bytes));
  if (absl::GetFlag(FLAGS_max_access_tokens) < 1) {
    return absl::InvalidArgumentError("--max_access_tokens must be positive");
  }
  options->max_access_tokens = static_cast<size_t>(absl::GetFlag(FLAGS_max_access_tokens));
  options->tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options->tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  if (options->tls_cert_file.empty() != options->tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert_file and --tls_key_file go together");
  }
  return absl::OkStatus();
}

// --config: the services (and the organization token, unless the flag set
// one) come from the file, so no per-service flag may be given too.
absl::Status LoadServicesFromConfig(dcr::emulator::EmulatorOptions* options) {
  for (const char* name : kServiceFlags) {
    // This abseil keeps IsSpecifiedOnCommandLine private: compare to the default.
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag->CurrentValue() != flag->DefaultValue()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " cannot be combined with --config"));
    }
  }
  absl::StatusOr<dcr::emulator::EmulatorConfig> config =
      dcr::emulator::LoadEmulatorConfigFile(absl::GetFlag(FLAGS_config));
  if (!config.ok()) return config.status();
  options->services = config->services;
  if (options->organization_token.empty()) {
    options->organization_token = config->organization_token;
  }
  return absl::OkStatus();
}

// Without --config: the default service, adjusted by the per-service flags.
ServiceConfig ServiceFromFlags() {
  ServiceConfig s;
  s.service_id = absl::GetFlag(FLAGS_service_id);
  s.service_token = absl::GetFlag(FLAGS_service_token);
  s.api_secret = absl::GetFlag(FLAGS_api_secret);
  s.registration_management_endpoint = absl::GetFlag(FLAGS_registration_management_endpoint);
  s.dynamic_registration_supported = absl::GetFlag(FLAGS_dynamic_registration_supported);
  s.unauthorized_on_client_config_supported =
      absl::GetFlag(FLAGS_unauthorized_on_client_config_supported);
  s.dcr_duplicate_software_id_blocked = absl::GetFlag(FLAGS_dcr_duplicate_software_id_blocked);
  s.dcr_scope_used_as_requestable = absl::GetFlag(FLAGS_dcr_scope_used_as_requestable);
  s.supported_custom_client_metadata = absl::GetFlag(FLAGS_supported_custom_client_metadata);
  s.rotate_registration_access_token_on_update =
      absl::GetFlag(FLAGS_rotate_registration_access_token_on_update);
  return s;
}

// --faults, then the --latency_ms/--jitter_ms shorthand as the first rule.
absl::Status ReadFaultFlags(dcr::emulator::EmulatorOptions* options) {
  if (!absl::GetFlag(FLAGS_faults).empty()) {
    absl::StatusOr<dcr::emulator::FaultSpec> spec =
        dcr::emulator::ParseFaultSpec(absl::GetFlag(FLAGS_faults));
    if (!spec.ok()) return spec.status();
    options->faults = *spec;
  }
  int latency = absl::GetFlag(FLAGS_latency_ms), jitter = absl::GetFlag(FLAGS_jitter_ms);
  if (latency < 0 || jitter < 0) {
    return absl::InvalidArgumentError("--latency_ms and --jitter_ms must be >= 0");
  }
  if (latency > 0 || jitter > 0) {
    dcr::emulator::FaultRule rule;
    rule.kind = dcr::emulator::FaultKind::kLatency;
    rule.latency_ms = latency;
    rule.jitter_ms = jitter;
    options->faults.rules.insert(options->faults.rules.begin(), rule);
  }
  return absl::OkStatus();
}

// Everything the flags say; the first problem found is the one reported.
absl::Status ReadOptions(dcr::emulator::EmulatorOptions* options) {
  if (absl::Status st = ReadServerFlags(options); !st.ok()) return st;
  if (!absl::GetFlag(FLAGS_config).empty()) {
    if (absl::Status st = LoadServicesFromConfig(options); !st.ok()) return st;
  } else {
    options->services = {ServiceFromFlags()};
  }
  return ReadFaultFlags(options);
}

// Blocks the stop signals in every thread (the server threads inherit the
// mask); main waits for them synchronously.
sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

// Where to reach the emulator and how to authenticate (public defaults only).
void PrintBanner(const dcr::emulator::EmulatorOptions& options, const std::string& base) {
  std::fprintf(stderr, "authlete-emulator: listening on %s (%d threads)%s%s\n", base.c_str(),
               options.threads, options.store_file.empty() ? ", clients in memory" : ", store ",
               options.store_file.c_str());
  for (const ServiceConfig& s : options.services) {
    std::fprintf(
        stderr,
        "  service %s\n    v3: POST %s/api/%s/client/registration  Authorization: Bearer %s\n"
        "    v2: POST %s/api/client/registration  Basic %s:%s\n"
        "    registration management endpoint: %s\n    DCR %s, unauthorizedOnClientConfigSupported "
        "%s\n",
        s.service_id.c_str(), base.c_str(), s.service_id.c_str(),
        Shown(s.service_token, dcr::emulator::kDefaultServiceToken).c_str(), base.c_str(),
        s.service_id.c_str(), Shown(s.api_secret, dcr::emulator::kDefaultApiSecret).c_str(),
        s.registration_management_endpoint.c_str(),
        s.dynamic_registration_supported ? "enabled" : "DISABLED",
        s.unauthorized_on_client_config_supported ? "on" : "off");
  }
  if (!options.faults.rules.empty()) {
    std::fprintf(stderr, "  initial faults: %s\n",
                 dcr::emulator::FaultSpecToJson(options.faults).c_str());
  }
  std::fprintf(stderr, "  admin: %s/emulator/{faults,stats,reset,health,tokens}\n", base.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  SetUpUsage();
  if (absl::Status st = ApplyEnvironmentToFlags(); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) return Fail(absl::StrCat("unexpected argument '", rest[1], "'"));
  dcr::emulator::EmulatorOptions options;
  if (absl::Status st = ReadOptions(&options); !st.ok()) return Fail(std::string(st.message()));

  sigset_t stop_signals = BlockStopSignals();
  absl::StatusOr<std::unique_ptr<dcr::emulator::Emulator>> emulator =
      dcr::emulator::Emulator::Start(options);
  if (!emulator.ok()) return Fail(std::string(emulator.status().ToString()));

  std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    absl::Status st = dcr::emulator::WriteFileAtomically(
        port_file, absl::StrCat((*emulator)->port(), "\n"));
    if (!st.ok()) return Fail(std::string(st.message()));
  }
  PrintBanner(options, (*emulator)->base_url());

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "authlete-emulator: signal %d, stopping\n", sig);
  (*emulator)->Shutdown();
  return 0;
}
