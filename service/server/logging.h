// Structured logs: one JSON object per line on stderr, so log pipelines parse
// them without regular expressions. Callers pass only non-secret fields; the
// type of a field value keeps secrets out by convention: never pass a token,
// a client secret or a credential here.
#ifndef DCR_SERVICE_SERVER_LOGGING_H_
#define DCR_SERVICE_SERVER_LOGGING_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/types/variant.h"

namespace dcr::server {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

using LogValue = absl::variant<std::string, int64_t, double, bool>;
using LogField = std::pair<absl::string_view, LogValue>;

// Lines below `level` are dropped. Default: kInfo.
void SetMinLogLevel(LogLevel level);

void Log(LogLevel level, absl::string_view message,
         std::initializer_list<LogField> fields = {});

}  // namespace dcr::server

#endif  // DCR_SERVICE_SERVER_LOGGING_H_
