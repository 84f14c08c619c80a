// dcr-gateway: typed gRPC in front of Authlete's Dynamic Client Registration
// API. See README.md for configuration; `dcr-gateway --help` lists the flags.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "service/config/gateway_config.h"
#include "service/server/gateway_server.h"
#include "service/telemetry/logging.h"

ABSL_DECLARE_FLAG(std::string, port_file);

namespace {

using dcr::telemetry::Log;
using dcr::telemetry::LogLevel;

// Each call waiting on Authlete holds a socket: allow as many as the hard
// limit permits.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  // absl's --help lists the flags of files named like the program; the
  // gateway's flags live in service/config/gateway_config.cc.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "service/config/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "gRPC service for OAuth client registration through Authlete.\n"
      "Every flag may also be set as an environment variable DCR_<FLAG_NAME>;\n"
      "the Authlete credential comes from --authlete_credential_file or\n"
      "DCR_AUTHLETE_CREDENTIAL.\n\nUsage: dcr-gateway --authlete_service_id=ID [flags]");
  if (absl::Status env = dcr::config::ApplyEnvironmentToFlags(); !env.ok()) {
    std::fprintf(stderr, "dcr-gateway: %s\n", std::string(env.message()).c_str());
    return 2;
  }
  absl::ParseCommandLine(argc, argv);
  // Debian builds abseil with Mutex deadlock detection on, which records
  // every lock acquisition in a graph behind one process-wide lock: a cost
  // and a point of contention on every call. The tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  absl::StatusOr<dcr::config::GatewayConfig> config = dcr::config::ConfigFromFlags();
  if (!config.ok()) {
    std::fprintf(stderr, "dcr-gateway: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  RaiseFileLimit();

  // Block the stop signals before any thread starts, so that every thread
  // inherits the mask and sigwait() below is the only receiver.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<dcr::server::GatewayServer>> gateway =
      dcr::server::GatewayServer::Start(*config);
  if (!gateway.ok()) {
    Log(LogLevel::kError, "cannot start", {{"error", std::string(gateway.status().message())}});
    return 1;
  }
  const int port = (*gateway)->port();
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty() && !WritePortFile(port_file, port)) {
    Log(LogLevel::kError, "cannot write the port file", {{"path", port_file}});
    return 1;
  }
  Log(LogLevel::kInfo, "serving",
      {{"listen", config->listen_address},
       {"port", int64_t{port}},
       {"admin_port", int64_t{(*gateway)->admin_port()}},
       {"public_registration_port", int64_t{(*gateway)->public_registration_port()}},
       {"authlete_base_url", config->authlete.base_url},
       {"authlete_api_version",
        config->authlete.api_version == dcr::authlete::ApiVersion::kV3 ? "3" : "2"},
       {"service_id", config->default_service_id},
       {"transport", config->insecure_plaintext             ? "plaintext"
                     : config->tls.client_ca_file.empty() ? "tls"
                                                          : "mutual_tls"},
       {"callers_file", config->callers_file},
       {"memory_limit_bytes", (*gateway)->derived_budget().memory_limit},
       {"memory_limit_from", (*gateway)->derived_budget().from_cgroup ? "cgroup" : "assumed"},
       {"memory_budget_bytes", (*gateway)->budget().max_bytes},
       {"max_calls_in_flight", (*gateway)->budget().max_calls}});
  if (config->insecure_plaintext) {
    Log(LogLevel::kWarning, "gRPC port without TLS (--insecure_plaintext): only safe behind "
                            "a mesh or proxy that terminates TLS", {});
  }
  if (config->callers_file.empty()) {
    Log(LogLevel::kWarning, "no --callers_file: every caller that reaches the port may "
                            "register, read, update and delete clients", {});
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  Log(LogLevel::kInfo, "draining",
      {{"signal", int64_t{signal_number}},
       {"grace_s", absl::ToDoubleSeconds(config->shutdown_grace)}});
  (*gateway)->Shutdown(config->shutdown_grace);
  Log(LogLevel::kInfo, "stopped");
  return 0;
}
