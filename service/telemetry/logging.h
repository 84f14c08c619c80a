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
#include "absl/types/variant.h"

namespace dcr::telemetry {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// A field value. Explicit constructors keep a string literal from becoming a
// bool, which a bare variant would silently do.
class LogValue {
 public:
  using Variant = absl::variant<std::string, int64_t, double, bool>;
  LogValue(const char* text) : value_(std::string(text)) {}
  LogValue(absl::string_view text) : value_(std::string(text)) {}
  LogValue(std::string text) : value_(std::move(text)) {}
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

}  // namespace dcr::telemetry

#endif  // DCR_SERVICE_TELEMETRY_LOGGING_H_
