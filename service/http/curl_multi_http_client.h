// HttpClient on libcurl's multi interface, driven by epoll on one thread.
//
// Why: a gRPC call waiting on Authlete must cost no thread. Every transfer is
// an easy handle in one multi handle; curl tells us which sockets to watch
// (CURLMOPT_SOCKETFUNCTION) and when to time out (CURLMOPT_TIMERFUNCTION,
// kept in a timerfd), so thousands of transfers wait in a single epoll set.
// A sending thread that finds the multi handle free writes its request
// itself: waking the loop thread for it would cost a context switch per call. The multi handle keeps a
// connection cache, so connections to Authlete stay warm and are reused
// (HTTP/1.1 keep-alive, or multiplexed HTTP/2 connections over TLS, which
// https requests are held back to fill rather than open one each: see
// MayStartTls in the .cc). The gateway calls one upstream, Authlete; that
// gate counts the TLS connections of a client together, whatever their host.
#ifndef DCR_SERVICE_HTTP_CURL_MULTI_HTTP_CLIENT_H_
#define DCR_SERVICE_HTTP_CURL_MULTI_HTTP_CLIENT_H_

#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "service/http/http_client.h"

namespace dcr::http {

struct CurlOptions {
  absl::Duration connect_timeout = absl::Seconds(3);
  // Larger responses fail with OUT_OF_RANGE instead of growing memory.
  std::size_t max_response_bytes = 1 << 20;
  // CA bundle for TLS to the upstream; empty: the system's. Peers are always
  // verified.
  std::string ca_file;
  // Connections per host; 0 means no limit (HTTP/2 multiplexes anyway).
  long max_host_connections = 0;
};

class CurlMultiHttpClient final : public HttpClient {
 public:
  static absl::StatusOr<std::unique_ptr<CurlMultiHttpClient>> Create(
      CurlOptions options);
  // Fails every transfer still under way with CANCELLED, then stops.
  ~CurlMultiHttpClient() override;

  CurlMultiHttpClient(const CurlMultiHttpClient&) = delete;
  CurlMultiHttpClient& operator=(const CurlMultiHttpClient&) = delete;

  // Starts the transfer on the calling thread when the multi handle is free
  // (the request is on the wire before Send returns, with no thread hop);
  // otherwise queues it for the event loop, which is busy anyway.
  void Send(HttpRequest request, HttpCallback done) override;

  // Fails every transfer under way and every one sent later with CANCELLED.
  // Used at the end of a graceful shutdown to release waiting gRPC calls.
  void CancelAll();

 private:
  struct Transfer;
  // Transfers that ended, handed to their callers once curl_mu_ is released
  // (a callback may Send again, or take long enough to stall other calls).
  using Finished = std::vector<std::unique_ptr<Transfer>>;

  CurlMultiHttpClient(CurlOptions options, CURLM* multi, int epoll_fd,
                      int wake_fd, int timer_fd, int held_timer_fd);
  void Wake();
  void Run();
  bool StoppingOrCancelling() ABSL_LOCKS_EXCLUDED(mu_);
  void StartQueued(Finished& finished) ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  // Hands the transfer to curl (AddTransfer), or holds it at the gate for
  // https transfers (see MayStartTls in the .cc).
  void StartTransfer(std::unique_ptr<Transfer> transfer, Finished& finished)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  void AddTransfer(std::unique_ptr<Transfer> transfer, Finished& finished)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  bool MayStartTls() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  void Hold(std::unique_ptr<Transfer> transfer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  // Hands curl the held transfers the gate lets through, in order.
  void StartHeld(Finished& finished) ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  // Fails the held transfers whose deadline passed (DEADLINE_EXCEEDED).
  void ExpireHeld(Finished& finished) ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  void ArmHeldTimer(int64_t at_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  // `transfer`'s request goes on the TLS connection from local `port`
  // (from curl's pre-request callback); LeaveConnection undoes it.
  void NoteConnection(Transfer* transfer, int port) ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  void LeaveConnection(Transfer* transfer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  // Runs the timeouts curl asked for at once and collects what ended, until
  // neither is left: the last thing done before curl_mu_ is released.
  void Settle(Finished& finished) ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  void FailAll(absl::string_view why, Finished& finished)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  void CollectDone(Finished& finished) ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  absl::Status TransportStatus(Transfer* transfer, CURLcode code);
  // Releases the transfer's curl resources and records its outcome.
  void Finish(std::unique_ptr<Transfer> transfer, absl::Status transport,
              Finished& finished) ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  static void Deliver(Finished& finished) ABSL_LOCKS_EXCLUDED(curl_mu_);
  // An easy handle with the options every transfer shares; nullptr if
  // libcurl cannot make one.
  CURL* NewEasy();
  void RecycleEasy(CURL* easy) ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  // Sets how many connections curl's cache keeps while `transfers` are under
  // way (CURLMOPT_MAXCONNECTS).
  void KeepConnectionsFor(std::size_t transfers) ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);

  static int OnSocket(CURL* easy, curl_socket_t fd, int what, void* self,
                      void* socket_data);
  static curl_socket_t OnOpenSocket(void* self, curlsocktype purpose, curl_sockaddr* address);
  static int OnCloseSocket(void* self, curl_socket_t fd);
  static int OnTimer(CURLM* multi, long timeout_ms, void* self);
  bool ArmTimer(int64_t at_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  void OnTimerFired() ABSL_EXCLUSIVE_LOCKS_REQUIRED(curl_mu_);
  static std::size_t OnBody(char* data, std::size_t size, std::size_t count,
                            void* transfer);
  static int OnPrerequest(void* transfer, char* primary_ip, char* local_ip,
                          int primary_port, int local_port);
  static std::size_t OnHeader(char* data, std::size_t size, std::size_t count,
                              void* transfer);

  const CurlOptions options_;
  CURLM* const multi_;
  const int epoll_fd_;
  const int wake_fd_;
  // curl's timer, armed from whichever thread holds curl_mu_; the event
  // loop sees it fire in the same epoll set as the sockets.
  const int timer_fd_;
  // The earliest deadline of a transfer held at the gate.
  const int held_timer_fd_;

  // The multi handle is not thread-safe: every curl call, and so every curl
  // callback, runs under curl_mu_, on the event loop or on a sending thread.
  absl::Mutex curl_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  bool timeout_due_ ABSL_GUARDED_BY(curl_mu_) = false;  // curl asked for 0 ms
  // When curl wants its timeout run, and when the timerfd fires
  // (CLOCK_MONOTONIC nanoseconds; kNoTime: never). Armed is never later than
  // wanted: it may be earlier (see OnTimer).
  static constexpr int64_t kNoTime = INT64_MAX;
  int64_t timer_wanted_ns_ ABSL_GUARDED_BY(curl_mu_) = kNoTime;
  int64_t timer_armed_ns_ ABSL_GUARDED_BY(curl_mu_) = kNoTime;
  std::vector<CURL*> idle_easies_ ABSL_GUARDED_BY(curl_mu_);
  // What each socket curl opened has in the epoll set, and whether curl
  // still watches it (see OnSocket).
  struct Watch {
    uint32_t events = 0;
    bool wanted = false;
  };
  absl::flat_hash_map<int, Watch> watched_ ABSL_GUARDED_BY(curl_mu_);
  absl::flat_hash_set<Transfer*> active_transfers_ ABSL_GUARDED_BY(curl_mu_);

  // The gate for https transfers (see MayStartTls in the .cc). Whether the
  // upstream multiplexes (learned from its connections and answers), the
  // https transfers in curl, the one among them that opens a connection
  // beyond the ready ones, and those held back, in order.
  enum class TlsUpstream { kUnknown, kMultiplexing, kSerial };
  TlsUpstream tls_upstream_ ABSL_GUARDED_BY(curl_mu_) = TlsUpstream::kUnknown;
  std::size_t tls_in_curl_ ABSL_GUARDED_BY(curl_mu_) = 0;
  Transfer* tls_opener_ ABSL_GUARDED_BY(curl_mu_) = nullptr;
  std::deque<std::unique_ptr<Transfer>> tls_held_ ABSL_GUARDED_BY(curl_mu_);
  int64_t held_timer_armed_ns_ ABSL_GUARDED_BY(curl_mu_) = kNoTime;
  // TLS connections ready (they carried a request), by local port, each with
  // the latest request on it while that one is under way.
  struct TlsConnection {
    Transfer* latest = nullptr;
  };
  absl::flat_hash_map<int, TlsConnection> tls_connections_ ABSL_GUARDED_BY(curl_mu_);

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Transfer>> queued_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelling_ ABSL_GUARDED_BY(mu_) = false;

  std::thread loop_;
};

}  // namespace dcr::http

#endif  // DCR_SERVICE_HTTP_CURL_MULTI_HTTP_CLIENT_H_
