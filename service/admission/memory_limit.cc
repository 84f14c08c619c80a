#include "service/admission/memory_limit.h"

#include <fstream>
#include <sstream>

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
  // cgroup v2: "0::/path" in /proc/self/cgroup; a container with its own
  // cgroup namespace sees "/" and the limit at the root of the mount. The
  // tightest limit on the way up applies.
  absl::optional<int64_t> tightest;
  auto consider = [&tightest](absl::optional<int64_t> limit) {
    if (limit.has_value() && (!tightest.has_value() || *limit < *tightest)) tightest = limit;
  };
  if (absl::optional<std::string> self = ReadFile(self_cgroup_file)) {
    for (absl::string_view line : absl::StrSplit(*self, '\n')) {
      if (!absl::ConsumePrefix(&line, "0::")) continue;
      std::string path(absl::StripSuffix(line, "/"));
      for (;;) {
        if (absl::optional<std::string> max = ReadFile(root + path + "/memory.max")) {
          consider(ParseLimit(*max));
        }
        if (path.empty()) break;
        path = path.substr(0, path.rfind('/'));
      }
    }
  }
  if (!tightest.has_value()) {
    if (absl::optional<std::string> v1 = ReadFile(root + "/memory/memory.limit_in_bytes")) {
      consider(ParseLimit(*v1));
    }
  }
  return tightest;
}

DerivedBudget DeriveBudget(absl::optional<int64_t> memory_limit) {
  DerivedBudget budget;
  budget.from_cgroup = memory_limit.has_value();
  budget.memory_limit = memory_limit.value_or(kAssumedMemoryLimit);
  budget.call_bytes = budget.memory_limit / 100 * 50;
  budget.transport_bytes = budget.memory_limit / 100 * 20;
  // The bytes bound every call; the count only keeps the smallest ones from
  // adding up past what the estimate knows of (sockets, kernel buffers).
  budget.max_calls = std::max<int64_t>(1, budget.call_bytes / kCallBaseBytes);
  return budget;
}

}  // namespace dcr::admission
