// W3C Trace Context (https://www.w3.org/TR/trace-context/) for one call: the
// caller's `traceparent` from the gRPC metadata, continued with a span of the
// gateway's own that is passed on to Authlete; a new trace when the caller
// sent none, or one that does not parse. Header values are untrusted input:
// anything malformed is dropped, never echoed.
#ifndef DCR_SERVICE_TELEMETRY_TRACE_CONTEXT_H_
#define DCR_SERVICE_TELEMETRY_TRACE_CONTEXT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace dcr::telemetry {

struct Traceparent {
  std::string trace_id;   // 32 lowercase hex digits, not all zero
  std::string parent_id;  // 16 lowercase hex digits, not all zero
  std::string flags;      // 2 lowercase hex digits
};

// Version 00 exactly; a later version by its first four fields, as the
// specification asks. nullopt for anything else (including version ff).
absl::optional<Traceparent> ParseTraceparent(absl::string_view value);

struct TraceContext {
  std::string trace_id;
  std::string span_id;     // the gateway's span: the parent of Authlete's
  std::string flags = "00";
  std::string tracestate;  // passed on only alongside a valid traceparent
  bool continued = false;  // whether the caller's trace was taken up

  // "00-<trace_id>-<span_id>-<flags>", for the call to Authlete.
  std::string TraceparentHeader() const;
};

// The context of a call whose metadata held `traceparent` and `tracestate`
// (nullopt when absent).
TraceContext StartSpan(absl::optional<absl::string_view> traceparent,
                       absl::optional<absl::string_view> tracestate);

}  // namespace dcr::telemetry

#endif  // DCR_SERVICE_TELEMETRY_TRACE_CONTEXT_H_
