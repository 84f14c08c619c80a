#include "tests/bench/process_stats.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dcr::bench {
namespace {

absl::StatusOr<std::string> Slurp(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "VmRSS:	  123 kB" -> bytes.
int64_t StatusKilobytes(absl::string_view line) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  int64_t kb = 0;
  if (parts.size() >= 2) (void)absl::SimpleAtoi(parts[1], &kb);
  return kb * 1024;
}

}  // namespace

absl::StatusOr<ProcessStats> ReadProcessStats(pid_t pid) {
  ProcessStats stats;
  absl::StatusOr<std::string> stat = Slurp(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return stat.status();
  // The command name (field 2) may hold spaces: fields count from after ')'.
  const std::size_t close = stat->rfind(')');
  if (close == std::string::npos) return absl::InternalError("unexpected /proc/PID/stat");
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(*stat).substr(close + 2), ' ');
  // Fields 14 and 15 (utime, stime) are at 11 and 12 after the state (field 3).
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::InternalError("unexpected /proc/PID/stat");
  }
  const long ticks = sysconf(_SC_CLK_TCK);
  stats.cpu = absl::Seconds(utime + stime) / ticks;

  absl::StatusOr<std::string> status = Slurp(absl::StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return status.status();
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (absl::StartsWith(line, "VmRSS:")) {
      stats.rss_bytes = StatusKilobytes(line);
    } else if (absl::StartsWith(line, "VmHWM:")) {
      stats.peak_rss_bytes = StatusKilobytes(line);
    } else if (absl::ConsumePrefix(&line, "Threads:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &stats.threads);
    }
  }
  return stats;
}

}  // namespace dcr::bench
