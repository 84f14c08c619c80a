// Runs programs as subprocesses for the CLI tests: to completion with
// captured output, or in the background (a gateway, an emulator).
#ifndef DCR_TESTS_CLI_SUBPROCESS_H_
#define DCR_TESTS_CLI_SUBPROCESS_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace dcr::cli_test {

struct RunResult {
  int exit_code = -1;  // -1: killed (timeout) or did not exit normally
  std::string out;
  std::string err;
};

// Runs `path args...` with exactly `env` as its environment (nothing is
// inherited, so a developer's DCR_* variables cannot leak into a test) and
// `stdin_data` on stdin; kills it after `timeout`.
RunResult Run(const std::string& path, const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env = {},
              const std::string& stdin_data = "", absl::Duration timeout = absl::Seconds(30));

// A background process, killed (SIGTERM, then SIGKILL) on destruction.
class Process {
 public:
  static absl::StatusOr<Process> Start(const std::string& path,
                                       const std::vector<std::string>& args,
                                       const std::map<std::string, std::string>& env,
                                       const std::string& log_path);
  Process(Process&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  Process& operator=(Process&&) = delete;
  Process(const Process&) = delete;
  ~Process();
  bool Running();
  pid_t pid() const { return pid_; }

 private:
  explicit Process(pid_t pid) : pid_(pid) {}
  pid_t pid_;
};

// Waits until `path` holds a port number (a server's --port_file).
absl::StatusOr<int> WaitForPortFile(const std::string& path, Process& process,
                                    absl::Duration timeout = absl::Seconds(20));

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& data);
// A fresh empty directory under $TMPDIR (or /tmp), which the caller must
// remove (dcr-bench, flood_test's Stack). A test's own directory is rather a
// dcr::testing::TempDir (tests/testing/temp_dir.h), removed with the test.
std::string MakeTempDir();

}  // namespace dcr::cli_test

#endif  // DCR_TESTS_CLI_SUBPROCESS_H_
