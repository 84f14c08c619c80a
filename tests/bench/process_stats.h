// What a process costs, read from /proc: CPU time, memory and threads.
#ifndef DCR_TESTS_BENCH_PROCESS_STATS_H_
#define DCR_TESTS_BENCH_PROCESS_STATS_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace dcr::bench {

struct ProcessStats {
  absl::Duration cpu;        // user + system, all threads (clock-tick resolution)
  int64_t rss_bytes = 0;     // VmRSS
  int64_t peak_rss_bytes = 0;  // VmHWM: the highest RSS since the process started
  int64_t threads = 0;
};

absl::StatusOr<ProcessStats> ReadProcessStats(pid_t pid);

}  // namespace dcr::bench

#endif  // DCR_TESTS_BENCH_PROCESS_STATS_H_
