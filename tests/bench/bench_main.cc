// dcr-bench: what the gateway adds on top of Authlete, in three scenarios
// (see README "Performance"). It starts the real authlete-emulator and
// dcr-gateway binaries on 127.0.0.1 (fresh ones per scenario, so each
// process's figures are its own), drives them with the load generator and
// reads the gateway's cost from /proc. Each scenario prints one JSON line
// (starting with {"scenario":) and a table. Exit code 1 if any call failed.
#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tests/bench/load_generator.h"
#include "tests/bench/process_stats.h"
#include "tests/cli/subprocess.h"
#include "tests/emulator/service_config.h"

ABSL_FLAG(std::string, gateway, DCR_GATEWAY_PATH, "dcr-gateway binary");
ABSL_FLAG(std::string, emulator, DCR_EMULATOR_PATH, "authlete-emulator binary");
ABSL_FLAG(std::vector<std::string>, scenarios,
          std::vector<std::string>({"overhead", "concurrency", "efficiency", "rate"}),
          "scenarios to run, in order");
ABSL_FLAG(bool, quick, false, "small sizes: checks the harness works, figures mean little");
// The emulator stands for Authlete and must not be the queue: with 2 server
// threads the concurrency scenario waited in it (65-67 % of the bound, 1.2 of
// 2 cores busy); 4 reached 87 %; 8 and 16 took the gateway's CPU (79-81 %).
ABSL_FLAG(int, emulator_threads, 4, "authlete-emulator server threads");
ABSL_FLAG(std::string, mix, "register:20,get:50,update:20,delete:10", "operation weights");
ABSL_FLAG(int64_t, overhead_calls, 4000, "overhead: measured calls per path");
ABSL_FLAG(uint64_t, seed, 0,
          "the workload's random seed; 0: a new one each run (tests/bench/count_instructions.sh "
          "sets one, so that runs make the same calls)");
ABSL_FLAG(int, concurrency_in_flight, 2000, "concurrency: calls in flight");
ABSL_FLAG(int, concurrency_latency_ms, 500, "concurrency: latency injected upstream");
ABSL_FLAG(absl::Duration, concurrency_duration, absl::Seconds(12), "concurrency: run time");
ABSL_FLAG(int, efficiency_in_flight, 32, "efficiency: calls in flight (saturating)");
ABSL_FLAG(absl::Duration, efficiency_duration, absl::Seconds(10), "efficiency: run time");
ABSL_FLAG(double, rate, 1000, "rate: open-loop calls per second");
ABSL_FLAG(absl::Duration, rate_duration, absl::Seconds(6), "rate: run time");
ABSL_FLAG(std::vector<std::string>, gateway_args, {},
          "extra dcr-gateway flags, e.g. --gateway_args=--log_requests=false");

namespace dcr::bench {
namespace {

using cli_test::Process;
using nlohmann::json;

constexpr int kPoolClients = 64;
constexpr absl::Duration kCallTimeout = absl::Seconds(10);

// The targets (issues "Bounded memory under bursts" and "Three times
// cheaper"): CPU and added latency as multiples of gRPC's own floor measured
// in the same run (Health/Check on the same gateway), the concurrency
// scenario against Little's law on the production defaults.
constexpr double kTargetCpuOverFloor = 4.0;
constexpr double kTargetAddedOverFloor = 2.0;
constexpr double kTargetFraction = 0.97;
constexpr int kTargetMaxThreads = 16;
constexpr long long kTargetPeakRssMb = 80;

// The emulator and a gateway pointed at it, in a private directory (ports,
// logs) removed with them.
struct Stack {
  ~Stack() {
    gateway.reset();
    emulator.reset();
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
  std::string dir;
  absl::optional<Process> emulator;
  absl::optional<Process> gateway;
  std::string emulator_url;
  std::shared_ptr<grpc::Channel> channel;
  authlete::AuthleteOptions authlete;
};

absl::StatusOr<std::unique_ptr<Stack>> StartStack() {
  auto stack = std::make_unique<Stack>();
  stack->dir = cli_test::MakeTempDir();
  absl::StatusOr<Process> emulator = Process::Start(
      absl::GetFlag(FLAGS_emulator),
      {"--listen=127.0.0.1:0", "--port_file=" + stack->dir + "/emulator.port",
       "--log_requests=false", "--threads=" + std::to_string(absl::GetFlag(FLAGS_emulator_threads))},
      {}, stack->dir + "/emulator.log");
  if (!emulator.ok()) return emulator.status();
  stack->emulator.emplace(*std::move(emulator));
  absl::StatusOr<int> emulator_port =
      cli_test::WaitForPortFile(stack->dir + "/emulator.port", *stack->emulator);
  if (!emulator_port.ok()) return emulator_port.status();
  stack->emulator_url = absl::StrCat("http://127.0.0.1:", *emulator_port);

  std::vector<std::string> args = {"--listen=127.0.0.1:0", "--admin_listen=127.0.0.1:0", "--insecure_plaintext",
                                   "--port_file=" + stack->dir + "/gateway.port",
                                   "--authlete_base_url=" + stack->emulator_url,
                                   absl::StrCat("--authlete_service_id=", emulator::kDefaultServiceId)};
  for (const std::string& extra : absl::GetFlag(FLAGS_gateway_args)) args.push_back(extra);
  absl::StatusOr<Process> gateway =
      Process::Start(absl::GetFlag(FLAGS_gateway), args,
                     {{"DCR_AUTHLETE_CREDENTIAL", emulator::kDefaultServiceToken}},
                     stack->dir + "/gateway.log");
  if (!gateway.ok()) return gateway.status();
  stack->gateway.emplace(*std::move(gateway));
  absl::StatusOr<int> gateway_port =
      cli_test::WaitForPortFile(stack->dir + "/gateway.port", *stack->gateway);
  if (!gateway_port.ok()) return gateway_port.status();
  stack->channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", *gateway_port),
                                       grpc::InsecureChannelCredentials());
  if (!stack->channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10)))) {
    return absl::UnavailableError("cannot connect to the gateway");
  }
  stack->authlete.base_url = stack->emulator_url;
  stack->authlete.credential = emulator::kDefaultServiceToken;
  return stack;
}

// Replaces the emulator's fault rules (its admin API).
absl::Status SetEmulatorFaults(const Stack& stack, const std::string& spec) {
  CURL* easy = curl_easy_init();
  const std::string url = stack.emulator_url + "/emulator/faults";
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, spec.c_str());
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                   +[](char*, std::size_t size, std::size_t n, void*) { return size * n; });
  const CURLcode code = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(easy);
  if (code != CURLE_OK || status != 200) {
    return absl::InternalError(absl::StrCat("setting emulator faults: ", curl_easy_strerror(code),
                                            " HTTP ", status));
  }
  return absl::OkStatus();
}

// Clients for Get/Update to act on, registered straight at the emulator.
absl::StatusOr<std::vector<ClientRef>> RegisterPool(const Stack& stack,
                                                    const std::vector<std::string>& documents) {
  absl::StatusOr<std::unique_ptr<Target>> direct = MakeDirectTarget(
      stack.authlete, emulator::kDefaultServiceId, documents, kCallTimeout);
  if (!direct.ok()) return direct.status();
  std::vector<ClientRef> pool;
  for (int i = 0; i < kPoolClients; ++i) {
    CallSpec spec;
    spec.document = i % documents.size();
    CallOutcome result;
    (*direct)->Start(spec, [&result](CallOutcome o) { result = std::move(o); });
    if (!result.registered.has_value()) {
      return absl::InternalError(absl::StrCat("registering the client pool: ", result.outcome));
    }
    pool.push_back(*result.registered);
  }
  return pool;
}

// A fresh emulator and gateway, and the clients Get and Update act on.
struct Prepared {
  std::unique_ptr<Stack> stack;
  std::vector<ClientRef> pool;
};

absl::StatusOr<Prepared> Prepare(const std::vector<std::string>& documents) {
  Prepared prepared;
  absl::StatusOr<std::unique_ptr<Stack>> stack = StartStack();
  if (!stack.ok()) return stack.status();
  prepared.stack = *std::move(stack);
  absl::StatusOr<std::vector<ClientRef>> pool = RegisterPool(*prepared.stack, documents);
  if (!pool.ok()) return pool.status();
  prepared.pool = *std::move(pool);
  return prepared;
}

std::string Micros(absl::Duration d) {
  return absl::StrFormat("%.1f", absl::ToDoubleMicroseconds(d));
}
double Us(absl::Duration d) { return absl::ToDoubleMicroseconds(d); }
double Mb(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

json LatencyJson(const LatencySummary& s) {
  return {{"count", s.count}, {"p50_us", Us(s.p50)},   {"p90_us", Us(s.p90)},
          {"p99_us", Us(s.p99)}, {"p999_us", Us(s.p999)}, {"max_us", Us(s.max)}};
}

std::string LatencyRow(absl::string_view name, const LatencySummary& s) {
  return absl::StrFormat("  %-22s %8d %10s %10s %10s %10s %10s\n", name, s.count,
                         Micros(s.p50), Micros(s.p90), Micros(s.p99), Micros(s.p999),
                         Micros(s.max));
}
constexpr char kLatencyHeader[] =
    "  path                      calls    p50(us)    p90(us)    p99(us)  p99.9(us)    max(us)\n";

std::string OutcomesText(const std::map<std::string, int64_t>& outcomes) {
  return absl::StrJoin(outcomes, ", ", absl::PairFormatter("="));
}

// Everything a scenario reports; `failed` counts calls that did not succeed
// (warm-up included), `failures` the same by outcome ("CODE/REASON"). A
// scenario with any failed call is not met.
struct Report {
  json line;
  std::string table;
  int64_t failed = 0;
  std::map<std::string, int64_t> failures;
  void Count(const std::map<std::string, int64_t>& outcomes) {
    for (const auto& [outcome, n] : outcomes) {
      if (outcome == "OK") continue;
      failures[outcome] += n;
      failed += n;
    }
  }
};

// A closed loop's failures over the whole run, and an open loop's skipped
// calls (recorded only).
void CountRun(Report& report, const LoadResult& load, const LatencyRecorder& recorder) {
  report.Count(load.failures);
  const std::map<std::string, int64_t> outcomes = recorder.Outcomes();
  if (auto it = outcomes.find("SKIPPED_OVERLOAD"); it != outcomes.end()) {
    report.Count({{it->first, it->second}});
  }
}

api::PerOperation<int64_t> Sum(api::PerOperation<int64_t> a, const api::PerOperation<int64_t>& b) {
  for (std::size_t i = 0; i < api::kOperationCount; ++i) a[i] += b[i];
  return a;
}
json ByOperation(const api::PerOperation<int64_t>& n) {
  return {{"register", n[0]}, {"get", n[1]}, {"update", n[2]}, {"delete", n[3]}};
}

// overhead: one call in flight, no injected latency; the gateway path and the
// direct path alternate in blocks so that drift hits both alike.
absl::StatusOr<Report> Overhead(const Mix& mix, const std::vector<std::string>& documents) {
  absl::StatusOr<Prepared> prepared = Prepare(documents);
  if (!prepared.ok()) return prepared.status();
  std::unique_ptr<Stack>& stack = prepared->stack;
  const std::vector<ClientRef>& pool = prepared->pool;
  absl::StatusOr<std::unique_ptr<Target>> gateway =
      MakeGatewayTarget(stack->channel, documents, kCallTimeout);
  absl::StatusOr<std::unique_ptr<Target>> direct = MakeDirectTarget(
      stack->authlete, emulator::kDefaultServiceId, documents, kCallTimeout);
  if (!gateway.ok()) return gateway.status();
  if (!direct.ok()) return direct.status();
  Workload gateway_work(mix, pool, documents.size(), absl::GetFlag(FLAGS_seed));
  Workload direct_work(mix, pool, documents.size(), absl::GetFlag(FLAGS_seed));
  LatencyRecorder gateway_latency, direct_latency, warmup_latency;

  const int64_t calls = absl::GetFlag(FLAGS_overhead_calls);
  constexpr int64_t kBlocks = 10;
  LoadOptions block;
  block.in_flight = 1;
  block.max_calls = std::max<int64_t>(1, calls / kBlocks);
  block.duration = absl::Seconds(60);  // A bound only: blocks end on their count.
  // Warm both paths up (connections, caches) without recording.
  for (auto* path : {&gateway_work, &direct_work}) {
    Target& target = path == &gateway_work ? **gateway : **direct;
    LoadOptions warm = block;
    warm.max_calls = std::min<int64_t>(200, block.max_calls);
    if (absl::StatusOr<LoadResult> r = RunLoad(target, *path, warm, warmup_latency); !r.ok()) {
      return r.status();
    }
  }
  api::PerOperation<int64_t> by_operation{};
  for (int64_t i = 0; i < kBlocks; ++i) {
    absl::StatusOr<LoadResult> d = RunLoad(**direct, direct_work, block, direct_latency);
    if (!d.ok()) return d.status();
    absl::StatusOr<LoadResult> g = RunLoad(**gateway, gateway_work, block, gateway_latency);
    if (!g.ok()) return g.status();
    by_operation = Sum(by_operation, g->completed_by_operation);
  }
  // gRPC's own round trip on this machine, for scale: Health/Check, which
  // the gateway answers without Authlete.
  std::unique_ptr<Target> health = MakeHealthCheckTarget(stack->channel, kCallTimeout);
  LatencyRecorder health_latency;
  for (int64_t i = 0; i < 2; ++i) {
    absl::StatusOr<LoadResult> h = RunLoad(*health, gateway_work, block, health_latency);
    if (!h.ok()) return h.status();
  }
  const LatencySummary g = gateway_latency.Summary();
  const LatencySummary d = direct_latency.Summary();
  const LatencySummary h = health_latency.Summary();
  Report report;
  // Every block records from its start (no warm-up): the recorders saw all.
  for (const LatencyRecorder* r : {&gateway_latency, &direct_latency, &warmup_latency, &health_latency}) {
    report.Count(r->Outcomes());
  }
  const absl::Duration added_p50 = g.p50 - d.p50, added_p99 = g.p99 - d.p99;
  // Targets as ratios to gRPC's own floor in the same run (issue "Three times
  // cheaper"): absolute microseconds mean little on a shared 2-core VM.
  const double p50_ratio = absl::FDivDuration(added_p50, std::max(h.p50, absl::Nanoseconds(1)));
  const double p99_ratio = absl::FDivDuration(added_p99, std::max(h.p99, absl::Nanoseconds(1)));
  report.line = {{"scenario", "overhead"},
                 {"in_flight", 1},
                 {"gateway", LatencyJson(g)},
                 {"direct", LatencyJson(d)},
                 {"grpc_floor", LatencyJson(h)},
                 {"added_p50_us", Us(added_p50)},
                 {"added_p99_us", Us(added_p99)},
                 {"added_p50_over_floor_p50", p50_ratio},
                 {"added_p99_over_floor_p99", p99_ratio},
                 {"target_added_over_floor", kTargetAddedOverFloor},
                 {"met", report.failed == 0 && p50_ratio <= kTargetAddedOverFloor &&
                             p99_ratio <= kTargetAddedOverFloor},
                 {"gateway_calls_by_operation", ByOperation(by_operation)},
                 {"outcomes_gateway", gateway_latency.Outcomes()},
                 {"outcomes_direct", direct_latency.Outcomes()}};
  report.table = absl::StrCat(
      "overhead: 1 call in flight, no injected latency, mix ", absl::GetFlag(FLAGS_mix), "\n",
      kLatencyHeader, LatencyRow("gateway (gRPC)", g), LatencyRow("direct (HTTP)", d),
      LatencyRow("gRPC floor (Health)", h),
      absl::StrFormat("  added latency: p50 %s us = %.2fx the floor's p50, p99 %s us = %.2fx the "
                      "floor's p99 (target <= %.0fx each)\n",
                      Micros(added_p50), p50_ratio, Micros(added_p99), p99_ratio,
                      kTargetAddedOverFloor),
      "  outcomes: gateway ", OutcomesText(gateway_latency.Outcomes()), "; direct ",
      OutcomesText(direct_latency.Outcomes()), "\n");
  return report;
}

// Samples a process's threads and RSS while a run goes on.
class Sampler {
 public:
  explicit Sampler(pid_t pid) : pid_(pid), thread_([this] { Loop(); }) {}
  ~Sampler() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t peak_threads() const { return peak_threads_; }
  int64_t peak_rss_bytes() const { return peak_rss_; }

 private:
  void Loop() {
    while (!stop_) {
      if (absl::StatusOr<ProcessStats> s = ReadProcessStats(pid_); s.ok()) {
        peak_threads_ = std::max<int64_t>(peak_threads_, s->threads);
        peak_rss_ = std::max<int64_t>(peak_rss_, std::max(s->rss_bytes, s->peak_rss_bytes));
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  const pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> peak_threads_{0};
  std::atomic<int64_t> peak_rss_{0};
  std::thread thread_;
};

// A gateway-only load run with the gateway's CPU and memory measured over the
// window.
struct MeasuredRun {
  LoadResult load;
  ProcessStats before, after;
  int64_t peak_threads = 0;
  // Cores each process kept busy over the window: on a small machine they
  // compete, and a saturated machine caps every figure.
  double gateway_cores = 0, emulator_cores = 0, load_generator_cores = 0;
};

absl::StatusOr<MeasuredRun> MeasureGateway(Stack& stack, Target& target, Workload& workload,
                                           LoadOptions options, LatencyRecorder& recorder) {
  const pid_t pid = stack.gateway->pid();
  MeasuredRun run;
  absl::Status read_error;
  auto read = [&read_error](pid_t of, ProcessStats& into) {
    absl::StatusOr<ProcessStats> s = ReadProcessStats(of);
    if (s.ok()) into = *s; else read_error = s.status();
  };
  const pid_t emulator = stack.emulator->pid(), self = getpid();
  ProcessStats emulator_before, emulator_after, self_before, self_after;
  options.on_window_start = [&] {
    read(pid, run.before);
    read(emulator, emulator_before);
    read(self, self_before);
  };
  options.on_window_end = [&] {
    read(pid, run.after);
    read(emulator, emulator_after);
    read(self, self_after);
  };
  Sampler sampler(pid);
  absl::StatusOr<LoadResult> load = RunLoad(target, workload, options, recorder);
  sampler.Stop();
  if (!load.ok()) return load.status();
  if (!read_error.ok()) return read_error;
  // VmHWM is the process's peak so far: read it after the run.
  if (absl::StatusOr<ProcessStats> end = ReadProcessStats(pid); end.ok()) {
    run.after.peak_rss_bytes = std::max({end->peak_rss_bytes, end->rss_bytes,
                                         sampler.peak_rss_bytes()});
  }
  run.load = *load;
  run.peak_threads = sampler.peak_threads();
  const double window = absl::ToDoubleSeconds(load->window);
  if (window > 0) {
    run.gateway_cores = absl::ToDoubleSeconds(run.after.cpu - run.before.cpu) / window;
    run.emulator_cores = absl::ToDoubleSeconds(emulator_after.cpu - emulator_before.cpu) / window;
    run.load_generator_cores = absl::ToDoubleSeconds(self_after.cpu - self_before.cpu) / window;
  }
  return run;
}

json CoresJson(const MeasuredRun& run) {
  return {{"gateway", run.gateway_cores},
          {"emulator", run.emulator_cores},
          {"load_generator", run.load_generator_cores},
          {"machine", static_cast<int>(std::thread::hardware_concurrency())}};
}
std::string CoresText(const MeasuredRun& run) {
  return absl::StrFormat(
      "  cores busy: gateway %.2f, emulator %.2f, load generator %.2f (machine: %d)\n",
      run.gateway_cores, run.emulator_cores, run.load_generator_cores,
      static_cast<int>(std::thread::hardware_concurrency()));
}

// The CPU each process spent per call, and what the machine's cores could
// carry at those costs: the three processes share them, so when the ceiling
// is near the target the scenario measures the machine, not the gateway.
struct MachineCeiling {
  double gateway_us = 0, emulator_us = 0, load_generator_us = 0;
  double calls_per_s = 0;  // every core busy
};
MachineCeiling CeilingOf(const MeasuredRun& run) {
  MachineCeiling c;
  const double rate = run.load.Throughput();
  if (rate <= 0) return c;
  c.gateway_us = run.gateway_cores / rate * 1e6;
  c.emulator_us = run.emulator_cores / rate * 1e6;
  c.load_generator_us = run.load_generator_cores / rate * 1e6;
  const double per_call_us = c.gateway_us + c.emulator_us + c.load_generator_us;
  if (per_call_us > 0) c.calls_per_s = std::thread::hardware_concurrency() * 1e6 / per_call_us;
  return c;
}

// MeasureGateway with the mix through the gateway's RPCs.
absl::StatusOr<MeasuredRun> MeasureMix(Stack& stack, Workload& workload,
                                       const std::vector<std::string>& documents,
                                       const LoadOptions& options, LatencyRecorder& latency) {
  absl::StatusOr<std::unique_ptr<Target>> gateway =
      MakeGatewayTarget(stack.channel, documents, kCallTimeout);
  if (!gateway.ok()) return gateway.status();
  return MeasureGateway(stack, **gateway, workload, options, latency);
}

// concurrency: many calls in flight against a slow Authlete. Little's law
// bounds the rate at in-flight / latency; a gateway that queues or blocks a
// thread per call falls short of it.
absl::StatusOr<Report> Concurrency(const Mix& mix, const std::vector<std::string>& documents) {
  absl::StatusOr<Prepared> prepared = Prepare(documents);
  if (!prepared.ok()) return prepared.status();
  std::unique_ptr<Stack>& stack = prepared->stack;
  const std::vector<ClientRef>& pool = prepared->pool;
  const int latency_ms = absl::GetFlag(FLAGS_concurrency_latency_ms);
  if (absl::Status s = SetEmulatorFaults(
          *stack, absl::StrCat("{\"kind\":\"latency\",\"latencyMs\":", latency_ms, "}"));
      !s.ok()) {
    return s;
  }
  Workload workload(mix, pool, documents.size(), absl::GetFlag(FLAGS_seed));
  LatencyRecorder latency;
  LoadOptions options;
  options.in_flight = absl::GetFlag(FLAGS_concurrency_in_flight);
  options.duration = absl::GetFlag(FLAGS_concurrency_duration);
  options.warmup = std::min(options.duration / 4, absl::Milliseconds(4 * latency_ms));
  options.max_calls = INT64_MAX / 2;  // Bounded by time.
  absl::StatusOr<MeasuredRun> run = MeasureMix(*stack, workload, documents, options, latency);
  if (!run.ok()) return run.status();
  const double bound = options.in_flight / (latency_ms / 1000.0);
  const double fraction = run->load.Throughput() / bound;
  const LatencySummary s = latency.Summary();
  const MachineCeiling ceiling = CeilingOf(*run);
  Report report;
  CountRun(report, run->load, latency);
  const bool met = report.failed == 0 && fraction >= kTargetFraction &&
                   run->peak_threads <= kTargetMaxThreads &&
                   run->after.peak_rss_bytes <= kTargetPeakRssMb * 1024 * 1024;
  report.line = {{"scenario", "concurrency"},
                 {"in_flight", options.in_flight},
                 {"upstream_latency_ms", latency_ms},
                 {"window_s", absl::ToDoubleSeconds(run->load.window)},
                 {"calls_in_window", run->load.completed_in_window},
                 {"succeeded_in_window", run->load.succeeded_in_window},
                 {"throughput_per_s", run->load.Throughput()},
                 {"littles_law_bound_per_s", bound},
                 {"fraction_of_bound", fraction},
                 {"gateway_peak_threads", run->peak_threads},
                 {"gateway_peak_rss_mb", Mb(run->after.peak_rss_bytes)},
                 {"cores_busy", CoresJson(*run)},
                 {"cpu_per_call_us",
                  {{"gateway", ceiling.gateway_us},
                   {"emulator", ceiling.emulator_us},
                   {"load_generator", ceiling.load_generator_us}}},
                 {"machine_ceiling_per_s", ceiling.calls_per_s},
                 {"machine_ceiling_fraction_of_bound", ceiling.calls_per_s / bound},
                 {"latency", LatencyJson(s)},
                 {"target_fraction", kTargetFraction},
                 {"target_max_threads", kTargetMaxThreads},
                 {"target_peak_rss_mb", kTargetPeakRssMb},
                 {"met", met},
                 {"calls_by_operation", ByOperation(run->load.completed_by_operation)},
                 {"outcomes", latency.Outcomes()}};
  report.table = absl::StrCat(
      absl::StrFormat("concurrency: %d calls in flight, %d ms injected upstream latency\n",
                      options.in_flight, latency_ms),
      kLatencyHeader, LatencyRow("gateway (gRPC)", s),
      absl::StrFormat("  throughput %.0f/s of a Little's-law bound of %.0f/s: %.1f%% (target >= %.0f%%)\n",
                      run->load.Throughput(), bound, 100 * fraction, 100 * kTargetFraction),
      absl::StrFormat("  gateway threads (peak) %d (target <= %d), peak RSS %.1f MB (target <= %lld)\n",
                      run->peak_threads, kTargetMaxThreads, Mb(run->after.peak_rss_bytes),
                      kTargetPeakRssMb),
      CoresText(*run),
      absl::StrFormat("  CPU per call: gateway %.0f us, emulator %.0f us, load generator %.0f "
                      "us; with every core busy the machine would carry %.0f/s (%.1f%% of the "
                      "bound)\n",
                      ceiling.gateway_us, ceiling.emulator_us, ceiling.load_generator_us,
                      ceiling.calls_per_s, 100 * ceiling.calls_per_s / bound),
      "  outcomes: ", OutcomesText(latency.Outcomes()), "\n");
  return report;
}

// efficiency: saturating load, no injected latency: the gateway's CPU time
// per call, from /proc.
absl::StatusOr<Report> Efficiency(const Mix& mix, const std::vector<std::string>& documents) {
  absl::StatusOr<Prepared> prepared = Prepare(documents);
  if (!prepared.ok()) return prepared.status();
  std::unique_ptr<Stack>& stack = prepared->stack;
  const std::vector<ClientRef>& pool = prepared->pool;
  Workload workload(mix, pool, documents.size(), absl::GetFlag(FLAGS_seed));
  absl::StatusOr<std::unique_ptr<Target>> gateway =
      MakeGatewayTarget(stack->channel, documents, kCallTimeout);
  if (!gateway.ok()) return gateway.status();
  // gRPC's own floor on this machine: the same load of Health/Check calls,
  // which the gateway answers without Authlete, JSON or logging.
  std::unique_ptr<Target> health = MakeHealthCheckTarget(stack->channel, kCallTimeout);
  LatencyRecorder latency, health_latency;
  LoadOptions options;
  options.in_flight = absl::GetFlag(FLAGS_efficiency_in_flight);
  options.duration = absl::GetFlag(FLAGS_efficiency_duration);
  options.max_calls = INT64_MAX / 2;
  // The mix and the floor take turns in blocks, so that a machine whose
  // speed drifts during the run (a VM's did by a third from one run to the
  // next) weighs on both alike; each block has a warm-up of its own.
  constexpr int kBlocks = 4;
  LoadOptions block = options;
  block.duration = options.duration / kBlocks;
  block.warmup = block.duration / 5;
  LoadOptions floor_block = block;
  floor_block.duration = std::max(absl::Milliseconds(500), block.duration / 2);
  floor_block.warmup = floor_block.duration / 5;
  // Sums over the blocks; `last` keeps the latest run's process figures.
  absl::Duration cpu, floor_cpu, window, floor_window;
  int64_t succeeded = 0, floor_succeeded = 0, completed = 0;
  double gateway_busy = 0, emulator_busy = 0, generator_busy = 0;
  int64_t peak_threads = 0, peak_rss = 0;
  api::PerOperation<int64_t> by_operation{};
  std::vector<double> block_ratios;
  Report report;
  MeasuredRun last;
  for (int i = 0; i < kBlocks; ++i) {
    absl::StatusOr<MeasuredRun> run = MeasureGateway(*stack, **gateway, workload, block, latency);
    if (!run.ok()) return run.status();
    absl::StatusOr<MeasuredRun> floor =
        MeasureGateway(*stack, *health, workload, floor_block, health_latency);
    if (!floor.ok()) return floor.status();
    report.Count(run->load.failures);
    report.Count(floor->load.failures);
    const absl::Duration run_cpu = run->after.cpu - run->before.cpu;
    const absl::Duration run_floor_cpu = floor->after.cpu - floor->before.cpu;
    cpu += run_cpu;
    floor_cpu += run_floor_cpu;
    window += run->load.window;
    floor_window += floor->load.window;
    succeeded += run->load.succeeded_in_window;
    floor_succeeded += floor->load.succeeded_in_window;
    completed += run->load.completed_in_window;
    by_operation = Sum(by_operation, run->load.completed_by_operation);
    const double seconds = absl::ToDoubleSeconds(run->load.window);
    gateway_busy += run->gateway_cores * seconds;
    emulator_busy += run->emulator_cores * seconds;
    generator_busy += run->load_generator_cores * seconds;
    peak_threads = std::max(peak_threads, run->peak_threads);
    peak_rss = std::max(peak_rss, run->after.peak_rss_bytes);
    block_ratios.push_back(absl::FDivDuration(
        run_cpu / std::max<int64_t>(1, run->load.succeeded_in_window),
        std::max(run_floor_cpu / std::max<int64_t>(1, floor->load.succeeded_in_window),
                 absl::Nanoseconds(1))));
    last = *std::move(run);
  }
  // Per successful call: failed calls cost less and must not flatter it.
  const int64_t calls = std::max<int64_t>(1, succeeded);
  const absl::Duration per_call = cpu / calls;
  const absl::Duration floor_per_call = floor_cpu / std::max<int64_t>(1, floor_succeeded);
  const double seconds = std::max(absl::ToDoubleSeconds(window), 1e-9);
  last.gateway_cores = gateway_busy / seconds;
  last.emulator_cores = emulator_busy / seconds;
  last.load_generator_cores = generator_busy / seconds;
  const double throughput = static_cast<double>(succeeded) / seconds;
  const double floor_throughput =
      static_cast<double>(floor_succeeded) / std::max(absl::ToDoubleSeconds(floor_window), 1e-9);
  const double cpu_ratio = absl::FDivDuration(per_call, std::max(floor_per_call, absl::Nanoseconds(1)));
  const LatencySummary lat = latency.Summary();
  report.line = {{"scenario", "efficiency"},
                 {"in_flight", options.in_flight},
                 {"blocks", kBlocks},
                 {"window_s", absl::ToDoubleSeconds(window)},
                 {"calls_in_window", completed},
                 {"succeeded_in_window", succeeded},
                 {"throughput_per_s", throughput},
                 {"gateway_cpu_s", absl::ToDoubleSeconds(cpu)},
                 {"gateway_cpu_per_call_us", Us(per_call)},
                 {"grpc_floor_cpu_per_call_us", Us(floor_per_call)},
                 {"grpc_floor_throughput_per_s", floor_throughput},
                 {"gateway_rss_mb", Mb(last.after.rss_bytes)},
                 {"gateway_peak_rss_mb", Mb(peak_rss)},
                 {"gateway_peak_threads", peak_threads},
                 {"cores_busy", CoresJson(last)},
                 {"latency", LatencyJson(lat)},
                 {"cpu_per_call_over_floor", cpu_ratio},
                 {"cpu_per_call_over_floor_by_block", block_ratios},
                 {"target_cpu_over_floor", kTargetCpuOverFloor},
                 {"met", report.failed == 0 && cpu_ratio <= kTargetCpuOverFloor},
                 {"calls_by_operation", ByOperation(by_operation)},
                 {"outcomes", latency.Outcomes()}};
  report.table = absl::StrCat(
      absl::StrFormat("efficiency: %d calls in flight, no injected latency; the mix and the "
                      "floor alternate in %d blocks\n",
                      options.in_flight, kBlocks),
      kLatencyHeader, LatencyRow("gateway (gRPC)", lat),
      absl::StrFormat("  throughput %.0f/s; gateway CPU %.3f s for %d calls = %s us per call\n",
                      throughput, absl::ToDoubleSeconds(cpu), calls, Micros(per_call)),
      absl::StrFormat("  gRPC's floor (Health/Check, same load): %s us per call at %.0f/s; "
                      "the gateway's call = %.1fx the floor (target <= %.0fx); by block: %s\n",
                      Micros(floor_per_call), floor_throughput, cpu_ratio, kTargetCpuOverFloor,
                      absl::StrJoin(block_ratios, " ",
                                    [](std::string* out, double r) {
                                      absl::StrAppend(out, absl::StrFormat("%.1fx", r));
                                    })),
      absl::StrFormat("  gateway RSS %.1f MB (peak %.1f MB), threads (peak) %d\n",
                      Mb(last.after.rss_bytes), Mb(peak_rss), peak_threads),
      CoresText(last), "  outcomes: ", OutcomesText(latency.Outcomes()), "\n");
  return report;
}

// rate: an open loop at a fixed rate; latency counts from each call's
// scheduled start, so a stall shows in the tail instead of slowing the load.
absl::StatusOr<Report> Rate(const Mix& mix, const std::vector<std::string>& documents) {
  absl::StatusOr<Prepared> prepared = Prepare(documents);
  if (!prepared.ok()) return prepared.status();
  std::unique_ptr<Stack>& stack = prepared->stack;
  const std::vector<ClientRef>& pool = prepared->pool;
  Workload workload(mix, pool, documents.size(), absl::GetFlag(FLAGS_seed));
  LatencyRecorder latency;
  LoadOptions options;
  options.rate = absl::GetFlag(FLAGS_rate);
  options.duration = absl::GetFlag(FLAGS_rate_duration);
  options.warmup = options.duration / 6;
  options.max_calls = static_cast<int64_t>(options.rate * absl::ToDoubleSeconds(options.duration)) + 1;
  options.max_outstanding = 10000;
  absl::StatusOr<MeasuredRun> run = MeasureMix(*stack, workload, documents, options, latency);
  if (!run.ok()) return run.status();
  const absl::Duration cpu = run->after.cpu - run->before.cpu;
  const LatencySummary s = latency.Summary();
  Report report;
  CountRun(report, run->load, latency);
  report.line = {{"scenario", "rate"},
                 {"rate_per_s", options.rate},
                 {"throughput_per_s", run->load.Throughput()},
                 {"gateway_cpu_per_call_us",
                  Us(cpu / std::max<int64_t>(1, run->load.succeeded_in_window))},
                 {"latency", LatencyJson(s)},
                 {"outcomes", latency.Outcomes()}};
  report.table = absl::StrCat(
      absl::StrFormat("rate: open loop at %.0f calls/s, no injected latency\n", options.rate),
      kLatencyHeader, LatencyRow("gateway (gRPC)", s),
      absl::StrFormat("  throughput %.0f/s\n", run->load.Throughput()), "  outcomes: ",
      OutcomesText(latency.Outcomes()), "\n");
  return report;
}

int Main() {
  absl::StatusOr<Mix> mix = ParseMix(absl::GetFlag(FLAGS_mix));
  if (!mix.ok()) {
    std::fprintf(stderr, "dcr-bench: %s\n", std::string(mix.status().message()).c_str());
    return 2;
  }
  const std::vector<std::string> documents = MetadataDocuments();
  std::vector<std::size_t> sizes;
  for (const std::string& d : documents) sizes.push_back(d.size());
  std::printf("metadata documents: %zu, %zu to %zu bytes\n\n", documents.size(),
              *std::min_element(sizes.begin(), sizes.end()),
              *std::max_element(sizes.begin(), sizes.end()));
  int64_t failed = 0;
  for (const std::string& name : absl::GetFlag(FLAGS_scenarios)) {
    absl::StatusOr<Report> report;
    if (name == "overhead") report = Overhead(*mix, documents);
    else if (name == "concurrency") report = Concurrency(*mix, documents);
    else if (name == "efficiency") report = Efficiency(*mix, documents);
    else if (name == "rate") report = Rate(*mix, documents);
    else report = absl::InvalidArgumentError(absl::StrCat("unknown scenario ", name));
    if (!report.ok()) {
      std::fprintf(stderr, "dcr-bench: %s: %s\n", name.c_str(),
                   std::string(report.status().message()).c_str());
      return 1;
    }
    report->line["failed_calls"] = report->failed;
    report->line["failures"] = report->failures;
    if (report->failed > 0) {
      absl::StrAppend(&report->table, "  NOT MET: ", report->failed, " calls failed: ",
                      OutcomesText(report->failures), "\n");
    }
    std::printf("%s\n%s\n", report->line.dump().c_str(), report->table.c_str());
    std::fflush(stdout);
    failed += report->failed;
  }
  if (failed > 0) {
    std::fprintf(stderr, "dcr-bench: %lld calls failed\n", static_cast<long long>(failed));
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace dcr::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Benchmarks dcr-gateway against authlete-emulator: dcr-bench [--quick] "
      "[--scenarios=overhead,concurrency,efficiency,rate]");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_quick)) {
    absl::SetFlag(&FLAGS_overhead_calls, 200);
    // More calls in flight than the old default bound of 1,000 (which made
    // every call beyond it fail), so that defaults which cannot hold such a
    // load fail here. 1,000 ms upstream keeps the rate low enough for a
    // quick run beside other tests on 2 cores: a saturated gateway's calls
    // would wait past GetClient's 3 s attempt timeout.
    absl::SetFlag(&FLAGS_concurrency_in_flight, 1200);
    absl::SetFlag(&FLAGS_concurrency_latency_ms, 1000);
    absl::SetFlag(&FLAGS_concurrency_duration, absl::Seconds(4));
    absl::SetFlag(&FLAGS_efficiency_duration, absl::Seconds(2));
    absl::SetFlag(&FLAGS_rate, 200);
    absl::SetFlag(&FLAGS_rate_duration, absl::Seconds(2));
  }
  return dcr::bench::Main();
}
