#include "service/telemetry/logging.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/container/inlined_vector.h"
#include "service/json/json_text.h"

namespace dcr::telemetry {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

struct ValueWriter {
  std::string* out;
  void operator()(const std::string& v) const { json::AppendString(v, out); }
  void operator()(int64_t v) const { json::AppendNumber(v, out); }
  void operator()(double v) const { json::AppendNumber(v, out); }
  void operator()(bool v) const { json::AppendBool(v, out); }
};

}  // namespace

void SetMinLogLevel(LogLevel level) { min_level.store(static_cast<int>(level)); }

void Log(LogLevel level, absl::string_view message, std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < min_level.load(std::memory_order_relaxed)) return;
  // The names in alphabetical order, a repeated name keeping its last value:
  // the line nlohmann's std::map used to give, now written without one.
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
  const LogValue fixed[] = {LogValue(time), LogValue(LevelName(level)), LogValue(message)};
  absl::InlinedVector<std::pair<absl::string_view, const LogValue*>, 32> named = {
      {"time", &fixed[0]}, {"level", &fixed[1]}, {"msg", &fixed[2]}};
  for (const auto& [key, value] : fields) named.emplace_back(key, &value);
  std::stable_sort(named.begin(), named.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string text;
  text.reserve(512);
  text.push_back('{');
  for (std::size_t i = 0; i < named.size(); ++i) {
    if (i + 1 < named.size() && named[i + 1].first == named[i].first) continue;
    if (text.size() > 1) text.push_back(',');
    json::AppendString(named[i].first, &text);
    text.push_back(':');
    absl::visit(ValueWriter{&text}, named[i].second->value());
  }
  text.push_back('}');
  text.push_back('\n');
  // Unbuffered, whole lines: a collector tailing stdout sees each line as it
  // happens, and the lock keeps lines of concurrent calls apart.
  static absl::Mutex write_mu(absl::kConstInit);
  absl::MutexLock lock(&write_mu);
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(STDOUT_FILENO, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // Nowhere to log to: never fail the call for it.
    written += static_cast<std::size_t>(n);
  }
}

}  // namespace dcr::telemetry
