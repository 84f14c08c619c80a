// Three gateway replicas behind one client-side round-robin channel (as a
// client reaches the pods of a headless Kubernetes Service), restarted one at
// a time while calls keep coming: no call may fail. What makes it work:
// a draining gateway reports NOT_SERVING first and keeps serving for the
// drain delay; the client's health checking takes it out of the rotation;
// in-flight calls finish before the server stops.
#include <atomic>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "client/channel.h"
#include "gateway_test_env.h"

namespace dcr::testing {
namespace {

absl::StatusOr<std::unique_ptr<server::GatewayServer>> StartOnPort(config::GatewayConfig config,
                                                                   int port) {
  config.listen_address = absl::StrCat("127.0.0.1:", port);
  // The old process's port may take a moment to be released.
  absl::StatusOr<std::unique_ptr<server::GatewayServer>> gateway;
  for (int i = 0; i < 50; ++i) {
    gateway = server::GatewayServer::Start(config);
    if (gateway.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return gateway;
}

TEST(RollingRestartTest, NoCallFailsWhileReplicasRestartOneAtATime) {
  // The environment provides the emulator and the gateway config; its own
  // gateway is not among the three replicas.
  auto env = GatewayTestEnv::Start(TweakGateway([](config::GatewayConfig& c) {
    c.drain_delay = absl::Milliseconds(600);
    c.shutdown_grace = absl::Seconds(5);
  }));
  ASSERT_TRUE(env.ok()) << env.status();
  const config::GatewayConfig config = (*env)->config();

  std::vector<std::unique_ptr<server::GatewayServer>> replicas;
  std::vector<std::string> addresses;
  std::vector<int> ports;
  for (int i = 0; i < 3; ++i) {
    auto gateway = StartOnPort(config, 0);
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    ports.push_back((*gateway)->port());
    addresses.push_back(absl::StrCat("127.0.0.1:", ports.back()));
    replicas.push_back(*std::move(gateway));
  }
  client::ChannelOptions options;  // round_robin with health checking: the defaults
  auto channel = client::MakeChannel("ipv4:" + absl::StrJoin(addresses, ","), options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = v1::ClientRegistrationService::NewStub(*channel);

  // Load: each worker registers a client, reads it, updates it and deletes
  // it, again and again. Bounded in calls and in time.
  constexpr int kWorkers = 4;
  constexpr int64_t kMaxCalls = 40000;
  const absl::Time hard_stop = absl::Now() + absl::Seconds(60);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> calls{0};
  absl::Mutex mu;
  absl::flat_hash_map<std::string, int> failures;  // "RPC CODE: message" -> count
  auto record = [&](const char* rpc, const grpc::Status& status) {
    calls.fetch_add(1);
    if (status.ok()) return;
    absl::MutexLock lock(&mu);
    ++failures[absl::StrCat(rpc, " ", status.error_code(), ": ", status.error_message())];
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (!stop.load() && calls.load() < kMaxCalls && absl::Now() < hard_stop) {
        v1::RegisterClientRequest reg;
        reg.set_metadata_json(R"({"redirect_uris":["https://app.example.com/cb"]})");
        v1::RegisterClientResponse registered;
        grpc::Status status = stub->RegisterClient(Context(absl::Seconds(5)).get(), reg, &registered);
        record("register", status);
        if (!status.ok()) continue;
        v1::GetClientRequest get;
        get.set_client_id(registered.client().client_id());
        get.set_registration_access_token(registered.client().registration_access_token());
        v1::GetClientResponse got;
        record("get", stub->GetClient(Context(absl::Seconds(5)).get(), get, &got));
        v1::UpdateClientRequest update;
        update.set_client_id(get.client_id());
        update.set_registration_access_token(get.registration_access_token());
        update.set_metadata_json(R"({"redirect_uris":["https://app.example.com/cb2"]})");
        v1::UpdateClientResponse updated;
        record("update", stub->UpdateClient(Context(absl::Seconds(5)).get(), update, &updated));
        v1::DeleteClientRequest del;
        del.set_client_id(get.client_id());
        del.set_registration_access_token(get.registration_access_token());
        v1::DeleteClientResponse deleted;
        record("delete", stub->DeleteClient(Context(absl::Seconds(5)).get(), del, &deleted));
      }
    });
  }

  // Restart each replica in turn, as a Deployment's rolling update does:
  // SIGTERM (Shutdown with the drain delay), then a new one on its port.
  absl::SleepFor(absl::Milliseconds(500));
  int64_t calls_during_restarts = 0;
  for (int i = 0; i < 3; ++i) {
    const int64_t before = calls.load();
    replicas[i]->Shutdown(config.shutdown_grace);
    replicas[i].reset();
    auto restarted = StartOnPort(config, ports[i]);
    ASSERT_TRUE(restarted.ok()) << restarted.status();
    replicas[i] = *std::move(restarted);
    // Let the client reconnect before the next replica goes (a readiness
    // probe's job in Kubernetes).
    absl::SleepFor(absl::Milliseconds(1500));
    calls_during_restarts += calls.load() - before;
  }
  stop.store(true);
  for (std::thread& t : workers) t.join();

  absl::MutexLock lock(&mu);
  std::string report;
  for (const auto& [what, count] : failures) absl::StrAppend(&report, count, " x ", what, "\n");
  EXPECT_TRUE(failures.empty()) << report;
  EXPECT_GT(calls_during_restarts, 100) << "too little load to prove anything";
  RecordProperty("calls", static_cast<int>(calls.load()));
  for (auto& replica : replicas) replica->Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace dcr::testing
