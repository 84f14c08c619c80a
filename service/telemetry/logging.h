// Structured logs: one JSON object per line on stdout, so log pipelines parse
// them without regular expressions. Callers pass only non-secret fields; the
// type of a field value keeps secrets out by convention: never pass a token,
// a client secret or a credential here.
#ifndef DCR_SERVICE_TELEMETRY_LOGGING_H_
#define DCR_SERVICE_TELEMETRY_LOGGING_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/variant.h"

namespace dcr::telemetry {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// A field value. Explicit constructors keep a string literal from becoming a
// bool, which a bare variant would silently do. Text is only viewed where it
// outlives the Log call it is passed to (a literal, or a string the caller
// holds for the whole call expression); a string moved in is kept.
class LogValue {
 public:
  using Variant = absl::variant<absl::string_view, std::string, int64_t, double, bool>;
  LogValue(const char* text) : value_(absl::string_view(text)) {}
  LogValue(absl::string_view text) : value_(text) {}
  LogValue(const std::string& text) : value_(absl::string_view(text)) {}
  LogValue(std::string&& text) : value_(std::move(text)) {}
  LogValue(int number) : value_(int64_t{number}) {}
  LogValue(int64_t number) : value_(number) {}
  LogValue(double number) : value_(number) {}
  LogValue(bool flag) : value_(flag) {}
  const Variant& value() const { return value_; }

 private:
  Variant value_;
};
using LogField = std::pair<absl::string_view, LogValue>;

// Lines below `level` are dropped. Default: kInfo.
void SetMinLogLevel(LogLevel level);

void Log(LogLevel level, absl::string_view message,
         std::initializer_list<LogField> fields = {});

// Lines logged on this thread while a LogBatch lives are written together
// when the outermost one ends: one write(2) for the answers an event loop
// hands out at once instead of one per line. Lines wait only as long as the
// scope (a crash inside it loses them), and a batch past 64 KiB is written
// at once.
class LogBatch {
 public:
  LogBatch();
  ~LogBatch();
  LogBatch(const LogBatch&) = delete;
  LogBatch& operator=(const LogBatch&) = delete;
};

// A line's "time": RFC 3339 in UTC with microseconds, as
// absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ") writes it.
std::string LogTimestamp(absl::Time time);

}  // namespace dcr::telemetry

#endif  // DCR_SERVICE_TELEMETRY_LOGGING_H_
