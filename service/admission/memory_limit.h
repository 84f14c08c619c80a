// Where the admission budget's defaults come from: the memory limit of the
// container (cgroup v2 memory.max, or v1 memory.limit_in_bytes) when one is
// set, else a fixed assumption that fits the base Kubernetes Deployment.
#ifndef DCR_SERVICE_ADMISSION_MEMORY_LIMIT_H_
#define DCR_SERVICE_ADMISSION_MEMORY_LIMIT_H_

#include <cstdint>
#include <string>

#include "absl/types/optional.h"

namespace dcr::admission {

// The memory limit of this process's cgroup, if any. `root` is where the
// cgroup file systems are mounted (tests point it at a fake tree);
// `self_cgroup` is the content of /proc/self/cgroup.
absl::optional<int64_t> CgroupMemoryLimit(const std::string& root = "/sys/fs/cgroup",
                                          const std::string& self_cgroup_file = "/proc/self/cgroup");

// Without a cgroup limit, budgets are sized as if the process had this much
// (the base Deployment's limit, 384 MiB).
inline constexpr int64_t kAssumedMemoryLimit = 384LL * 1024 * 1024;

// How a memory limit is divided: calls in flight may hold 50 % of it, gRPC's
// transport buffers (its ResourceQuota) 20 %; the rest is the process's
// baseline (about 30 MB), allocator slack and headroom below the OOM killer.
struct DerivedBudget {
  int64_t memory_limit = 0;
  bool from_cgroup = false;
  int64_t call_bytes = 0;
  int64_t max_calls = 0;
  int64_t transport_bytes = 0;
};
DerivedBudget DeriveBudget(absl::optional<int64_t> memory_limit);

}  // namespace dcr::admission

#endif  // DCR_SERVICE_ADMISSION_MEMORY_LIMIT_H_
