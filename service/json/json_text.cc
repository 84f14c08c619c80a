#include "service/json/json_text.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "simdjson.h"

namespace dcr::json {
namespace {

// What nlohmann writes for a byte below 0x20 (its short escapes, else
// \u00xx in lower case) and for the two that must be escaped.
bool NeedsEscape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

void AppendEscaped(unsigned char c, std::string* out) {
  switch (c) {
    case '"': out->append("\\\""); return;
    case '\\': out->append("\\\\"); return;
    case '\b': out->append("\\b"); return;
    case '\f': out->append("\\f"); return;
    case '\n': out->append("\\n"); return;
    case '\r': out->append("\\r"); return;
    case '\t': out->append("\\t"); return;
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      const char escape[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
      out->append(escape, sizeof(escape));
    }
  }
}

// The bytes a run of plain text may hold: not escaped, and ASCII when
// `ascii_only` (so that the first non-ASCII byte is seen, and the rest of the
// text checked as UTF-8 once).
bool IsPlain(unsigned char c, bool ascii_only) {
  return !NeedsEscape(c) && (!ascii_only || c < 0x80);
}

// How many bytes from `p` on are plain. Strings are scanned 16 bytes at a
// time: a byte-by-byte loop over the metadata embedded in Authlete's request
// was about a tenth of a call's instructions.
std::size_t PlainRun(const char* p, std::size_t n, bool ascii_only) {
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i control_max = _mm_set1_epi8(0x1f);
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    // A signed compare with 0x20 also catches 0x80-0xff (negative); the
    // unsigned form (max(v, 0x1f) == 0x1f) only the control bytes.
    const __m128i low = ascii_only ? _mm_cmplt_epi8(v, space)
                                   : _mm_cmpeq_epi8(_mm_max_epu8(v, control_max), control_max);
    const __m128i special = _mm_or_si128(
        low, _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    const int mask = _mm_movemask_epi8(special);
    if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(mask));
  }
#endif
  while (i < n && IsPlain(static_cast<unsigned char>(p[i]), ascii_only)) ++i;
  return i;
}

}  // namespace

bool AppendStringChecked(absl::string_view text, std::string* out) {
  // Valid UTF-8 is the rule (proto3 strings are checked by protobuf); for
  // anything else nlohmann's own replacement is the reference. Most strings
  // are ASCII, which is valid without simdjson's check (its fixed cost is
  // most of a short string's), so the check runs from the first non-ASCII
  // byte on, once.
  const std::size_t start = out->size();
  out->reserve(start + text.size() + 2);
  out->push_back('"');
  bool ascii_only = true;
  std::size_t i = 0;
  for (;;) {
    const std::size_t run = PlainRun(text.data() + i, text.size() - i, ascii_only);
    out->append(text.data() + i, run);
    i += run;
    if (i == text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (NeedsEscape(c)) {
      AppendEscaped(c, out);
      ++i;
      continue;
    }
    // The first non-ASCII byte: the ASCII before it is valid, so the whole
    // text is valid if what is left is.
    if (!simdjson::validate_utf8(text.data() + i, text.size() - i)) {
      out->resize(start);
      out->append(nlohmann::json(std::string(text))
                      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return false;
    }
    ascii_only = false;
  }
  out->push_back('"');
  return true;
}

void AppendString(absl::string_view text, std::string* out) {
  (void)AppendStringChecked(text, out);
}

void AppendNumber(int64_t value, std::string* out) { absl::StrAppend(out, value); }

void AppendNumber(double value, std::string* out) {
  // Shortest round-trip formatting is nlohmann's grisu2; not worth copying.
  out->append(nlohmann::json(value).dump());
}

}  // namespace dcr::json
