#include "service/admission/memory_limit.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "service/admission/in_flight_budget.h"

namespace dcr::admission {
namespace {

absl::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A limit file's value: "max" (v2) or a huge number (v1's "no limit") is none.
absl::optional<int64_t> ParseLimit(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  int64_t value = 0;
  if (text == "max" || !absl::SimpleAtoi(text, &value) || value <= 0) return absl::nullopt;
  // cgroup v1 reports "unlimited" as the largest page-aligned int64.
  if (value >= (int64_t{1} << 60)) return absl::nullopt;
  return value;
}

}  // namespace

absl::optional<int64_t> CgroupMemoryLimit(const std::string& root,
                                          const std::string& self_cgroup_file) {
  // /proc/self/cgroup names the process's cgroup per hierarchy:
  // "0::/path" for cgroup v2, "4:memory:/path" for v1's memory controller.
  // A container with its own cgroup namespace sees "/". The tightest limit
  // on the way up to the root applies.
  absl::optional<int64_t> tightest;
  auto consider = [&tightest](absl::optional<int64_t> limit) {
    if (limit.has_value() && (!tightest.has_value() || *limit < *tightest)) tightest = limit;
  };
  auto walk_up = [&consider](const std::string& mount, std::string path, const char* file) {
    path = std::string(absl::StripSuffix(path, "/"));
    for (;;) {
      if (absl::optional<std::string> text = ReadFile(mount + path + "/" + file)) {
        consider(ParseLimit(*text));
      }
      if (path.empty()) break;
      path = path.substr(0, path.rfind('/'));
    }
  };
  const absl::optional<std::string> self = ReadFile(self_cgroup_file);
  if (!self.has_value()) return absl::nullopt;
  for (absl::string_view line : absl::StrSplit(*self, '\n')) {
    const std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (fields.size() != 3 || fields[2].empty() || fields[2][0] != '/') continue;
    const std::string path(fields[2]);
    if (fields[0] == "0" && fields[1].empty()) {
      walk_up(root, path, "memory.max");  // v2 (pure, or the hybrid's unified part)
    } else {
      for (absl::string_view controller : absl::StrSplit(fields[1], ',')) {
        if (controller == "memory") walk_up(root + "/memory", path, "memory.limit_in_bytes");
      }
    }
  }
  return tightest;
}

DerivedBudget DeriveBudget(absl::optional<int64_t> memory_limit) {
  DerivedBudget budget;
  budget.from_cgroup = memory_limit.has_value();
  budget.memory_limit = memory_limit.value_or(kAssumedMemoryLimit);
  budget.call_bytes = budget.memory_limit / 2;
  budget.transport_bytes = budget.memory_limit / 5;
  // The bytes bound every call; the count only keeps the smallest ones from
  // adding up past what the estimate knows of (sockets, kernel buffers).
  budget.max_calls = DefaultMaxCalls(budget.call_bytes);
  return budget;
}

}  // namespace dcr::admission
