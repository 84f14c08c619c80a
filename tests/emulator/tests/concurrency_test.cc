// Scale: 2,000 concurrent connections, each delayed 500 ms, all answered
// correctly by a 2-thread server, within a bounded time.
#include <curl/curl.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/emulator/tests/test_util.h"

namespace dcr::emulator {
namespace {

using namespace ::dcr::emulator::testing;  // NOLINT: test helpers
using ::nlohmann::json;

struct Transfer {
  CURL* easy = nullptr;
  std::string body;
  long status = 0;
  CURLcode code = CURLE_OK;
  bool done = false;
};

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

TEST(ConcurrencyTest, TwoThousandConnectionsWithInjectedLatency) {
  constexpr int kConnections = 2000;
  EmulatorOptions options;
  options.threads = 2;
  FaultRule latency;
  latency.kind = FaultKind::kLatency;
  latency.latency_ms = 500;
  options.faults.rules.push_back(latency);
  auto e = Emulator::Start(options);
  ASSERT_TRUE(e.ok()) << e.status();

  const std::string url = V3Url(**e, Operation::kRegister);
  const std::string body = RegisterParams(MinimalMetadata()).dump();
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, Bearer(kDefaultServiceToken).c_str());
  headers = curl_slist_append(headers, "Content-Type: application/json");
  CURLM* multi = curl_multi_init();
  std::vector<Transfer> transfers(kConnections);
  for (Transfer& t : transfers) {
    t.easy = curl_easy_init();
    curl_easy_setopt(t.easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(t.easy, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(t.easy, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(t.easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t.easy, CURLOPT_WRITEFUNCTION, &Collect);
    curl_easy_setopt(t.easy, CURLOPT_WRITEDATA, &t.body);
    curl_easy_setopt(t.easy, CURLOPT_PRIVATE, &t);
    curl_multi_add_handle(multi, t.easy);
  }
  auto start = std::chrono::steady_clock::now();
  int running = 0;
  do {
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      t->code = msg->data.result;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &t->status);
      t->done = true;
    }
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  } while (running > 0 &&
           std::chrono::steady_clock::now() - start < std::chrono::seconds(40));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::set<std::string> ids;
  int failures = 0;
  for (Transfer& t : transfers) {
    if (!t.done || t.code != CURLE_OK || t.status != 200) {
      if (++failures <= 5) {
        ADD_FAILURE() << "done=" << t.done << " curl=" << curl_easy_strerror(t.code)
                      << " status=" << t.status;
      }
    } else {
      DcrCall c = ToDcrCall(HttpResult{CURLE_OK, t.status, t.body, {}, 0});
      if (c.action() == "CREATED") ids.insert(ClientIdOf(c));
    }
    curl_multi_remove_handle(multi, t.easy);
    curl_easy_cleanup(t.easy);
  }
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);

  EXPECT_EQ(failures, 0);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kConnections)) << "every answer CREATED, ids unique";
  Stats s = (*e)->stats();
  EXPECT_EQ(s.register_requests, kConnections);
  EXPECT_EQ(s.clients_stored, kConnections);
  // The delays overlapped: the connections were open at the same time.
  EXPECT_GE(s.peak_connections, kConnections * 3 / 4) << "peak " << s.peak_connections;
  EXPECT_LT(seconds, 30.0);  // ~1.5 s normally; generous for loaded or sanitized builds
  std::printf("2000 connections x 500 ms latency: %.2f s, peak %lld connections\n", seconds,
              static_cast<long long>(s.peak_connections));
}

}  // namespace
}  // namespace dcr::emulator
