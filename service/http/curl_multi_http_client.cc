#include "service/http/curl_multi_http_client.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "service/telemetry/logging.h"

namespace dcr::http {
namespace {

// Easy handles kept for reuse; each holds no connection (the multi handle's
// cache does), only allocations worth keeping. A burst's worth beyond this
// is freed rather than held for good.
constexpr std::size_t kMaxIdleEasies = 256;

// curl's smallest upload buffer (its default is 64 KB per transfer). Over
// plain HTTP/1.1 a body is sent with the headers and needs none; over TLS
// or HTTP/2 curl copies what it sends into it, and with thousands of calls
// in flight the default alone would cost more than 100 MB.
constexpr long kUploadBufferBytes = 16 * 1024;
// Likewise curl's receive buffer (its default is 16 KB per transfer): an
// answer from Authlete is a few KB, read in a call or two at this size.
// curl allocates one byte more than this; so the whole fits jemalloc's
// 4 KiB size class instead of taking its 5 KiB one.
constexpr long kReceiveBufferBytes = 4 * 1024 - 1;

// Idle connections kept beyond the transfers under way (see
// KeepConnectionsFor): at least this many, or a quarter of those transfers.
constexpr std::size_t kMinSpareConnections = 64;

// Requests libcurl puts on one HTTP/2 connection: its own limit
// (CURLMOPT_MAX_CONCURRENT_STREAMS, 100 by default), which servers meet or
// exceed (nghttpx 100, nginx and AWS's load balancers 128).
constexpr std::size_t kStreamsPerConnection = 100;

int64_t MonotonicNanos() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
}

// Arms the timerfd `fd` to fire at `at_ns` (CLOCK_MONOTONIC).
bool ArmTimerFd(int fd, int64_t at_ns) {
  itimerspec spec{};
  spec.it_value.tv_sec = at_ns / 1000000000;
  spec.it_value.tv_nsec = at_ns % 1000000000;
  return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, nullptr) == 0;
}

// curl_global_init is not thread-safe; do it once per process.
void GlobalInitOnce() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)code;
}

absl::optional<absl::Duration> ParseRetryAfter(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return absl::nullopt;
    return absl::Seconds(seconds);
  }
  // An HTTP-date: curl_getdate parses every format RFC 9110 allows.
  std::string date(value);
  const time_t when = curl_getdate(date.c_str(), nullptr);
  if (when < 0) return absl::nullopt;
  return absl::FromTimeT(when) > absl::Now() ? absl::FromTimeT(when) - absl::Now()
                                             : absl::ZeroDuration();
}

}  // namespace

struct CurlMultiHttpClient::Transfer {
  CurlMultiHttpClient* client = nullptr;
  HttpRequest request;
  HttpCallback done;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpResult result;
  std::size_t max_response_bytes = 0;
  int attempts = 0;  // Times curl was about to send the request.
  // https: may go over HTTP/2, so it passes the gate (see StartTransfer).
  bool tls = false;
  bool in_curl = false;     // added to the multi handle
  int connection_port = 0;  // local port of the TLS connection it went on
  int64_t held_until_ns = 0;  // its deadline while held at the gate
  bool resend_refused = false;
  bool too_large = false;
  char error[CURL_ERROR_SIZE] = {0};
};

absl::StatusOr<std::unique_ptr<CurlMultiHttpClient>> CurlMultiHttpClient::Create(
    CurlOptions options) {
  GlobalInitOnce();
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) {
    return absl::InternalError(absl::StrCat("epoll_create1: ", std::strerror(errno)));
  }
  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const int timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  const int held_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  CURLM* multi = curl_multi_init();
  auto watch = [epoll_fd](int fd) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0;
  };
  if (wake_fd < 0 || timer_fd < 0 || held_timer_fd < 0 || multi == nullptr ||
      !watch(wake_fd) || !watch(timer_fd) || !watch(held_timer_fd)) {
    const std::string why = std::strerror(errno);
    if (multi != nullptr) curl_multi_cleanup(multi);
    for (int fd : {wake_fd, timer_fd, held_timer_fd, epoll_fd}) {
      if (fd >= 0) close(fd);
    }
    return absl::InternalError(
        absl::StrCat("cannot set up the libcurl multi handle: ", why));
  }
  return std::unique_ptr<CurlMultiHttpClient>(new CurlMultiHttpClient(
      std::move(options), multi, epoll_fd, wake_fd, timer_fd, held_timer_fd));
}

CurlMultiHttpClient::CurlMultiHttpClient(CurlOptions options, CURLM* multi,
                                         int epoll_fd, int wake_fd, int timer_fd,
                                         int held_timer_fd)
    : options_(std::move(options)),
      multi_(multi),
      epoll_fd_(epoll_fd),
      wake_fd_(wake_fd),
      timer_fd_(timer_fd),
      held_timer_fd_(held_timer_fd) {
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlMultiHttpClient::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlMultiHttpClient::OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  // Many requests share one HTTP/2 connection when the upstream offers it.
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, long{CURLPIPE_MULTIPLEX});
  if (options_.max_host_connections > 0) {
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS,
                      options_.max_host_connections);
  }
  loop_ = std::thread([this] { Run(); });
}

CurlMultiHttpClient::~CurlMultiHttpClient() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake();
  loop_.join();
  {
    // Under curl_mu_ as every curl call: closing the cached connections
    // calls OnCloseSocket.
    absl::MutexLock lock(&curl_mu_);
    for (CURL* easy : idle_easies_) curl_easy_cleanup(easy);
    idle_easies_.clear();
    curl_multi_cleanup(multi_);
  }
  close(held_timer_fd_);
  close(timer_fd_);
  close(wake_fd_);
  close(epoll_fd_);
}

void CurlMultiHttpClient::Send(HttpRequest request, HttpCallback done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->client = this;
  transfer->tls = absl::StartsWithIgnoreCase(request.url, "https:");
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  transfer->max_response_bytes = options_.max_response_bytes;
  // During a shutdown or a cancellation the loop fails queued transfers.
  if (!StoppingOrCancelling() && curl_mu_.TryLock()) {
    Finished finished;
    StartTransfer(std::move(transfer), finished);
    Settle(finished);
    curl_mu_.Unlock();
    Deliver(finished);
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    queued_.push_back(std::move(transfer));
  }
  Wake();
}

void CurlMultiHttpClient::CancelAll() {
  {
    absl::MutexLock lock(&mu_);
    cancelling_ = true;
  }
  Wake();
}

bool CurlMultiHttpClient::StoppingOrCancelling() {
  absl::MutexLock lock(&mu_);
  return stopping_ || cancelling_;
}

void CurlMultiHttpClient::Wake() {
  const uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the loop will wake anyway.
  (void)!write(wake_fd_, &one, sizeof(one));
}

void CurlMultiHttpClient::Run() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  int running = 0;
  for (;;) {
    // No timeout: curl's timer is the timer_fd_ in the same set.
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, -1);
    if (n < 0 && errno != EINTR) {
      // Unrecoverable; fail everything rather than leave callers hanging.
      Finished finished;
      {
        absl::MutexLock lock(&curl_mu_);
        FailAll(absl::StrCat("epoll_wait: ", std::strerror(errno)), finished);
      }
      Deliver(finished);
      return;
    }
    bool woken = false;
    bool timer_fired = false;
    bool held_timer_fired = false;
    bool stopping = false;
    Finished finished;
    curl_mu_.Lock();
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      uint64_t count;
      if (fd == wake_fd_) {
        (void)!read(wake_fd_, &count, sizeof(count));
        woken = true;
        continue;
      }
      if (fd == timer_fd_) {
        (void)!read(timer_fd_, &count, sizeof(count));
        timer_fired = true;
        continue;
      }
      if (fd == held_timer_fd_) {
        (void)!read(held_timer_fd_, &count, sizeof(count));
        held_timer_fired = true;
        continue;
      }
      if (auto it = watched_.find(fd); it != watched_.end() && !it->second.wanted) {
        // An idle connection's socket (see OnSocket): curl reads it when it
        // next takes the connection, and finds it closed then.
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        watched_.erase(it);
        continue;
      }
      int flags = 0;
      if (events[i].events & EPOLLIN) flags |= CURL_CSELECT_IN;
      if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
      curl_multi_socket_action(multi_, fd, flags, &running);
    }
    if (timer_fired) OnTimerFired();
    if (held_timer_fired) ExpireHeld(finished);
    if (woken) {
      bool cancelling;
      {
        absl::MutexLock flags_lock(&mu_);
        stopping = stopping_;
        cancelling = cancelling_;
      }
      if (stopping || cancelling) {
        FailAll(stopping ? "the HTTP client is shutting down"
                         : "the gateway is shutting down",
                finished);
      } else {
        StartQueued(finished);
      }
    }
    Settle(finished);
    curl_mu_.Unlock();
    Deliver(finished);
    if (stopping) return;
  }
}

void CurlMultiHttpClient::StartQueued(Finished& finished) {
  std::vector<std::unique_ptr<Transfer>> queued;
  {
    absl::MutexLock lock(&mu_);
    queued.swap(queued_);
  }
  for (auto& transfer : queued) StartTransfer(std::move(transfer), finished);
}

CURL* CurlMultiHttpClient::NewEasy() {
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return nullptr;
  // What every transfer shares. An easy handle keeps its options from one
  // transfer to the next (libcurl's own advice for reuse), so these are set
  // once: a curl_easy_reset and thirty setopts per call cost more than
  // writing the request.
  curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, &CurlMultiHttpClient::OnPrerequest);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &CurlMultiHttpClient::OnOpenSocket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &CurlMultiHttpClient::OnCloseSocket);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &CurlMultiHttpClient::OnBody);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &CurlMultiHttpClient::OnHeader);
  curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBufferBytes);
  curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, long{CURL_HTTP_VERSION_2TLS});
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  // A redirect would carry the Authorization header elsewhere: never follow.
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  }
  return easy;
}

void CurlMultiHttpClient::StartTransfer(std::unique_ptr<Transfer> owned,
                                        Finished& finished) {
  if (owned->tls && (!tls_held_.empty() || !MayStartTls())) {
    Hold(std::move(owned));
    return;
  }
  AddTransfer(std::move(owned), finished);
}

void CurlMultiHttpClient::AddTransfer(std::unique_ptr<Transfer> owned,
                                      Finished& finished) {
  Transfer* t = owned.get();
  CURL* easy;
  if (!idle_easies_.empty()) {
    easy = idle_easies_.back();
    idle_easies_.pop_back();
  } else {
    easy = NewEasy();
    if (easy == nullptr) {
      Finish(std::move(owned), absl::InternalError("curl_easy_init failed"), finished);
      return;
    }
  }
  t->easy = easy;
  for (const std::string& header : t->request.headers) {
    t->headers = curl_slist_append(t->headers, header.c_str());
  }
  // Never wait for "100 Continue": Authlete bodies are small.
  t->headers = curl_slist_append(t->headers, "Expect:");
  const int64_t timeout_ms =
      std::max<int64_t>(1, absl::ToInt64Milliseconds(t->request.timeout));
  const int64_t connect_ms = std::max<int64_t>(
      1, std::min<int64_t>(timeout_ms,
                           absl::ToInt64Milliseconds(options_.connect_timeout)));
  // Everything of this transfer's own, every time (see NewEasy for the rest).
  curl_easy_setopt(easy, CURLOPT_URL, t->request.url.c_str());
  if (t->request.method == HttpRequest::Method::kGet) {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else {
    // From the transfer's own string, not copied. Over HTTP/1.1 curl sends
    // a body this small in the same write as the headers: one packet, so
    // Authlete reads the request in one go.
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(t->request.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->request.body.data());
  }
  // libcurl silently resends a request whose reused connection died before
  // any answer. For a POST to Authlete that could register a second client,
  // so whether to resend stays the gateway's decision: curl asks before each
  // attempt (OnPrerequest), and a second attempt after the first wrote
  // anything is refused.
  curl_easy_setopt(easy, CURLOPT_PREREQDATA, t);
  curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, long{t->request.fresh_connection});
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_ms));
  curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
  const CURLMcode added = curl_multi_add_handle(multi_, easy);
  if (added != CURLM_OK) {
    Finish(std::move(owned),
           absl::InternalError(
               absl::StrCat("curl_multi_add_handle: ", curl_multi_strerror(added))),
           finished);
    return;
  }
  t->in_curl = true;
  if (t->tls) {
    ++tls_in_curl_;
    if (tls_upstream_ != TlsUpstream::kSerial &&
        tls_in_curl_ > kStreamsPerConnection * tls_connections_.size()) {
      tls_opener_ = t;  // Beyond the ready connections: it opens one.
    }
  }
  active_transfers_.insert(owned.release());  // Owned by the multi handle now.
  KeepConnectionsFor(active_transfers_.size());
}

// curl closes the oldest idle connection whenever a transfer hands one back
// and its cache then holds more than CURLMOPT_MAXCONNECTS. Its default, four
// times the transfers added at that moment, followed the dips of a steady
// load: at 32 calls in flight the gateway closed and reopened about 25
// connections a second (2.4 % of its CPU in connect, close and socket). The
// limit is the transfers under way plus a spare margin instead, moved as they
// start and end: steady load keeps its connections, and once a burst is over
// each answer still due closes one idle connection, down to the margin.
void CurlMultiHttpClient::KeepConnectionsFor(std::size_t transfers) {
  const std::size_t limit = transfers + std::max(kMinSpareConnections, transfers / 4);
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(limit));
}

void CurlMultiHttpClient::Settle(Finished& finished) {
  int running = 0;
  // Removing a finished handle may itself report a due timer: go on until
  // none is left, since nobody else would run it before the next event.
  do {
    while (timeout_due_) {
      timeout_due_ = false;
      curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    CollectDone(finished);
    // Adding a transfer asks for a 0 ms timeout: the loop runs it.
    if (!tls_held_.empty()) StartHeld(finished);
  } while (timeout_due_);
}

void CurlMultiHttpClient::CollectDone(Finished& finished) {
  int pending = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &pending)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* easy = message->easy_handle;
    const CURLcode code = message->data.result;
    Transfer* t = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    long request_bytes = 0;
    curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_bytes);
    if (t->tls && tls_upstream_ != TlsUpstream::kSerial && status != 0) {
      long version = CURL_HTTP_VERSION_NONE;
      curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
      if (version == CURL_HTTP_VERSION_1_0 || version == CURL_HTTP_VERSION_1_1) {
        tls_upstream_ = TlsUpstream::kSerial;  // An answer over HTTP/1.x.
      }
    }
    curl_multi_remove_handle(multi_, easy);
    active_transfers_.erase(t);
    KeepConnectionsFor(active_transfers_.size());
    t->result.status = static_cast<int>(status);
    t->result.request_sent = request_bytes > 0;
    absl::Status transport = TransportStatus(t, code);
    Finish(std::unique_ptr<Transfer>(t), std::move(transport), finished);
  }
}

absl::Status CurlMultiHttpClient::TransportStatus(Transfer* t, CURLcode code) {
  if (code == CURLE_OK) return absl::OkStatus();
  const std::string detail =
      t->error[0] != '\0' ? std::string(t->error) : curl_easy_strerror(code);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(detail);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      // Failed before the request could be written.
      t->result.request_sent = false;
      return absl::UnavailableError(detail);
    case CURLE_PARTIAL_FILE:
      return absl::DataLossError(detail);
    case CURLE_ABORTED_BY_CALLBACK:
      if (!t->resend_refused) return absl::UnavailableError(detail);
      // curl wanted to resend on a fresh connection (see OnPrerequest).
      t->result.request_sent = true;
      return absl::UnavailableError(
          "the connection closed before an answer; not resent, since the request "
          "may have been processed");
    case CURLE_WRITE_ERROR:
      if (t->too_large) {
        return absl::OutOfRangeError(absl::StrCat(
            "response larger than ", t->max_response_bytes, " bytes"));
      }
      return absl::InternalError(detail);
    default:
      return absl::UnavailableError(detail);
  }
}

void CurlMultiHttpClient::Finish(std::unique_ptr<Transfer> t, absl::Status transport,
                                 Finished& finished) {
  t->result.transport = std::move(transport);
  if (t->connection_port != 0) LeaveConnection(t.get());
  if (t.get() == tls_opener_) tls_opener_ = nullptr;
  if (t->in_curl && t->tls) --tls_in_curl_;
  t->in_curl = false;
  if (t->headers != nullptr) curl_slist_free_all(t->headers);
  t->headers = nullptr;
  if (t->easy != nullptr) RecycleEasy(t->easy);
  t->easy = nullptr;
  finished.push_back(std::move(t));
}

void CurlMultiHttpClient::Deliver(Finished& finished) {
  // Each answer ends a call with a log line: written together (about five
  // answers a batch at 32 calls in flight).
  telemetry::LogBatch lines;
  for (auto& t : finished) std::move(t->done)(std::move(t->result));
  finished.clear();
}

void CurlMultiHttpClient::RecycleEasy(CURL* easy) {
  if (idle_easies_.size() >= kMaxIdleEasies) {
    curl_easy_cleanup(easy);
    return;
  }
  // Nothing of the finished transfer is left for the handle to point at.
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, nullptr);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, nullptr);
  curl_easy_setopt(easy, CURLOPT_PREREQDATA, nullptr);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, nullptr);
  idle_easies_.push_back(easy);
}

void CurlMultiHttpClient::FailAll(absl::string_view why, Finished& finished) {
  // Queued transfers never reached curl.
  std::vector<std::unique_ptr<Transfer>> queued;
  {
    absl::MutexLock lock(&mu_);
    queued.swap(queued_);
  }
  for (auto& t : queued) Finish(std::move(t), absl::CancelledError(why), finished);
  while (!tls_held_.empty()) {
    std::unique_ptr<Transfer> t = std::move(tls_held_.front());
    tls_held_.pop_front();
    Finish(std::move(t), absl::CancelledError(why), finished);
  }
  // Active ones: deliver those that already finished, then abort the rest.
  CollectDone(finished);
  for (Transfer* t : std::vector<Transfer*>(active_transfers_.begin(),
                                            active_transfers_.end())) {
    curl_multi_remove_handle(multi_, t->easy);
    active_transfers_.erase(t);
    t->result.request_sent = true;  // Unknown: assume the worst.
    Finish(std::unique_ptr<Transfer>(t), absl::CancelledError(why), finished);
  }
}

// Runs inside a curl call, so under curl_mu_. curl says REMOVE when a
// transfer ends and its connection goes idle in the cache, then asks for the
// same socket again when the next transfer takes that connection: a DEL and
// an ADD per call. So a socket curl stops watching stays in the epoll set
// with what it had, and costs nothing if curl asks for it again; if it fires
// meanwhile (Authlete closed the idle connection), Run takes it out then.
int CurlMultiHttpClient::OnSocket(CURL* /*easy*/, curl_socket_t fd, int what,
                                  void* self_ptr, void* /*socket_data*/)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  auto* self = static_cast<CurlMultiHttpClient*>(self_ptr);
  auto it = self->watched_.find(fd);
  if (what == CURL_POLL_REMOVE) {
    if (it != self->watched_.end()) it->second.wanted = false;
    return 0;
  }
  uint32_t events = 0;
  if (what & CURL_POLL_IN) events |= EPOLLIN;
  if (what & CURL_POLL_OUT) events |= EPOLLOUT;
  if (it != self->watched_.end() && it->second.events == events) {
    it->second.wanted = true;
    return 0;
  }
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  int op = it != self->watched_.end() ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(self->epoll_fd_, op, fd, &event) != 0) {
    // Not where the record says: retry the other way.
    op = op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(self->epoll_fd_, op, fd, &event) != 0) return -1;
  }
  self->watched_[fd] = Watch{events, true};
  return 0;
}

// Sockets are opened and closed through these (CURLOPT_OPENSOCKETFUNCTION,
// CURLOPT_CLOSESOCKETFUNCTION) so that the record of the epoll set follows
// them: a closed socket leaves the set by itself, and a new one that gets
// its number must not be taken for it. Under curl_mu_, as every curl call.
curl_socket_t CurlMultiHttpClient::OnOpenSocket(void* self_ptr, curlsocktype /*purpose*/,
                                                curl_sockaddr* address)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  auto* self = static_cast<CurlMultiHttpClient*>(self_ptr);
  const int fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd < 0) return CURL_SOCKET_BAD;
  self->watched_.erase(fd);
  return fd;
}

int CurlMultiHttpClient::OnCloseSocket(void* self_ptr, curl_socket_t fd)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  auto* self = static_cast<CurlMultiHttpClient*>(self_ptr);
  self->watched_.erase(fd);
  if (!self->tls_connections_.empty()) {
    sockaddr_storage local{};
    socklen_t length = sizeof(local);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
      int port = 0;
      if (local.ss_family == AF_INET) {
        port = ntohs(reinterpret_cast<const sockaddr_in&>(local).sin_port);
      } else if (local.ss_family == AF_INET6) {
        port = ntohs(reinterpret_cast<const sockaddr_in6&>(local).sin6_port);
      }
      self->tls_connections_.erase(port);
    }
  }
  return close(fd);
}

// The gate for https transfers. libcurl 7.88 puts one request on an HTTP/2
// connection still being set up, and none past the stream limit on a ready
// one; so, handed more requests than its ready connections carry, it opens a
// connection for each of the rest. A burst of 1,000 on a cold client opened
// 500 to 900 TLS connections to an HTTP/2 server, and on 2 cores 392 of
// the requests failed in the TLS handshake. (CURLOPT_PIPEWAIT makes curl
// hold requests back itself until a handshake tells whether the upstream
// multiplexes, but a request curl holds has no connection, so curl enforces
// none of its timeouts.) So the gateway hands curl no more https requests
// than its ready connections carry over HTTP/2, plus one that opens the
// next connection, and holds the rest here, in order, each until its own
// deadline: the first request to a new upstream goes alone, and the rest
// follow once its connection is ready. Once the upstream answers over
// HTTP/1.1 nothing is held, since every request in flight needs a
// connection of its own. Plain HTTP never multiplexes here.
bool CurlMultiHttpClient::MayStartTls() const {
  if (tls_upstream_ == TlsUpstream::kSerial) return true;
  return tls_in_curl_ < kStreamsPerConnection * tls_connections_.size() ||
         tls_opener_ == nullptr;
}

void CurlMultiHttpClient::Hold(std::unique_ptr<Transfer> t) {
  const int64_t now = MonotonicNanos();
  // Saturated: an infinite timeout would overflow.
  t->held_until_ns = now + std::min(absl::ToInt64Nanoseconds(t->request.timeout),
                                    kNoTime - 1 - now);
  if (t->held_until_ns < held_timer_armed_ns_) ArmHeldTimer(t->held_until_ns);
  tls_held_.push_back(std::move(t));
}

void CurlMultiHttpClient::StartHeld(Finished& finished) {
  while (!tls_held_.empty() && MayStartTls()) {
    std::unique_ptr<Transfer> t = std::move(tls_held_.front());
    tls_held_.pop_front();
    AddTransfer(std::move(t), finished);
  }
}

void CurlMultiHttpClient::ExpireHeld(Finished& finished) {
  held_timer_armed_ns_ = kNoTime;
  const int64_t now = MonotonicNanos();
  int64_t next = kNoTime;
  std::deque<std::unique_ptr<Transfer>> kept;
  for (auto& t : tls_held_) {
    if (t->held_until_ns <= now) {
      Finish(std::move(t),
             absl::DeadlineExceededError(
                 "no connection to the upstream was free before the request's deadline"),
             finished);
    } else {
      next = std::min(next, t->held_until_ns);
      kept.push_back(std::move(t));
    }
  }
  tls_held_.swap(kept);
  if (next != kNoTime) ArmHeldTimer(next);
}

void CurlMultiHttpClient::ArmHeldTimer(int64_t at_ns) {
  if (ArmTimerFd(held_timer_fd_, at_ns)) held_timer_armed_ns_ = at_ns;
}

// From curl's pre-request callback, when a TLS connection is ready for `t`.
// HTTP/1.1 reuses a connection only once the answer on it is read, so a
// connection carrying a request whose answer has not come is multiplexing.
void CurlMultiHttpClient::NoteConnection(Transfer* t, int port) {
  if (t->connection_port != 0) LeaveConnection(t);  // curl tries again
  auto [it, is_new] = tls_connections_.try_emplace(port);
  TlsConnection& connection = it->second;
  if (!is_new && connection.latest != nullptr &&
      tls_upstream_ != TlsUpstream::kMultiplexing) {
    long status = 0;
    curl_easy_getinfo(connection.latest->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status == 0) tls_upstream_ = TlsUpstream::kMultiplexing;
  }
  connection.latest = t;
  t->connection_port = port;
  if (t == tls_opener_) tls_opener_ = nullptr;  // its connection is ready
}

void CurlMultiHttpClient::LeaveConnection(Transfer* t) {
  auto it = tls_connections_.find(t->connection_port);
  if (it != tls_connections_.end() && it->second.latest == t) it->second.latest = nullptr;
  t->connection_port = 0;
}

// Runs inside a curl call, so under curl_mu_. A 0 ms timeout is run by the
// caller right after that call (curl forbids doing it from here). curl moves
// its timer on every transfer (set when one starts, cleared when it ends),
// and a timerfd_settime for each would cost two syscalls a call; so the
// timerfd is only moved earlier, never later or off, and when it fires
// before curl's time (OnTimerFired) it is set again for that time.
int CurlMultiHttpClient::OnTimer(CURLM* /*multi*/, long timeout_ms, void* self_ptr)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  auto* self = static_cast<CurlMultiHttpClient*>(self_ptr);
  self->timeout_due_ = timeout_ms == 0;
  if (timeout_ms < 0) {
    self->timer_wanted_ns_ = kNoTime;
    return 0;
  }
  self->timer_wanted_ns_ = MonotonicNanos() + int64_t{timeout_ms} * 1000000;
  if (timeout_ms == 0 || self->timer_wanted_ns_ >= self->timer_armed_ns_) return 0;
  return self->ArmTimer(self->timer_wanted_ns_) ? 0 : -1;
}

bool CurlMultiHttpClient::ArmTimer(int64_t at_ns) {
  if (!ArmTimerFd(timer_fd_, at_ns)) return false;
  timer_armed_ns_ = at_ns;
  return true;
}

void CurlMultiHttpClient::OnTimerFired() {
  timer_armed_ns_ = kNoTime;
  if (timer_wanted_ns_ == kNoTime) return;
  // Only once curl's own time has come: run earlier, curl would find nothing
  // due and, its timer unchanged, not ask for it again.
  if (MonotonicNanos() < timer_wanted_ns_) {
    (void)ArmTimer(timer_wanted_ns_);
    return;
  }
  int running = 0;
  curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
}

std::size_t CurlMultiHttpClient::OnBody(char* data, std::size_t size,
                                        std::size_t count, void* transfer) {
  auto* t = static_cast<Transfer*>(transfer);
  const std::size_t n = size * count;
  if (t->result.body.size() + n > t->max_response_bytes) {
    t->too_large = true;
    return 0;  // Makes curl abort with CURLE_WRITE_ERROR.
  }
  t->result.body.append(data, n);
  return n;
}

int CurlMultiHttpClient::OnPrerequest(void* transfer, char* /*primary_ip*/,
                                      char* /*local_ip*/, int /*primary_port*/,
                                      int local_port) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  auto* t = static_cast<Transfer*>(transfer);
  if (t->tls && local_port > 0) t->client->NoteConnection(t, local_port);
  if (t->attempts++ == 0) return CURL_PREREQFUNC_OK;
  // A GET that may run twice is curl's to resend; so is any request the
  // first attempt wrote nothing of (curl counts what it wrote).
  if (t->request.method == HttpRequest::Method::kGet && !t->request.fresh_connection) {
    return CURL_PREREQFUNC_OK;
  }
  long written = 0;
  curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &written);
  if (written == 0) return CURL_PREREQFUNC_OK;
  t->resend_refused = true;
  return CURL_PREREQFUNC_ABORT;
}

std::size_t CurlMultiHttpClient::OnHeader(char* data, std::size_t size,
                                          std::size_t count, void* transfer) {
  auto* t = static_cast<Transfer*>(transfer);
  const std::size_t n = size * count;
  absl::string_view line(data, n);
  if (absl::StartsWith(line, "HTTP/")) {
    t->result.retry_after.reset();  // A new response (after 1xx) starts.
  } else if (absl::StartsWithIgnoreCase(line, "retry-after:")) {
    t->result.retry_after = ParseRetryAfter(line.substr(12));
  }
  return n;
}

}  // namespace dcr::http
