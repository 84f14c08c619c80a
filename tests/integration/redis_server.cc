#include "tests/integration/redis_server.h"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/testing/free_port.h"

namespace dcr::testing {
namespace {

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Context = std::unique_ptr<redisContext, ContextFree>;
using Reply = std::unique_ptr<redisReply, ReplyFree>;

absl::StatusOr<Context> Connect(int port, const std::string& password) {
  timeval tv{1, 0};
  Context c(redisConnectWithTimeout("127.0.0.1", port, tv));
  if (!c || c->err) return absl::UnavailableError(c ? c->errstr : "no context");
  redisSetTimeout(c.get(), timeval{5, 0});
  Reply auth(static_cast<redisReply*>(redisCommand(c.get(), "AUTH %s", password.c_str())));
  if (!auth || auth->type == REDIS_REPLY_ERROR) return absl::UnavailableError("AUTH failed");
  return c;
}

absl::StatusOr<Reply> Run(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> len;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    len.push_back(a.size());
  }
  Reply r(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), len.data())));
  if (!r) return absl::UnavailableError(c->errstr);
  if (r->type == REDIS_REPLY_ERROR) return absl::InternalError(std::string(r->str, r->len));
  return r;
}

std::string AsText(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_ARRAY: {
      std::vector<std::string> parts;
      for (size_t i = 0; i < r->elements; ++i) parts.push_back(AsText(r->element[i]));
      return absl::StrJoin(parts, "\n");
    }
    default:
      return "";
  }
}

}  // namespace

RedisServer::RedisServer(std::string dir, std::string password,
                         std::optional<RedisTlsFiles> tls)
    : dir_(std::move(dir)), password_(std::move(password)), tls_(std::move(tls)) {
  password_file_ = dir_ + "/redis-password";
  cli_test::WriteFile(password_file_, password_ + "\n");
}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(
    const std::string& dir, std::optional<RedisTlsFiles> tls) {
  std::random_device rd;
  const bool with_tls = tls.has_value();
  std::unique_ptr<RedisServer> server(
      new RedisServer(dir, absl::StrCat("test-pass-", rd(), rd()), std::move(tls)));
  absl::Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    const int port = PickFreeLoopbackPort();
    const int tls_port = with_tls ? PickFreeLoopbackPort() : 0;
    if (port == 0 || (with_tls && (tls_port == 0 || tls_port == port))) continue;
    last = server->Launch(port, tls_port);
    if (last.ok()) return server;
  }
  return last;
}

absl::Status RedisServer::Launch(int port, int tls_port) {
  const std::string conf = dir_ + "/redis.conf";
  // Quoted empty save: no RDB snapshots; no AOF; nothing written but the log.
  std::string text = absl::StrCat("bind 127.0.0.1\nport ", port,
                                  "\nsave \"\"\nappendonly no\ndaemonize no\n"
                                  "protected-mode yes\ndir ", dir_,
                                  "\nrequirepass ", password_, "\n");
  if (tls_) {
    absl::StrAppend(&text, "tls-port ", tls_port, "\ntls-cert-file ", tls_->cert_file,
                    "\ntls-key-file ", tls_->key_file, "\ntls-ca-cert-file ", tls_->ca_file,
                    "\ntls-auth-clients ", tls_->auth_clients ? "yes" : "no", "\n");
  }
  cli_test::WriteFile(conf, text);
  absl::StatusOr<cli_test::Process> process =
      cli_test::Process::Start(DCR_REDIS_SERVER, {conf}, {}, dir_ + "/redis.log");
  if (!process.ok()) return process.status();
  process_.emplace(*std::move(process));
  port_ = port;
  tls_port_ = tls_port;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (!process_->Running()) {
      process_.reset();
      return absl::UnavailableError(absl::StrCat("redis-server exited (port ", port,
                                                 " taken?); see ", dir_, "/redis.log"));
    }
    if (absl::StatusOr<std::string> pong = Command({"PING"}); pong.ok() && *pong == "PONG") {
      return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  process_.reset();
  return absl::DeadlineExceededError("redis-server did not answer within 10 s");
}

RedisServer::~RedisServer() {
  Resume();
  process_.reset();  // SIGTERM, then SIGKILL after 5 s
}

void RedisServer::Kill() {
  Resume();
  if (process_ && process_->pid() > 0) kill(process_->pid(), SIGKILL);
  process_.reset();
}

absl::Status RedisServer::Restart() {
  Kill();
  // The port is ours: redis sets SO_REUSEADDR, so it binds again at once.
  absl::Status s;
  for (int attempt = 0; attempt < 20; ++attempt) {
    s = Launch(port_, tls_port_);
    if (s.ok()) return s;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return s;
}

void RedisServer::Pause() {
  if (process_ && process_->pid() > 0 && !paused_) {
    kill(process_->pid(), SIGSTOP);
    paused_ = true;
  }
}

void RedisServer::Resume() {
  if (process_ && process_->pid() > 0 && paused_) {
    kill(process_->pid(), SIGCONT);
    paused_ = false;
  }
}

absl::StatusOr<std::string> RedisServer::Command(const std::vector<std::string>& args) const {
  absl::StatusOr<Context> c = Connect(port_, password_);
  if (!c.ok()) return c.status();
  absl::StatusOr<Reply> r = Run(c->get(), args);
  if (!r.ok()) return r.status();
  return AsText(r->get());
}

absl::StatusOr<std::vector<RedisServer::KeyDump>> RedisServer::DumpAll() const {
  absl::StatusOr<Context> c = Connect(port_, password_);
  if (!c.ok()) return c.status();
  std::vector<KeyDump> out;
  std::string cursor = "0";
  do {
    absl::StatusOr<Reply> r = Run(c->get(), {"SCAN", cursor, "COUNT", "1000"});
    if (!r.ok()) return r.status();
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
      return absl::InternalError("SCAN: unexpected reply");
    }
    cursor = AsText(reply->element[0]);
    const redisReply* keys = reply->element[1];
    for (size_t i = 0; i < keys->elements; ++i) {
      KeyDump d;
      d.key = AsText(keys->element[i]);
      absl::StatusOr<Reply> dump = Run(c->get(), {"DUMP", d.key});
      if (dump.ok()) d.dump = AsText(dump->get());
      absl::StatusOr<Reply> pttl = Run(c->get(), {"PTTL", d.key});
      if (pttl.ok()) d.pttl_ms = (*pttl)->integer;
      out.push_back(std::move(d));
    }
  } while (cursor != "0");
  return out;
}

absl::StatusOr<std::unique_ptr<RedisMonitor>> RedisMonitor::Start(const RedisServer& server,
                                                                  const std::string& dir) {
  const std::string log = dir + "/monitor.log";
  // REDISCLI_AUTH: the password stays off the command line.
  absl::StatusOr<cli_test::Process> process = cli_test::Process::Start(
      DCR_REDIS_CLI, {"-h", "127.0.0.1", "-p", std::to_string(server.port()), "MONITOR"},
      {{"REDISCLI_AUTH", server.password()}}, log);
  if (!process.ok()) return process.status();
  // MONITOR answers OK once it is listening.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline && cli_test::ReadFile(log).find("OK") == std::string::npos) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  return std::unique_ptr<RedisMonitor>(new RedisMonitor(*std::move(process), log));
}

std::string RedisMonitor::Stop() {
  absl::SleepFor(absl::Milliseconds(200));  // the last lines reach the file
  process_.reset();
  return cli_test::ReadFile(log_);
}

}  // namespace dcr::testing
