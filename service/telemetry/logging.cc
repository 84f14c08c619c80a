#include "service/telemetry/logging.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/civil_time.h"
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
  void operator()(absl::string_view v) const { json::AppendString(v, out); }
  void operator()(const std::string& v) const { json::AppendString(v, out); }
  void operator()(int64_t v) const { json::AppendNumber(v, out); }
  void operator()(double v) const { json::AppendNumber(v, out); }
  void operator()(bool v) const { json::AppendBool(v, out); }
};

// Writes `text` to stdout whole: unbuffered, so that a collector tailing
// stdout sees each line as it happens, and under a lock, so that the lines
// of concurrent calls stay apart.
void WriteOut(absl::string_view text) {
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

// This thread's LogBatch scopes and the lines they hold.
constexpr std::size_t kMaxBatchBytes = 64 * 1024;
thread_local int batch_depth = 0;
thread_local std::string batch_lines;

}  // namespace

LogBatch::LogBatch() { ++batch_depth; }

LogBatch::~LogBatch() {
  if (--batch_depth > 0) return;
  if (!batch_lines.empty()) WriteOut(batch_lines);
  // The buffer is kept for the thread's next batch, unless a flood of lines
  // grew it.
  if (batch_lines.capacity() > kMaxBatchBytes) {
    std::string().swap(batch_lines);
  } else {
    batch_lines.clear();
  }
}

void SetMinLogLevel(LogLevel level) { min_level.store(static_cast<int>(level)); }

// Digits written by hand: absl::FormatTime interprets its format on every
// call, a few thousand instructions of each RPC's log line.
std::string LogTimestamp(absl::Time time) {
  const int64_t micros = absl::ToUnixMicros(time);
  int64_t seconds = micros / 1000000;
  int64_t fraction = micros % 1000000;
  if (fraction < 0) {
    fraction += 1000000;
    --seconds;
  }
  const absl::CivilSecond c = absl::ToCivilSecond(absl::FromUnixSeconds(seconds),
                                                  absl::UTCTimeZone());
  if (c.year() < 0 || c.year() > 9999) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone());
  }
  char text[] = "0000-00-00T00:00:00.000000Z";
  auto put = [&text](int at, int64_t value, int digits) {
    for (int i = digits - 1; i >= 0; --i, value /= 10) text[at + i] = static_cast<char>('0' + value % 10);
  };
  put(0, c.year(), 4);
  put(5, c.month(), 2);
  put(8, c.day(), 2);
  put(11, c.hour(), 2);
  put(14, c.minute(), 2);
  put(17, c.second(), 2);
  put(20, fraction, 6);
  return std::string(text, sizeof(text) - 1);
}

void Log(LogLevel level, absl::string_view message, std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < min_level.load(std::memory_order_relaxed)) return;
  // The names in alphabetical order, a repeated name keeping its last value:
  // the line nlohmann's std::map used to give, now written without one.
  const std::string time = LogTimestamp(absl::Now());
  const LogValue fixed[] = {LogValue(time), LogValue(LevelName(level)), LogValue(message)};
  using Named = std::pair<absl::string_view, const LogValue*>;
  const auto by_name = [](const Named& a, const Named& b) { return a.first < b.first; };
  absl::InlinedVector<Named, 32> named;
  for (const auto& [key, value] : fields) named.emplace_back(key, &value);
  // Callers on the hot path pass their fields in order already; sorting
  // them anyway was a tenth of a log line.
  if (!std::is_sorted(named.begin(), named.end(), by_name)) {
    std::stable_sort(named.begin(), named.end(), by_name);
  }
  // Before a field of the same name, which then wins as the later one.
  const Named fixed_named[] = {{"time", &fixed[0]}, {"level", &fixed[1]}, {"msg", &fixed[2]}};
  for (const Named& f : fixed_named) {
    named.insert(std::lower_bound(named.begin(), named.end(), f, by_name), f);
  }
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
  if (batch_depth > 0) {
    batch_lines.append(text);
    if (batch_lines.size() >= kMaxBatchBytes) {
      WriteOut(batch_lines);
      batch_lines.clear();
    }
    return;
  }
  WriteOut(text);
}

}  // namespace dcr::telemetry
