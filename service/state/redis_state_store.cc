#include "service/state/redis_state_store.h"

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "service/state/argument_checks.h"

namespace dcr::state {
namespace {

// Each script touches one key a bounded number of times: the cost of a call
// does not grow with anything the callers send.
//
// Records are hashes: s = state (p pending, c completed, u unknown), f =
// fingerprint hash, o = the holder's token, r = the sealed record.
constexpr const char* kReserveScript = R"lua(
local v = redis.call('HMGET', KEYS[1], 's', 'f', 'r')
if not v[1] then
  redis.call('HSET', KEYS[1], 's', 'p', 'f', ARGV[1], 'o', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'reserved'}
end
if v[2] ~= ARGV[1] then return {'mismatch'} end
if v[1] == 'p' then return {'in_flight', redis.call('PTTL', KEYS[1])} end
if v[1] == 'c' then return {'completed', v[3]} end
return {'unknown'}
)lua";

// Writes a final state if the caller still holds the key, or nobody does.
constexpr const char* kFinishScript = R"lua(
local v = redis.call('HMGET', KEYS[1], 's', 'o')
if v[1] and (v[1] ~= 'p' or v[2] ~= ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 's', ARGV[3], 'f', ARGV[2], 'o', ARGV[1], 'r', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
)lua";

constexpr const char* kReleaseScript = R"lua(
local v = redis.call('HMGET', KEYS[1], 's', 'o')
if v[1] == 'p' and v[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
)lua";

// A token bucket on the Redis server's clock (TIME, microseconds), so that
// the replicas' clocks do not matter: t = tokens, u = last update. The key
// lives until the bucket would be full again, when dropping it is lossless.
constexpr const char* kBucketScript = R"lua(
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(v[1]) or burst
local updated = tonumber(v[2]) or now
if now > updated then
  tokens = math.min(burst, tokens + (now - updated) * rate / 1000000)
  updated = now
end
local allowed = 0
local wait_us = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait_us = math.ceil((1 - tokens) * 1000000 / rate)
end
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'u', string.format('%.0f', updated))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {allowed, wait_us}
)lua";

constexpr const char* kScripts[] = {kReserveScript, kFinishScript, kReleaseScript, kBucketScript};

constexpr std::size_t kMaxPasswordBytes = 4096;
// Poll a held key again this soon at most: the holder usually answers in
// tens of milliseconds.
constexpr absl::Duration kInFlightPoll = absl::Milliseconds(50);

std::string Sha1Hex(absl::string_view text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string RandomToken() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // Uniqueness is what matters here, not secrecy.
    absl::BitGen gen;
    for (unsigned char& b : bytes) b = absl::Uniform<unsigned char>(gen);
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

std::string Millis(absl::Duration d) {
  return absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1)))));
}

bool IsString(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
         r->str != nullptr;
}
absl::string_view Text(const redisReply* r) { return absl::string_view(r->str, r->len); }

// Element i of an array reply, or null: replies are untrusted input.
const redisReply* At(const redisReply* r, std::size_t i) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || i >= r->elements || r->element == nullptr) {
    return nullptr;
  }
  return r->element[i];
}

bool IsInteger(const redisReply* r) { return r != nullptr && r->type == REDIS_REPLY_INTEGER; }

// An error reply's first word (its code: NOSCRIPT, WRONGTYPE, NOAUTH, OOM,
// READONLY, ...): enough to act on, and never a value from a key.
std::string ErrorCode(const redisReply* r) {
  if (r->str == nullptr) return "ERR";
  absl::string_view text(r->str, std::min<std::size_t>(r->len, 64));
  text = text.substr(0, text.find(' '));
  std::string code;
  for (char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_') code.push_back(c);
  }
  return code.empty() ? "ERR" : code;
}

absl::Status Unexpected(absl::string_view what) {
  return absl::InternalError(absl::StrCat("unexpected reply from Redis to ", what));
}

}  // namespace

struct RedisStateStore::Pending {
  std::vector<std::string> args;
  Script script = Script::kCount;  // kCount: not a script (handshake)
  bool counted = false;            // in pending_count_ / pending_bytes_
  std::size_t bytes = 0;
  bool fell_back = false;          // already resent as EVAL once
  absl::Time deadline = absl::InfiniteFuture();
  ReplyHandler handler;
};

absl::StatusOr<std::unique_ptr<RedisStateStore>> RedisStateStore::Create(RedisOptions options,
                                                                         RecordCipher cipher) {
  if (options.host.empty() || options.port <= 0 || options.port > 65535) {
    return absl::InvalidArgumentError("Redis host must be set and port in 1..65535");
  }
  if (options.connect_timeout <= absl::ZeroDuration() ||
      options.command_timeout <= absl::ZeroDuration() ||
      options.initial_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError("Redis timeouts and backoffs must be positive");
  }
  if (options.max_pending == 0 || options.max_pending_bytes == 0 ||
      options.max_reply_bytes < 2 * options.max_record_bytes + 4096) {
    return absl::InvalidArgumentError(
        "Redis queue bounds must be positive and max_reply_bytes must hold a sealed record");
  }
  std::string password;
  if (!options.password_file.empty()) {
    std::ifstream in(options.password_file, std::ios::binary);
    if (!in) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read Redis password file ", options.password_file));
    }
    password.assign(kMaxPasswordBytes + 1, '\0');
    in.read(password.data(), static_cast<std::streamsize>(password.size()));
    password.resize(static_cast<std::size_t>(in.gcount()));
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
      password.pop_back();
    }
    if (password.empty() || password.size() > kMaxPasswordBytes) {
      OPENSSL_cleanse(password.data(), password.size());
      return absl::FailedPreconditionError(absl::StrCat(
          "Redis password file ", options.password_file, " is empty or over 4096 bytes"));
    }
  }
  std::shared_ptr<RedisTlsContext> tls;
  if (options.tls.enabled) {
    absl::StatusOr<std::shared_ptr<RedisTlsContext>> context = RedisTlsContext::Create(options.tls);
    if (!context.ok()) {
      OPENSSL_cleanse(password.data(), password.size());
      return context.status();
    }
    tls = *std::move(context);
  }
  std::unique_ptr<RedisStateStore> store(new RedisStateStore(
      std::move(options), std::move(cipher), std::move(password), std::move(tls)));
  store->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  store->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (store->epoll_fd_ < 0 || store->wake_fd_ < 0) {
    return absl::InternalError(absl::StrCat("epoll/eventfd: ", std::strerror(errno)));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = store->wake_fd_;
  if (epoll_ctl(store->epoll_fd_, EPOLL_CTL_ADD, store->wake_fd_, &ev) != 0) {
    return absl::InternalError(absl::StrCat("epoll_ctl: ", std::strerror(errno)));
  }
  store->thread_ = std::thread([s = store.get()] { s->Run(); });
  return store;
}

RedisStateStore::RedisStateStore(RedisOptions options, RecordCipher cipher, std::string password,
                                 std::shared_ptr<RedisTlsContext> tls)
    : options_(std::move(options)),
      cipher_(std::move(cipher)),
      password_(std::move(password)),
      tls_(std::move(tls)),
      backoff_(options_.initial_backoff) {
  for (int i = 0; i < static_cast<int>(Script::kCount); ++i) script_sha_[i] = Sha1Hex(kScripts[i]);
}

RedisStateStore::~RedisStateStore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
  if (thread_.joinable()) thread_.join();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  OPENSSL_cleanse(password_.data(), password_.size());
}

std::string RedisStateStore::RecordKeyName(absl::string_view key) const {
  return absl::StrCat(options_.key_prefix, "idem:", cipher_.NameHash("idem", key));
}

std::string RedisStateStore::BucketKeyName(absl::string_view bucket_key) const {
  return absl::StrCat(options_.key_prefix, "rate:", cipher_.NameHash("bucket", bucket_key));
}

StoreHealth RedisStateStore::Health() const { return {"redis", connected_.load()}; }

bool RedisStateStore::WaitForConnection(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&ready_), timeout);
}

// ---- the calls: arguments in, a typed answer out ----

void RedisStateStore::Reserve(absl::string_view key, absl::string_view fingerprint,
                              absl::Duration ttl, ReserveCallback done) {
  absl::Status bad = CheckKey("key", key);
  if (bad.ok()) bad = CheckKey("fingerprint", fingerprint);
  if (bad.ok()) bad = CheckTtl(ttl);
  if (!bad.ok()) return std::move(done)(bad);
  std::string name = RecordKeyName(key);
  Reservation reservation{std::string(key), std::string(fingerprint), RandomToken()};
  std::vector<std::string> argv = {cipher_.NameHash("fingerprint", fingerprint), reservation.token,
                                   Millis(ttl)};
  SubmitScript(
      Script::kReserve, name, std::move(argv),
      [this, name, reservation = std::move(reservation), done = std::move(done)](
          const redisReply* r, absl::Status lost) mutable {
        if (r == nullptr) return std::move(done)(std::move(lost));
        if (!IsString(At(r, 0))) return std::move(done)(Unexpected("reserve"));
        const absl::string_view what = Text(At(r, 0));
        ReserveResult result;
        if (what == "reserved") {
          result.outcome = ReserveOutcome::kReserved;
          result.reservation = std::move(reservation);
        } else if (what == "mismatch") {
          result.outcome = ReserveOutcome::kFingerprintMismatch;
        } else if (what == "unknown") {
          result.outcome = ReserveOutcome::kOutcomeUnknown;
        } else if (what == "in_flight" && IsInteger(At(r, 1))) {
          result.outcome = ReserveOutcome::kInFlight;
          // PTTL may be -1/-2 (no TTL, gone since): poll soon either way.
          const int64_t left = At(r, 1)->integer;
          result.retry_after =
              left > 0 ? std::min(kInFlightPoll, absl::Milliseconds(left)) : absl::Milliseconds(1);
        } else if (what == "completed" && IsString(At(r, 1))) {
          absl::StatusOr<std::string> record = cipher_.Open(Text(At(r, 1)), name);
          if (!record.ok()) return std::move(done)(record.status());
          result.outcome = ReserveOutcome::kCompleted;
          result.record = *std::move(record);
        } else {
          return std::move(done)(Unexpected("reserve"));
        }
        std::move(done)(std::move(result));
      });
}

namespace {
absl::Status FinishAnswer(const redisReply* r, absl::Status lost, absl::string_view what) {
  if (r == nullptr) return lost;
  if (r->type != REDIS_REPLY_INTEGER) return Unexpected(what);
  if (r->integer == 1) return absl::OkStatus();
  return absl::AbortedError("the reservation is no longer held: another call took the key");
}
}  // namespace

void RedisStateStore::Complete(const Reservation& reservation, absl::string_view record,
                               absl::Duration ttl, DoneCallback done) {
  absl::Status bad = CheckReservation(reservation);
  if (bad.ok()) bad = CheckTtl(ttl);
  if (bad.ok()) bad = CheckRecord(record, options_.max_record_bytes);
  if (!bad.ok()) return std::move(done)(bad);
  std::string name = RecordKeyName(reservation.key);
  absl::StatusOr<std::string> sealed = cipher_.Seal(record, name);
  if (!sealed.ok()) return std::move(done)(sealed.status());
  std::vector<std::string> argv = {reservation.token,
                                   cipher_.NameHash("fingerprint", reservation.fingerprint), "c",
                                   *std::move(sealed), Millis(ttl)};
  SubmitScript(Script::kFinish, std::move(name), std::move(argv),
               [done = std::move(done)](const redisReply* r, absl::Status lost) mutable {
                 std::move(done)(FinishAnswer(r, std::move(lost), "complete"));
               });
}

void RedisStateStore::MarkUnknown(const Reservation& reservation, absl::Duration ttl,
                                  DoneCallback done) {
  absl::Status bad = CheckReservation(reservation);
  if (bad.ok()) bad = CheckTtl(ttl);
  if (!bad.ok()) return std::move(done)(bad);
  std::vector<std::string> argv = {reservation.token,
                                   cipher_.NameHash("fingerprint", reservation.fingerprint), "u",
                                   "", Millis(ttl)};
  SubmitScript(Script::kFinish, RecordKeyName(reservation.key), std::move(argv),
               [done = std::move(done)](const redisReply* r, absl::Status lost) mutable {
                 std::move(done)(FinishAnswer(r, std::move(lost), "mark unknown"));
               });
}

void RedisStateStore::Release(const Reservation& reservation, DoneCallback done) {
  absl::Status bad = CheckReservation(reservation);
  if (!bad.ok()) return std::move(done)(bad);
  SubmitScript(Script::kRelease, RecordKeyName(reservation.key), {reservation.token},
               [done = std::move(done)](const redisReply* r, absl::Status lost) mutable {
                 if (r == nullptr) return std::move(done)(std::move(lost));
                 if (r->type != REDIS_REPLY_INTEGER) return std::move(done)(Unexpected("release"));
                 std::move(done)(absl::OkStatus());
               });
}

void RedisStateStore::Acquire(absl::string_view bucket_key, double rate_per_s, double burst,
                              absl::Time /*now: the server's clock is used*/, RateCallback done) {
  absl::Status bad = CheckKey("bucket key", bucket_key);
  if (bad.ok()) bad = CheckRate(rate_per_s, burst);
  if (!bad.ok()) return std::move(done)(bad);
  std::vector<std::string> argv = {absl::StrFormat("%.17g", rate_per_s),
                                   absl::StrFormat("%.17g", burst)};
  SubmitScript(Script::kBucket, BucketKeyName(bucket_key), std::move(argv),
               [done = std::move(done)](const redisReply* r, absl::Status lost) mutable {
                 if (r == nullptr) return std::move(done)(std::move(lost));
                 if (!IsInteger(At(r, 0)) || !IsInteger(At(r, 1)) || At(r, 1)->integer < 0) {
                   return std::move(done)(Unexpected("acquire"));
                 }
                 RateDecision decision;
                 decision.allowed = At(r, 0)->integer == 1;
                 if (!decision.allowed) {
                   decision.retry_after = absl::Microseconds(At(r, 1)->integer);
                 }
                 std::move(done)(decision);
               });
}

// ---- the queue between callers and the store's thread ----

void RedisStateStore::SubmitScript(Script script, std::string key, std::vector<std::string> argv,
                                   ReplyHandler handler) {
  auto pending = std::make_unique<Pending>();
  pending->script = script;
  pending->args.reserve(4 + argv.size());
  pending->args.push_back("EVALSHA");
  pending->args.push_back(script_sha_[static_cast<int>(script)]);
  pending->args.push_back("1");
  pending->args.push_back(std::move(key));
  for (std::string& a : argv) pending->args.push_back(std::move(a));
  for (const std::string& a : pending->args) pending->bytes += a.size();
  pending->handler = std::move(handler);

  absl::Status refused;
  bool wake = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      refused = absl::UnavailableError("state store is shutting down");
    } else if (!ready_) {
      refused = absl::UnavailableError("state store (Redis) is not connected");
    } else if (pending_count_ >= options_.max_pending ||
               pending_bytes_ + pending->bytes > options_.max_pending_bytes) {
      refused = absl::UnavailableError("state store (Redis) queue is full");
    } else {
      pending->counted = true;
      ++pending_count_;
      pending_bytes_ += pending->bytes;
      wake = queue_.empty();
      queue_.push_back(std::move(pending));
    }
  }
  if (!refused.ok()) return std::move(pending->handler)(nullptr, std::move(refused));
  if (wake) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
}

void RedisStateStore::Finish(std::unique_ptr<Pending> pending, const redisReply* reply,
                             absl::Status lost) {
  if (pending->counted) {
    absl::MutexLock lock(&mu_);
    --pending_count_;
    pending_bytes_ -= pending->bytes;
  }
  std::move(pending->handler)(reply, std::move(lost));
}

void RedisStateStore::FailQueued(const std::string& reason) {
  std::deque<std::unique_ptr<Pending>> failed;
  {
    absl::MutexLock lock(&mu_);
    failed.swap(queue_);
  }
  for (auto& p : failed) Finish(std::move(p), nullptr, absl::UnavailableError(reason));
}

void RedisStateStore::SendQueued() {
  std::deque<std::unique_ptr<Pending>> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(queue_);
  }
  for (auto& p : batch) {
    if (connection_ == nullptr || !handshake_done_) {
      Finish(std::move(p), nullptr, absl::UnavailableError(absl::StrCat(
                                        "state store (Redis) connection lost: ", drop_reason_)));
    } else {
      Send(std::move(p));
    }
  }
}

void RedisStateStore::Send(std::unique_ptr<Pending> pending) {
  pending->deadline = absl::Now() + options_.command_timeout;
  connection_->Append(pending->args);
  outstanding_.push_back(std::move(pending));
}

void RedisStateStore::OnReply(const redisReply& reply) {
  std::unique_ptr<Pending> pending = std::move(outstanding_.front());
  outstanding_.pop_front();
  if (reply.type == REDIS_REPLY_ERROR && pending->script != Script::kCount) {
    const std::string code = ErrorCode(&reply);
    // The server lost its scripts (restart, SCRIPT FLUSH, failover): send
    // the script itself, once, on the same connection.
    if (code == "NOSCRIPT" && !pending->fell_back) {
      pending->fell_back = true;
      pending->args[0] = "EVAL";
      pending->args[1] = kScripts[static_cast<int>(pending->script)];
      return Send(std::move(pending));
    }
    return Finish(std::move(pending), nullptr,
                  absl::UnavailableError(absl::StrCat("Redis answered ", code)));
  }
  // Handshake commands judge their replies, errors included, themselves.
  Finish(std::move(pending), &reply, absl::OkStatus());
}

// ---- the connection ----

void RedisStateStore::Connect() {
  drop_reason_.clear();
  absl::StatusOr<std::unique_ptr<RedisConnection>> connection =
      RedisConnection::Open(options_.host, options_.port, tls_, options_.max_reply_bytes);
  if (!connection.ok()) {
    ScheduleReconnect();
    MarkDisconnected(std::string(connection.status().message()));
    return;
  }
  connection_ = *std::move(connection);
  ++connection_id_;
  registered_events_ = 0;
  handshake_done_ = false;
  connect_deadline_ = absl::Now() + options_.connect_timeout;
  // Queued now, written once connected (after the TLS handshake, with TLS).
  SendHandshake();
  UpdateEvents();
}

void RedisStateStore::SendHandshake() {
  auto internal = [this](std::vector<std::string> args, ReplyHandler handler) {
    auto p = std::make_unique<Pending>();
    p->args = std::move(args);
    p->handler = std::move(handler);
    Send(std::move(p));
  };
  const uint64_t connection = connection_id_;
  if (!password_.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!options_.username.empty()) auth.push_back(options_.username);
    auth.push_back(password_);
    internal(std::move(auth), [this, connection](const redisReply* r, absl::Status) {
      if (connection != connection_id_ || r == nullptr) return;
      if (r->type == REDIS_REPLY_ERROR) {
        DropConnection(absl::StrCat("AUTH refused: ", ErrorCode(r)));
      }
    });
  }
  for (int i = 0; i < static_cast<int>(Script::kCount); ++i) {
    internal({"SCRIPT", "LOAD", kScripts[i]}, [](const redisReply*, absl::Status) {
      // A failed load only costs the first call an EVAL fallback.
    });
  }
  internal({"PING"}, [this, connection](const redisReply* r, absl::Status) {
    if (connection != connection_id_ || r == nullptr) return;
    if (r->type == REDIS_REPLY_ERROR) {
      return DropConnection(absl::StrCat("PING refused: ", ErrorCode(r)));
    }
    if (!IsString(r) || Text(r) != "PONG") return DropConnection("PING: unexpected answer");
    handshake_done_ = true;
    connect_deadline_ = absl::InfiniteFuture();
    backoff_ = options_.initial_backoff;
    MarkReady();
  });
}

void RedisStateStore::DriveConnection() {
  std::vector<RedisReplyPtr> replies;
  absl::Status status = connection_->Drive(&replies);
  const uint64_t connection = connection_id_;
  for (RedisReplyPtr& reply : replies) {
    // A handler may have dropped the connection: the replies left belong
    // to calls that have had their answer (UNAVAILABLE) already.
    if (connection != connection_id_) return;
    if (outstanding_.empty()) return DropConnection("a reply nobody asked for");
    OnReply(*reply);
  }
  if (connection != connection_id_) return;
  if (!status.ok()) return DropConnection(std::string(status.message()));
  UpdateEvents();
}

void RedisStateStore::CloseConnection(const std::string& reason) {
  if (connection_ == nullptr) return;
  if (registered_events_ != 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, connection_->fd(), nullptr);
  registered_events_ = 0;
  connection_.reset();
  ++connection_id_;
  drop_reason_ = reason;
  // Every command sent on it fails UNAVAILABLE: it may or may not have run.
  std::deque<std::unique_ptr<Pending>> lost;
  lost.swap(outstanding_);
  for (auto& p : lost) {
    Finish(std::move(p), nullptr,
           absl::UnavailableError(absl::StrCat("state store (Redis) connection lost: ", reason)));
  }
}

void RedisStateStore::DropConnection(const std::string& reason) {
  if (connection_ == nullptr) return;
  ScheduleReconnect();
  // Not ready first: a caller told of the loss must find the store not
  // connected (WaitForConnection, Health), not the connection just lost.
  MarkDisconnected(reason);
  CloseConnection(reason);
}

void RedisStateStore::ScheduleReconnect() {
  // Jittered so that replicas that lost Redis together do not come back in
  // step; doubled up to max_backoff, reset once connected.
  absl::BitGen gen;
  next_connect_ = absl::Now() + backoff_ * absl::Uniform(gen, 0.5, 1.0);
  backoff_ = std::min(2 * backoff_, options_.max_backoff);
}

void RedisStateStore::MarkReady() {
  {
    // With ready_, so that Health() agrees with WaitForConnection.
    absl::MutexLock lock(&mu_);
    ready_ = true;
    connected_ = true;
  }
  last_reported_ = "connected";
  if (options_.on_connection_change) options_.on_connection_change(true, "connected");
}

void RedisStateStore::MarkDisconnected(const std::string& reason) {
  bool was_ready;
  {
    absl::MutexLock lock(&mu_);
    was_ready = ready_;
    ready_ = false;
    connected_ = false;
  }
  handshake_done_ = false;
  connect_deadline_ = absl::InfiniteFuture();
  FailQueued(absl::StrCat("state store (Redis) connection lost: ", reason));
  // Every lost connection is told; failed attempts only when their reason
  // changes, so that a Redis down for an hour is not a line per backoff.
  if ((was_ready || reason != last_reported_) && options_.on_connection_change) {
    options_.on_connection_change(false, reason);
  }
  last_reported_ = reason;
}

// ---- the socket's interest, kept in epoll ----

void RedisStateStore::UpdateEvents() {
  if (connection_ == nullptr) return;
  const uint32_t wanted = connection_->Interest();
  if (wanted == registered_events_) return;
  epoll_event ev{};
  ev.events = wanted;
  ev.data.fd = connection_->fd();
  if (epoll_ctl(epoll_fd_, registered_events_ == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
                connection_->fd(), &ev) == 0) {
    registered_events_ = wanted;
  }
}

// ---- the loop ----

int RedisStateStore::NextTimeoutMs(absl::Time now) const {
  absl::Time next = absl::InfiniteFuture();
  if (connection_ == nullptr) next = std::min(next, next_connect_);
  next = std::min(next, connect_deadline_);
  if (!outstanding_.empty()) next = std::min(next, outstanding_.front()->deadline);
  if (next == absl::InfiniteFuture()) return 1000;
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(next - now, absl::Milliseconds(1)));
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 1000));
}

void RedisStateStore::CheckDeadlines(absl::Time now) {
  if (connection_ != nullptr && now >= connect_deadline_) {
    DropConnection(absl::StrCat("not connected within ", absl::FormatDuration(options_.connect_timeout)));
  }
  // Answers come in order, so the oldest command is the one that is late.
  if (connection_ != nullptr && !outstanding_.empty() && now >= outstanding_.front()->deadline) {
    DropConnection(absl::StrCat("no answer within ", absl::FormatDuration(options_.command_timeout)));
  }
  if (connection_ == nullptr && now >= next_connect_) {
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      stopping = stopping_;
    }
    if (!stopping) Connect();
  }
}

void RedisStateStore::Run() {
  epoll_event events[8];
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    const int n = epoll_wait(epoll_fd_, events, 8, NextTimeoutMs(absl::Now()));
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == wake_fd_) {
        uint64_t count;
        while (read(wake_fd_, &count, sizeof(count)) > 0) {
        }
        continue;
      }
      if (connection_ == nullptr || events[i].data.fd != connection_->fd()) continue;
      DriveConnection();
    }
    SendQueued();
    UpdateEvents();
    CheckDeadlines(absl::Now());
  }
  // Shutting down: every call still here gets its answer.
  CloseConnection("state store is shutting down");
  FailQueued("state store is shutting down");
}

}  // namespace dcr::state
