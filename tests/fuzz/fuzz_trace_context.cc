// traceparent and tracestate request headers (from any caller), split at the
// first newline.
#include <cstddef>
#include <cstdint>

#include "service/telemetry/trace_context.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t newline = text.find('\n');
  const absl::string_view traceparent = text.substr(0, newline);
  const absl::optional<absl::string_view> tracestate =
      newline == absl::string_view::npos ? absl::nullopt
                                         : absl::optional<absl::string_view>(text.substr(newline + 1));
  (void)dcr::telemetry::ParseTraceparent(traceparent);
  const dcr::telemetry::TraceContext trace = dcr::telemetry::StartSpan(traceparent, tracestate);
  (void)trace.TraceparentHeader();
  return 0;
}
