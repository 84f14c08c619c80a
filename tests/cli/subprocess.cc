#include "tests/cli/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace dcr::cli_test {
namespace {

// argv/envp arrays that outlive posix_spawn.
struct CArgs {
  std::vector<std::string> storage;
  std::vector<char*> pointers;
  char** get() {
    pointers.clear();
    for (std::string& s : storage) pointers.push_back(s.data());
    pointers.push_back(nullptr);
    return pointers.data();
  }
};

absl::StatusOr<pid_t> Spawn(const std::string& path, const std::vector<std::string>& args,
                            const std::map<std::string, std::string>& env,
                            const std::string& stdin_path, const std::string& out_path,
                            const std::string& err_path) {
  CArgs argv;
  argv.storage.push_back(path);
  argv.storage.insert(argv.storage.end(), args.begin(), args.end());
  CArgs envp;
  for (const auto& [k, v] : env) envp.storage.push_back(k + "=" + v);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.get(), envp.get());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return absl::InternalError(absl::StrCat("posix_spawn ", path, ": ", rc));
  return pid;
}

// Waits for `pid` until `deadline`; returns the exit code, or -1.
int WaitUntil(pid_t pid, absl::Time deadline, bool* exited) {
  *exited = false;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      *exited = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (r < 0) {
      *exited = true;
      return -1;
    }
    if (absl::Now() >= deadline) return -1;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::string MakeTempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(tmp && *tmp ? tmp : "/tmp", "/dcrctl_test.XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  return pattern;
}

RunResult Run(const std::string& path, const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env, const std::string& stdin_data,
              absl::Duration timeout) {
  const std::string dir = MakeTempDir();
  const std::string in = dir + "/stdin", out = dir + "/stdout", err = dir + "/stderr";
  WriteFile(in, stdin_data);
  RunResult result;
  absl::StatusOr<pid_t> pid = Spawn(path, args, env, in, out, err);
  if (!pid.ok()) {
    result.err = std::string(pid.status().message());
    return result;
  }
  bool exited = false;
  result.exit_code = WaitUntil(*pid, absl::Now() + timeout, &exited);
  if (!exited) {
    kill(*pid, SIGKILL);
    waitpid(*pid, nullptr, 0);
  }
  result.out = ReadFile(out);
  result.err = ReadFile(err);
  for (const std::string& f : {in, out, err}) unlink(f.c_str());
  rmdir(dir.c_str());
  return result;
}

absl::StatusOr<Process> Process::Start(const std::string& path,
                                       const std::vector<std::string>& args,
                                       const std::map<std::string, std::string>& env,
                                       const std::string& log_path) {
  absl::StatusOr<pid_t> pid = Spawn(path, args, env, "/dev/null", log_path, log_path + ".err");
  if (!pid.ok()) return pid.status();
  return Process(*pid);
}

bool Process::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

Process::~Process() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  bool exited = false;
  WaitUntil(pid_, absl::Now() + absl::Seconds(5), &exited);
  if (!exited) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

absl::StatusOr<int> WaitForPortFile(const std::string& path, Process& process,
                                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int port = 0, again = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(path)), &port) && port > 0) {
      // The writer may not write atomically: trust a value seen twice.
      absl::SleepFor(absl::Milliseconds(20));
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(path)), &again) && again == port) {
        return port;
      }
    }
    if (!process.Running()) return absl::InternalError("process exited before writing " + path);
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError("no port in " + path);
}

}  // namespace dcr::cli_test
