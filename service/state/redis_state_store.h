// A StateStore in Redis, shared by every replica that points at the same
// server: the atomic steps are server-side Lua scripts (EVALSHA, EVAL when
// the server lost them), and every key carries a TTL (PEXPIRE in the same
// script that writes it, so no key ever lives without one).
//
// One thread of the store's own runs an epoll loop over one connection
// (redis_connection.h: hiredis for the protocol, plaintext or TLS; no thread
// per call). Calls from any thread are queued (bounded in count and bytes)
// and written by that thread; their callbacks run on it. While the store is
// not connected, or its queue is full, a call fails at once with UNAVAILABLE
// on the calling thread and nothing is sent. A command without an answer
// within command_timeout drops the connection (every command on it fails
// UNAVAILABLE), and the store reconnects with exponential backoff.
//
// What leaves the process: idempotency records sealed by RecordCipher
// (AES-256-GCM, the record's Redis key as associated data); keys,
// fingerprints and bucket names only as HMAC-SHA256 under the keys file's
// names key. The AUTH password comes from a file and is never logged; with
// TLS it crosses the network encrypted, the server's certificate checked.
#ifndef DCR_SERVICE_STATE_REDIS_STATE_STORE_H_
#define DCR_SERVICE_STATE_REDIS_STATE_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "service/state/record_cipher.h"
#include "service/state/redis_connection.h"
#include "service/state/state_store.h"

namespace dcr::state {

struct RedisOptions {
  std::string host = "127.0.0.1";  // a name is resolved on the store's thread
  int port = 6379;
  // AUTH: the password is the file's content without its trailing newline.
  // Empty: no AUTH. `username` (Redis 6 ACLs) is used only with a password.
  std::string password_file;
  std::string username;
  // TLS to the server (redis_connection.h): on, the CA, the name checked,
  // and a client certificate where the server asks for one.
  RedisTlsOptions tls;
  // Prepended to every key, so that several gateways (or other users) can
  // share one Redis.
  std::string key_prefix = "dcr:";
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(1);
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Calls queued or awaiting their answer at most, and their bytes.
  std::size_t max_pending = 10000;
  std::size_t max_pending_bytes = 64 << 20;
  // The largest record Complete accepts, and the most a reply may buffer
  // before the connection is dropped as misbehaving.
  std::size_t max_record_bytes = 1 << 20;
  std::size_t max_reply_bytes = 4 << 20;
  // Told every connect and disconnect, and a failed connect whenever its
  // reason changes, on the store's thread (a log line, a gauge); `reason`
  // never holds a secret.
  std::function<void(bool connected, const std::string& reason)> on_connection_change;
};

class RedisStateStore final : public StateStore {
 public:
  // Starts the store's thread, which connects in the background: until it
  // has, calls fail with UNAVAILABLE (see WaitForConnection).
  static absl::StatusOr<std::unique_ptr<RedisStateStore>> Create(RedisOptions options,
                                                                 RecordCipher cipher);
  // Fails every call still pending with UNAVAILABLE, then stops the thread.
  // Must not run on the store's thread (i.e. from one of its callbacks).
  ~RedisStateStore() override;
  RedisStateStore(const RedisStateStore&) = delete;
  RedisStateStore& operator=(const RedisStateStore&) = delete;

  void Reserve(absl::string_view key, absl::string_view fingerprint, absl::Duration ttl,
               ReserveCallback done) override;
  void Complete(const Reservation& reservation, absl::string_view record, absl::Duration ttl,
                DoneCallback done) override;
  void MarkUnknown(const Reservation& reservation, absl::Duration ttl,
                   DoneCallback done) override;
  void Release(const Reservation& reservation, DoneCallback done) override;
  void Acquire(absl::string_view bucket_key, double rate_per_s, double burst, absl::Time now,
               RateCallback done) override;
  StoreHealth Health() const override;

  // True once connected (and authenticated); false if `timeout` passed first.
  bool WaitForConnection(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  // The Redis key an idempotency key is stored under (tests, operators).
  std::string RecordKeyName(absl::string_view key) const;
  std::string BucketKeyName(absl::string_view bucket_key) const;

 private:
  struct Pending;
  // What a reply (or its absence) means to the call that sent it; runs on the
  // store's thread. `reply` is null when the connection went away (`lost`
  // says why) or the call was never sent.
  using ReplyHandler = absl::AnyInvocable<void(const redisReply* reply, absl::Status lost) &&>;
  enum class Script { kReserve, kFinish, kRelease, kBucket, kCount };

  RedisStateStore(RedisOptions options, RecordCipher cipher, std::string password,
                  std::shared_ptr<RedisTlsContext> tls);

  // Any thread: queue a script call, or fail it at once.
  void SubmitScript(Script script, std::string key, std::vector<std::string> argv,
                    ReplyHandler handler) ABSL_LOCKS_EXCLUDED(mu_);

  // The store's thread.
  void Run();
  int NextTimeoutMs(absl::Time now) const;
  void Connect();
  void SendHandshake();
  void SendQueued() ABSL_LOCKS_EXCLUDED(mu_);
  void Send(std::unique_ptr<Pending> pending);
  void DriveConnection();
  void OnReply(const redisReply& reply);
  void CheckDeadlines(absl::Time now);
  // Closes the connection and fails what was sent on it; Drop also
  // schedules the reconnect and tells on_connection_change.
  void CloseConnection(const std::string& reason);
  void DropConnection(const std::string& reason);
  void ScheduleReconnect();
  void MarkDisconnected(const std::string& reason) ABSL_LOCKS_EXCLUDED(mu_);
  void MarkReady() ABSL_LOCKS_EXCLUDED(mu_);
  void FailQueued(const std::string& reason) ABSL_LOCKS_EXCLUDED(mu_);
  void Finish(std::unique_ptr<Pending> pending, const redisReply* reply, absl::Status lost)
      ABSL_LOCKS_EXCLUDED(mu_);
  void UpdateEvents();

  const RedisOptions options_;
  const RecordCipher cipher_;
  std::string password_;  // wiped by the destructor
  const std::shared_ptr<RedisTlsContext> tls_;  // null: plaintext
  std::string script_sha_[static_cast<int>(Script::kCount)];

  // Shared with callers.
  mutable absl::Mutex mu_;
  std::deque<std::unique_ptr<Pending>> queue_ ABSL_GUARDED_BY(mu_);
  std::size_t pending_count_ ABSL_GUARDED_BY(mu_) = 0;  // queued + awaiting an answer
  std::size_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> connected_{false};

  // The store's thread only.
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::unique_ptr<RedisConnection> connection_;
  uint64_t connection_id_ = 0;  // which connection a handshake answer is for
  uint32_t registered_events_ = 0;  // in epoll for connection_'s socket; 0: none
  bool handshake_done_ = false;
  absl::Time connect_deadline_ = absl::InfiniteFuture();
  absl::Time next_connect_ = absl::InfinitePast();
  absl::Duration backoff_;
  std::string drop_reason_;
  std::string last_reported_;  // to on_connection_change
  std::deque<std::unique_ptr<Pending>> outstanding_;  // sent on connection_, in order

  std::thread thread_;
};

}  // namespace dcr::state

#endif  // DCR_SERVICE_STATE_REDIS_STATE_STORE_H_
