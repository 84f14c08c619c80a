// HttpClient on libcurl's multi interface, driven by epoll on one thread.
//
// Why: a gRPC call waiting on Authlete must cost no thread. Every transfer is
// an easy handle in one multi handle; curl tells us which sockets to watch
// (CURLMOPT_SOCKETFUNCTION) and when to time out (CURLMOPT_TIMERFUNCTION), so
// thousands of transfers wait in a single epoll set. The multi handle keeps a
// connection cache, so connections to Authlete stay warm and are reused
// (HTTP/1.1 keep-alive, or one multiplexed HTTP/2 connection over TLS).
#ifndef DCR_SERVICE_HTTP_CURL_MULTI_HTTP_CLIENT_H_
#define DCR_SERVICE_HTTP_CURL_MULTI_HTTP_CLIENT_H_

#include <curl/curl.h>

#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
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

  void Send(HttpRequest request, HttpCallback done) override;

  // Fails every transfer under way and every one sent later with CANCELLED.
  // Used at the end of a graceful shutdown to release waiting gRPC calls.
  void CancelAll();

 private:
  struct Transfer;

  CurlMultiHttpClient(CurlOptions options, CURLM* multi, int epoll_fd,
                      int wake_fd);
  void Wake();
  void Run();
  void StartQueued();
  void FailAll(absl::string_view why);
  void CollectDone();
  absl::Status TransportStatus(Transfer* transfer, CURLcode code);
  // Hands the result to the caller and frees the transfer.
  void Complete(Transfer* transfer, absl::Status transport);
  void RecycleEasy(CURL* easy);

  static int OnSocket(CURL* easy, curl_socket_t fd, int what, void* self,
                      void* socket_data);
  static int OnTimer(CURLM* multi, long timeout_ms, void* self);
  static std::size_t OnBody(char* data, std::size_t size, std::size_t count,
                            void* transfer);
  static std::size_t OnReadBody(char* buffer, std::size_t size, std::size_t count,
                                void* transfer);
  static int OnSeekBody(void* transfer, curl_off_t offset, int origin);
  static std::size_t OnHeader(char* data, std::size_t size, std::size_t count,
                              void* transfer);

  const CurlOptions options_;
  CURLM* const multi_;
  const int epoll_fd_;
  const int wake_fd_;

  // Loop-thread state.
  absl::optional<absl::Time> timer_deadline_;
  std::vector<CURL*> idle_easies_;
  absl::flat_hash_set<Transfer*> active_transfers_;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Transfer>> queued_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelling_ ABSL_GUARDED_BY(mu_) = false;

  std::thread loop_;
};

}  // namespace dcr::http

#endif  // DCR_SERVICE_HTTP_CURL_MULTI_HTTP_CLIENT_H_
