// A flood of the largest Registers against the real dcr-gateway binary and a
// slow Authlete (the emulator, answering after a delay): many connections,
// many calls in flight on each, for a few seconds, from one caller, while a
// second caller makes ordinary calls. The gateway must keep its memory within
// its configured budget plus a stated margin, survive, keep serving the
// well-behaved caller, give its memory back once the flood is over, and count
// every call exactly as its callers saw it.
//
// Usage: flood_test --gateway=PATH (CTest passes it). Figures are printed;
// the bounds asserted are generous ones about memory, never about speed.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/types/optional.h"
#include "absl/synchronization/mutex.h"
#include "dcr/v1/client_registration_service.grpc.pb.h"
#include "service/callers/caller_policy.h"
#include "tests/cli/subprocess.h"
#include "tests/emulator/emulator.h"

ABSL_FLAG(std::string, gateway, "", "path of the dcr-gateway binary");

namespace dcr::testing {
namespace {

using cli_test::Process;
using cli_test::ReadFile;
using cli_test::WriteFile;

constexpr char kCredential[] = "emulator-service-token";
constexpr char kFloodKey[] = "flood-caller-key-5b1c0e";
constexpr char kSteadyKey[] = "steady-caller-key-9d2a7f";

constexpr int64_t kMiB = 1024 * 1024;
// The gateway's configured budget for calls in flight; gRPC's transport
// quota is then half of it (GatewayServer).
constexpr int64_t kBudget = 48 * kMiB;
// What the process may hold beyond the two: its baseline (code, gRPC and
// curl state, about 30 MB) and the allocator's slack.
constexpr int64_t kMargin = 64 * kMiB;
// How close to its baseline an idle gateway must come back, and how soon.
// What an idle gateway keeps after a burst is more than at start-up: up to
// 256 idle curl handles with their buffers, warm connections to Authlete and
// gRPC's caches (measured: 10-18 MiB above the baseline after 10 s, where
// glibc's malloc kept 56-63 MiB).
constexpr int64_t kReturnMargin = 24 * kMiB;
constexpr absl::Duration kReturnWithin = absl::Seconds(10);

constexpr int kConnections = 16;
constexpr int kInFlightPerConnection = 64;
constexpr absl::Duration kFloodFor = absl::Seconds(6);
constexpr int64_t kMaxFloodCalls = 200000;
constexpr absl::Duration kUpstreamLatency = absl::Milliseconds(400);
// Long enough that no flood call reaches it: the flood measures memory and
// fairness; callers that give up are the next test's.
constexpr absl::Duration kFloodDeadline = absl::Seconds(30);
constexpr absl::Duration kCallDeadline = absl::Seconds(10);

int64_t RssBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "VmRSS:")) {
      int64_t kb = 0;
      if (absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(rest), " kB"), &kb)) {
        return kb * 1024;
      }
    }
  }
  return -1;
}

// Samples a process's RSS until stopped; keeps the peak.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid) : pid_(pid), thread_([this] { Loop(); }) {}
  ~RssSampler() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t peak() const { return peak_; }

 private:
  void Loop() {
    while (!stop_) {
      peak_ = std::max<int64_t>(peak_, RssBytes(pid_));
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  const pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> peak_{0};
  std::thread thread_;
};

// The largest metadata document the gateway accepts by default (64 KiB):
// about 60 KB of contacts.
std::string LargestMetadata() {
  std::string contacts;
  for (int i = 0; i < 2100; ++i) {
    absl::StrAppend(&contacts, i == 0 ? "" : ",", "\"ops", 10000 + i, "@partner.example.com\"");
  }
  return absl::StrCat(R"({"redirect_uris":["https://flood.example.com/cb"],)",
                      R"("client_name":"flood","contacts":[)", contacts, "]}");
}

// Calls by (RPC, code) as the callers saw them.
using Counts = std::map<std::pair<std::string, std::string>, int64_t>;

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// Closed loop of RegisterClient calls on `connections` channels until
// `until` or `max_calls`, whichever first; returns once every call ended.
class Flood {
 public:
  Flood(int port, int connections, int in_flight, v1::RegisterClientRequest request)
      : request_(std::move(request)) {
    for (int i = 0; i < connections; ++i) {
      grpc::ChannelArguments args;
      // A connection of its own per channel, as separate client pods have.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("dcr.test.flood_connection", i);
      auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                               grpc::InsecureChannelCredentials(), args);
      stubs_.push_back(v1::ClientRegistrationService::NewStub(channel));
    }
    in_flight_ = in_flight;
  }

  void Run(absl::Time until, int64_t max_calls) {
    until_ = until;
    max_calls_ = max_calls;
    for (auto& stub : stubs_) {
      for (int i = 0; i < in_flight_; ++i) Next(stub.get());
    }
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int64_t* outstanding) { return *outstanding == 0; }, &outstanding_));
  }

  Counts counts() {
    absl::MutexLock lock(&mu_);
    return counts_;
  }

 private:
  struct Call {
    grpc::ClientContext context;
    v1::RegisterClientResponse response;
  };

  void Next(v1::ClientRegistrationService::Stub* stub) {
    {
      absl::MutexLock lock(&mu_);
      if (absl::Now() >= until_ || started_ >= max_calls_) return;
      ++started_;
      ++outstanding_;
    }
    auto* call = new Call();
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + kFloodDeadline));
    call->context.AddMetadata("authorization", absl::StrCat("Bearer ", kFloodKey));
    stub->async()->RegisterClient(&call->context, &request_, &call->response,
                                  [this, stub, call](grpc::Status status) {
                                    delete call;
                                    {
                                      absl::MutexLock lock(&mu_);
                                      ++counts_[{"RegisterClient", CodeName(status.error_code())}];
                                    }
                                    Next(stub);
                                    absl::MutexLock lock(&mu_);
                                    --outstanding_;
                                  });
  }

  const v1::RegisterClientRequest request_;
  std::vector<std::unique_ptr<v1::ClientRegistrationService::Stub>> stubs_;
  int in_flight_ = 0;
  absl::Time until_;
  int64_t max_calls_ = 0;
  absl::Mutex mu_;
  int64_t started_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  Counts counts_ ABSL_GUARDED_BY(mu_);
};

// The gateway's counters: dcr_gateway_rpc_calls_total by (rpc, code).
Counts GatewayCounts(const std::string& metrics) {
  Counts counts;
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::ConsumePrefix(&line, "dcr_gateway_rpc_calls_total{")) continue;
    const std::size_t close = line.find('}');
    if (close == absl::string_view::npos) continue;
    std::string rpc, code;
    for (absl::string_view label : absl::StrSplit(line.substr(0, close), ',')) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(label, '=');
      const std::string value(absl::StripSuffix(absl::StripPrefix(kv.second, "\""), "\""));
      if (kv.first == "rpc") rpc = value;
      if (kv.first == "code") code = value;
    }
    double value = 0;
    if (absl::SimpleAtod(absl::StripAsciiWhitespace(line.substr(close + 1)), &value)) {
      counts[{rpc, code}] += static_cast<int64_t>(value);
    }
  }
  return counts;
}

std::string HttpGet(int port, const std::string& path) {
  return cli_test::Run("/usr/bin/curl",
                       {"-s", "--max-time", "5", absl::StrCat("http://127.0.0.1:", port, path)})
      .out;
}

std::string Show(const Counts& counts) {
  std::string out;
  for (const auto& [key, n] : counts) absl::StrAppend(&out, key.first, "/", key.second, "=", n, " ");
  return out;
}

// The emulator (answering after `latency`) and the gateway binary with two
// callers, "flooder" and "steady", and an admission budget of kBudget.
struct Stack {
  ~Stack() {
    gateway.reset();
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
  std::string dir;
  std::unique_ptr<emulator::Emulator> emulator;
  absl::optional<Process> gateway;
  int port = 0;
  int admin_port = 0;
};

// `cgroup_procs`: a cgroup's process list the gateway joins before it
// starts (so that it reads that cgroup's memory limit); empty: none.
// `budget_flags`: false starts it with the default, derived budget.
void StartStack(absl::Duration latency, Stack& stack, const std::string& cgroup_procs = "",
                bool budget_flags = true) {
  const std::string gateway_path = absl::GetFlag(FLAGS_gateway);
  ASSERT_FALSE(gateway_path.empty()) << "usage: flood_test --gateway=PATH";
  stack.dir = cli_test::MakeTempDir();
  const std::string& dir = stack.dir;

  emulator::EmulatorOptions emulator_options;
  // Enough threads that the emulator, sharing this process with the load,
  // is not what limits the calls admitted.
  emulator_options.threads = 4;
  auto emulator = emulator::Emulator::Start(emulator_options);
  ASSERT_TRUE(emulator.ok()) << emulator.status();
  stack.emulator = *std::move(emulator);
  emulator::FaultSpec slow;
  emulator::FaultRule rule;
  rule.kind = emulator::FaultKind::kLatency;
  rule.latency_ms = absl::ToInt64Milliseconds(latency);
  slow.rules.push_back(rule);
  stack.emulator->SetFaults(slow);

  WriteFile(dir + "/credential", std::string(kCredential) + "\n");
  const std::string anything =
      R"("rpcs": ["*"], "service_ids": ["*"], "redirect_uri_patterns": ["*"], "grant_types": ["*"])";
  WriteFile(dir + "/callers.json",
            absl::StrCat(R"({"callers": [{"name": "flooder", "api_key_sha256": [")",
                         callers::HashApiKeyHex(kFloodKey), "\"], ", anything, R"(}, {"name": "steady", )",
                         R"("api_key_sha256": [")", callers::HashApiKeyHex(kSteadyKey), "\"], ", anything,
                         "}]}"));
  std::vector<std::string> args = {
      "--listen=127.0.0.1:0", "--admin_listen=127.0.0.1:0", "--insecure_plaintext",
      "--port_file=" + dir + "/gateway.port", "--callers_file=" + dir + "/callers.json",
      "--authlete_base_url=" + stack.emulator->base_url(),
      absl::StrCat("--authlete_service_id=", emulator::kDefaultServiceId),
      "--authlete_credential_file=" + dir + "/credential", "--log_requests=false",
      "--shutdown_grace=2s"};
  if (budget_flags) args.push_back(absl::StrCat("--memory_budget_bytes=", kBudget));
  std::string program = gateway_path;
  if (!cgroup_procs.empty()) {
    // Joins the cgroup, then becomes the gateway (same pid).
    args.insert(args.begin(), {"-c", "echo $$ > \"$0\" && exec \"$@\"", cgroup_procs,
                               gateway_path});
    program = "/bin/sh";
  }
  auto gateway = Process::Start(program, args, {}, dir + "/gateway.log");
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  stack.gateway.emplace(*std::move(gateway));
  auto port = cli_test::WaitForPortFile(dir + "/gateway.port", *stack.gateway);
  ASSERT_TRUE(port.ok()) << port.status() << ReadFile(dir + "/gateway.log");
  stack.port = *port;
  const std::string log = ReadFile(dir + "/gateway.log");
  const std::size_t at = log.find("\"admin_port\":");
  ASSERT_NE(at, std::string::npos) << log;
  ASSERT_TRUE(absl::SimpleAtoi(
      log.substr(at + 13, log.find_first_of(",}", at) - at - 13), &stack.admin_port))
      << log;
}

TEST(FloodTest, BoundedMemoryFairnessRecoveryAndHonestCounts) {
  Stack stack;
  ASSERT_NO_FATAL_FAILURE(StartStack(kUpstreamLatency, stack));
  Process* gateway = &*stack.gateway;
  const int* port = &stack.port;
  const int admin_port = stack.admin_port;
  const std::string& dir = stack.dir;

  auto steady_channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port),
                                            grpc::InsecureChannelCredentials());
  auto steady = v1::ClientRegistrationService::NewStub(steady_channel);
  Counts steady_counts;
  auto steady_register = [&] {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    context.AddMetadata("authorization", absl::StrCat("Bearer ", kSteadyKey));
    v1::RegisterClientRequest request;
    request.mutable_metadata()->add_redirect_uris("https://steady.example.com/cb");
    v1::RegisterClientResponse response;
    grpc::Status status = steady->RegisterClient(&context, request, &response);
    ++steady_counts[{"RegisterClient", CodeName(status.error_code())}];
    return status;
  };
  // Warm up: connections to Authlete, the allocator's arenas, then the
  // baseline an idle gateway holds.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(steady_register().ok());
  absl::SleepFor(absl::Seconds(1));
  const int64_t baseline = RssBytes(gateway->pid());
  ASSERT_GT(baseline, 0);

  v1::RegisterClientRequest largest;
  largest.set_metadata_json(LargestMetadata());
  ASSERT_GT(largest.ByteSizeLong(), 55000u);
  Flood flood(*port, kConnections, kInFlightPerConnection, largest);

  RssSampler sampler(gateway->pid());
  const absl::Time flood_end = absl::Now() + kFloodFor;
  std::thread flood_thread([&] { flood.Run(flood_end, kMaxFloodCalls); });
  // The well-behaved caller, one call at a time while the flood goes on.
  int steady_calls = 0;
  std::vector<std::string> steady_failures;
  while (absl::Now() < flood_end && steady_calls < 1000) {
    grpc::Status status = steady_register();
    ++steady_calls;
    if (!status.ok()) {
      steady_failures.push_back(absl::StrCat(CodeName(status.error_code()), ": ",
                                             status.error_message()));
    }
  }
  flood_thread.join();
  sampler.Stop();
  const int64_t peak = sampler.peak();

  ASSERT_TRUE(gateway->Running()) << ReadFile(dir + "/gateway.log");
  // Memory back near the baseline soon after, with no traffic.
  const absl::Time quiet = absl::Now();
  int64_t after = RssBytes(gateway->pid());
  while (after > baseline + kReturnMargin && absl::Now() - quiet < kReturnWithin) {
    absl::SleepFor(absl::Milliseconds(200));
    after = RssBytes(gateway->pid());
  }
  const absl::Duration returned_in = absl::Now() - quiet;

  const Counts flood_counts = flood.counts();
  Counts seen = flood_counts;
  for (const auto& [key, n] : steady_counts) seen[key] += n;
  const Counts counted = GatewayCounts(HttpGet(admin_port, "/metrics"));

  std::printf(
      "flood: %d connections x %d in flight of %zu-byte Registers for %.0f s, Authlete at "
      "%lld ms\n  callers saw: %s\n  gateway counted: %s\n  RSS: baseline %.1f MiB, peak %.1f "
      "MiB (budget %lld MiB + transport %lld MiB + margin %lld MiB), %.1f MiB %.1f s after\n"
      "  steady caller: %d calls, %zu failed\n",
      kConnections, kInFlightPerConnection, largest.ByteSizeLong(),
      absl::ToDoubleSeconds(kFloodFor), static_cast<long long>(absl::ToInt64Milliseconds(kUpstreamLatency)),
      Show(seen).c_str(), Show(counted).c_str(), baseline / double(kMiB), peak / double(kMiB),
      static_cast<long long>(kBudget / kMiB), static_cast<long long>(kBudget / 2 / kMiB),
      static_cast<long long>(kMargin / kMiB), after / double(kMiB),
      absl::ToDoubleSeconds(returned_in), steady_calls, steady_failures.size());

  // The flood overloaded the gateway (else this tested nothing) and some of
  // it still got through.
  EXPECT_GT((flood_counts.count({"RegisterClient", "RESOURCE_EXHAUSTED"})
                 ? flood_counts.at({"RegisterClient", "RESOURCE_EXHAUSTED"})
                 : 0),
            0)
      << Show(flood_counts);
  EXPECT_GT(flood_counts.count({"RegisterClient", "OK"}) ? flood_counts.at({"RegisterClient", "OK"}) : 0,
            0)
      << Show(flood_counts);
  EXPECT_LE(peak, kBudget + kBudget / 2 + kMargin);
  EXPECT_THAT(steady_failures, ::testing::IsEmpty());
  EXPECT_GT(steady_calls, 0);
  EXPECT_LE(after, baseline + kReturnMargin)
      << "RSS " << after / kMiB << " MiB after " << absl::ToDoubleSeconds(kReturnWithin)
      << " s, baseline " << baseline / kMiB << " MiB";
  // Every call counted as its caller saw it.
  EXPECT_EQ(counted, seen) << "callers: " << Show(seen) << "\ngateway: " << Show(counted);
}

// A caller that gives up before its answer comes: it saw CANCELLED or
// DEADLINE_EXCEEDED, and the gateway counts the call so, with reason
// CALLER_GAVE_UP, once Authlete has answered (a Register Authlete carried
// out is still logged with its client_id: nothing it did goes unrecorded).
TEST(FloodTest, CallersThatGiveUpAreCountedAsTheySawIt) {
  Stack stack;
  ASSERT_NO_FATAL_FAILURE(StartStack(absl::Milliseconds(800), stack));
  auto stub = v1::ClientRegistrationService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", stack.port), grpc::InsecureChannelCredentials()));
  constexpr int kCalls = 6;
  std::vector<std::thread> callers;
  for (int i = 0; i < kCalls; ++i) {
    callers.emplace_back([&stub, i] {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
      context.AddMetadata("authorization", absl::StrCat("Bearer ", kSteadyKey));
      v1::RegisterClientRequest request;
      request.mutable_metadata()->add_redirect_uris("https://gives-up.example.com/cb");
      v1::RegisterClientResponse response;
      std::thread cancel([&context] {
        absl::SleepFor(absl::Milliseconds(200));
        context.TryCancel();
      });
      grpc::Status status = stub->RegisterClient(&context, request, &response);
      cancel.join();
      EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << i;
    });
  }
  for (std::thread& t : callers) t.join();
  // The gateway learns of it when Authlete's answer comes (800 ms).
  Counts counted;
  const Counts expected = {{{"RegisterClient", "CANCELLED"}, kCalls}};
  const absl::Time until = absl::Now() + absl::Seconds(10);
  std::string metrics;
  while (absl::Now() < until) {
    metrics = HttpGet(stack.admin_port, "/metrics");
    counted = GatewayCounts(metrics);
    if (counted == expected) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(counted, expected) << Show(counted);
  EXPECT_THAT(metrics, ::testing::HasSubstr(absl::StrCat(
                           R"(dcr_gateway_rpc_errors_total{rpc="RegisterClient",code="CANCELLED",)",
                           R"(reason="CALLER_GAVE_UP"} )", kCalls)));
  // Authlete did register them, and the gateway's audit lines say which.
  EXPECT_EQ(stack.emulator->stats().clients_stored, kCalls);
  // A call's line is written just after its answer, so a moment after its
  // metrics.
  std::vector<std::string> gave_up_lines;
  for (const absl::Time lines_until = absl::Now() + absl::Seconds(10);
       gave_up_lines.size() < static_cast<std::size_t>(kCalls) && absl::Now() < lines_until;
       absl::SleepFor(absl::Milliseconds(50))) {
    gave_up_lines.clear();
    for (absl::string_view line : absl::StrSplit(ReadFile(stack.dir + "/gateway.log"), '\n')) {
      if (absl::StrContains(line, R"("caller_gave_up":true)")) gave_up_lines.emplace_back(line);
    }
  }
  EXPECT_EQ(gave_up_lines.size(), static_cast<std::size_t>(kCalls));
  for (const std::string& line : gave_up_lines) {
    EXPECT_THAT(line, ::testing::HasSubstr(R"("action":"ACTION_CREATED")"));
    EXPECT_THAT(line, ::testing::Not(::testing::HasSubstr(R"("client_id":"")")));
  }
}

// A memory cgroup of this process's own with a limit, removed with it:
// cgroup v1's memory controller or cgroup v2, whichever this machine has.
class MemoryCgroup {
 public:
  static absl::StatusOr<std::unique_ptr<MemoryCgroup>> Create(int64_t limit) {
    const std::string self = ReadFile("/proc/self/cgroup");
    for (absl::string_view line : absl::StrSplit(self, '\n')) {
      std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
      if (f.size() != 3) continue;
      std::string dir, limit_file;
      if (absl::StrContains(absl::StrCat(",", f[1], ","), ",memory,")) {
        dir = "/sys/fs/cgroup/memory" + f[2];
        limit_file = "memory.limit_in_bytes";
      } else if (f[0] == "0" && f[1].empty() &&
                 absl::StrContains(ReadFile("/sys/fs/cgroup/cgroup.controllers"), "memory")) {
        dir = "/sys/fs/cgroup" + f[2];
        limit_file = "memory.max";
      } else {
        continue;
      }
      auto group = std::unique_ptr<MemoryCgroup>(
          new MemoryCgroup(absl::StrCat(absl::StripSuffix(dir, "/"), "/dcr-flood-", getpid())));
      std::error_code error;
      if (!std::filesystem::create_directory(group->path_, error)) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot create ", group->path_, ": ", error.message()));
      }
      std::ofstream(group->path_ + "/" + limit_file) << limit;
      int64_t set = 0;
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(group->path_ + "/" + limit_file)),
                            &set) ||
          set != limit) {
        return absl::FailedPreconditionError(absl::StrCat("cannot set ", limit_file));
      }
      return group;
    }
    return absl::FailedPreconditionError("no memory cgroup controller:\n" + self);
  }
  ~MemoryCgroup() {
    // Empty once the gateway is gone; retried briefly while it exits.
    for (int i = 0; i < 50 && rmdir(path_.c_str()) != 0; ++i) absl::SleepFor(absl::Milliseconds(100));
  }
  std::string procs() const { return path_ + "/cgroup.procs"; }

 private:
  explicit MemoryCgroup(std::string path) : path_(std::move(path)) {}
  const std::string path_;
};

// The production defaults, from a real container limit: the base
// Deployment's 384 Mi set on a cgroup the gateway runs in, no budget flag.
// The gateway must read the limit, derive its budget from it (README
// "Memory and overload"), and survive a flood of the largest Registers well
// below the limit, where the kernel would kill it.
TEST(FloodTest, DefaultsFromTheContainersMemoryLimitHoldAFlood) {
  constexpr int64_t kLimit = 384 * kMiB;
  absl::StatusOr<std::unique_ptr<MemoryCgroup>> cgroup = MemoryCgroup::Create(kLimit);
  ASSERT_TRUE(cgroup.ok()) << cgroup.status()
                           << " (the test runs the gateway in a memory cgroup of its own)";
  {
    Stack stack;
    ASSERT_NO_FATAL_FAILURE(
        StartStack(kUpstreamLatency, stack, (*cgroup)->procs(), /*budget_flags=*/false));
    const std::string log = ReadFile(stack.dir + "/gateway.log");
    EXPECT_THAT(log, ::testing::HasSubstr(absl::StrCat("\"memory_limit_bytes\":", kLimit)));
    EXPECT_THAT(log, ::testing::HasSubstr("\"memory_limit_from\":\"cgroup\""));
    EXPECT_THAT(log, ::testing::HasSubstr(absl::StrCat("\"memory_budget_bytes\":", kLimit / 2)));

    v1::RegisterClientRequest largest;
    largest.set_metadata_json(LargestMetadata());
    Flood flood(stack.port, kConnections, 2 * kInFlightPerConnection, largest);
    RssSampler sampler(stack.gateway->pid());
    flood.Run(absl::Now() + absl::Seconds(4), kMaxFloodCalls);
    sampler.Stop();
    const Counts counts = flood.counts();
    std::printf("defaults in a 384 MiB cgroup: %s; peak RSS %.1f MiB\n", Show(counts).c_str(),
                sampler.peak() / double(kMiB));
    ASSERT_TRUE(stack.gateway->Running()) << ReadFile(stack.dir + "/gateway.log");
    EXPECT_GT(counts.count({"RegisterClient", "OK"}), 0u) << Show(counts);
    // Within what the defaults divide the limit into (50 % calls, 20 %
    // transport, the rest baseline and slack), far from the OOM killer.
    EXPECT_LE(sampler.peak(), kLimit * 85 / 100);
  }
}

}  // namespace
}  // namespace dcr::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
