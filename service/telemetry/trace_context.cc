#include "service/telemetry/trace_context.h"

#include <cstdint>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dcr::telemetry {
namespace {

// The specification's limit for tracestate, which gateways may truncate.
constexpr std::size_t kMaxTracestateBytes = 512;

bool IsLowerHex(absl::string_view text, std::size_t length) {
  if (text.size() != length) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(absl::string_view text) { return text.find_first_not_of('0') == absl::string_view::npos; }

std::string RandomHex(int bytes) {
  thread_local absl::BitGen rng;
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  do {
    out.clear();
    for (int i = 0; i < bytes; ++i) {
      const uint8_t b = absl::Uniform<uint8_t>(rng);
      out.push_back(kDigits[b >> 4]);
      out.push_back(kDigits[b & 0xf]);
    }
  } while (AllZero(out));
  return out;
}

bool IsPrintableAscii(absl::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

absl::optional<Traceparent> ParseTraceparent(absl::string_view value) {
  // version "-" trace-id "-" parent-id "-" flags, 55 characters for 00.
  if (value.size() < 55) return absl::nullopt;
  const absl::string_view version = value.substr(0, 2);
  if (!IsLowerHex(version, 2) || version == "ff") return absl::nullopt;
  if (version == "00" && value.size() != 55) return absl::nullopt;
  // A later version may append fields, after a '-'.
  if (value.size() > 55 && value[55] != '-') return absl::nullopt;
  std::vector<absl::string_view> parts = absl::StrSplit(value.substr(0, 55), '-');
  if (parts.size() != 4 || !IsLowerHex(parts[1], 32) || AllZero(parts[1]) ||
      !IsLowerHex(parts[2], 16) || AllZero(parts[2]) || !IsLowerHex(parts[3], 2)) {
    return absl::nullopt;
  }
  return Traceparent{std::string(parts[1]), std::string(parts[2]), std::string(parts[3])};
}

std::string TraceContext::TraceparentHeader() const {
  return absl::StrCat("00-", trace_id, "-", span_id, "-", flags);
}

TraceContext StartSpan(absl::optional<absl::string_view> traceparent,
                       absl::optional<absl::string_view> tracestate) {
  TraceContext context;
  context.span_id = RandomHex(8);
  absl::optional<Traceparent> parsed =
      traceparent.has_value() ? ParseTraceparent(*traceparent) : absl::nullopt;
  if (!parsed.has_value()) {
    context.trace_id = RandomHex(16);
    return context;
  }
  context.continued = true;
  context.trace_id = std::move(parsed->trace_id);
  // Only the sampled bit is defined for version 00; pass on no other.
  const char low = parsed->flags[1];
  const int low_bits = low <= '9' ? low - '0' : low - 'a' + 10;
  context.flags = (low_bits & 1) != 0 ? "01" : "00";
  if (tracestate.has_value() && tracestate->size() <= kMaxTracestateBytes &&
      IsPrintableAscii(*tracestate)) {
    context.tracestate = std::string(*tracestate);
  }
  return context;
}

}  // namespace dcr::telemetry
