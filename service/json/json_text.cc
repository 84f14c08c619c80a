#include "service/json/json_text.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cassert>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "simdjson.h"

namespace dcr::json {
namespace {

// How many bytes nlohmann writes for a byte below 0x20 (its short escapes,
// else \u00xx in lower case).
std::size_t ControlEscapeSize(unsigned char c) {
  switch (c) {
    case '\b': case '\f': case '\n': case '\r': case '\t': return 2;
    default: return 6;
  }
}

// Writes the escape of `c` (a control byte, '"' or '\\') at `d`; returns
// the end.
char* WriteEscape(unsigned char c, char* d) {
  static constexpr char kHex[] = "0123456789abcdef";
  *d++ = '\\';
  switch (c) {
    case '"': *d++ = '"'; return d;
    case '\\': *d++ = '\\'; return d;
    case '\b': *d++ = 'b'; return d;
    case '\f': *d++ = 'f'; return d;
    case '\n': *d++ = 'n'; return d;
    case '\r': *d++ = 'r'; return d;
    case '\t': *d++ = 't'; return d;
    default:
      *d++ = 'u';
      *d++ = '0';
      *d++ = '0';
      *d++ = kHex[c >> 4];
      *d++ = kHex[c & 0xf];
      return d;
  }
}

bool NeedsEscape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

// The bytes the escape of `c` (one that NeedsEscape) adds to the text.
std::size_t EscapeExtra(unsigned char c) { return c < 0x20 ? ControlEscapeSize(c) - 1 : 1; }

#if defined(__SSE2__)
// Bit i set where byte i of the 16 at `p` must be escaped; `high` gets the
// bytes of 0x80 and above.
int EscapeMask(const char* p, int* high) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i control_max = _mm_set1_epi8(0x1f);
  // max(v, 0x1f) == 0x1f: the bytes 0x00-0x1f, unsigned.
  const __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, control_max), control_max);
  const __m128i special =
      _mm_or_si128(control, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                         _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  *high = _mm_movemask_epi8(v);
  return _mm_movemask_epi8(special);
}
#endif

}  // namespace

// Two passes over the text, 16 bytes at a time: the first finds how long the
// escaped text is (and whether it has bytes past ASCII, checked as UTF-8
// once), the second writes it into room made once, copying the runs between
// escapes whole. Byte by byte, and then run by run with an append per
// escape, this was a tenth and then a thirtieth of a call's instructions: a
// Register's document, embedded in Authlete's request, escapes a quote every
// few bytes.
bool AppendStringChecked(absl::string_view text, std::string* out) {
  const char* const p = text.data();
  const std::size_t n = text.size();
#if defined(__SSE2__)
  // Shorter than a block (a log line's names and most of its values): one
  // look at a zero-padded copy instead of the byte loop, and one append. The
  // strings a call escapes took a fifth fewer instructions (19.7k -> 15.7k).
  if (n < 16) {
    char block[18] = {};
    std::memcpy(block + 1, p, n);
    int high_bits;
    const int in_text = (1 << n) - 1;  // the padding is control bytes too
    if ((EscapeMask(block + 1, &high_bits) & in_text) == 0 && high_bits == 0) {
      block[0] = '"';
      block[n + 1] = '"';
      out->append(block, n + 2);
      return true;
    }
  }
#endif
  std::size_t extra = 0;  // bytes the escapes add
  bool high = false;
  std::size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= n; i += 16) {
    int high_bits;
    int mask = EscapeMask(p + i, &high_bits);
    high |= high_bits != 0;
    for (; mask != 0; mask &= mask - 1) {
      extra += EscapeExtra(static_cast<unsigned char>(p[i + __builtin_ctz(mask)]));
    }
  }
#endif
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (NeedsEscape(c)) extra += EscapeExtra(c);
    high |= c >= 0x80;
  }
  // Valid UTF-8 is the rule (proto3 strings are checked by protobuf); for
  // anything else nlohmann's own replacement is the reference.
  if (high && !simdjson::validate_utf8(p, n)) {
    out->append(nlohmann::json(std::string(text))
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return false;
  }
  if (extra == 0) {  // most strings: no room to make first
    out->reserve(out->size() + n + 2);
    out->push_back('"');
    out->append(p, n);
    out->push_back('"');
    return true;
  }
  const std::size_t start = out->size();
  out->resize(start + n + extra + 2);
  char* d = out->data() + start;
  *d++ = '"';
  {
    std::size_t run = 0;  // start of the bytes not yet copied
    auto escape_at = [&](std::size_t at) {
      std::memcpy(d, p + run, at - run);
      d = WriteEscape(static_cast<unsigned char>(p[at]), d + (at - run));
      run = at + 1;
    };
    i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16) {
      int high_bits;
      for (int mask = EscapeMask(p + i, &high_bits); mask != 0; mask &= mask - 1) {
        escape_at(i + __builtin_ctz(mask));
      }
    }
#endif
    for (; i < n; ++i) {
      if (NeedsEscape(static_cast<unsigned char>(p[i]))) escape_at(i);
    }
    std::memcpy(d, p + run, n - run);
    d += n - run;
  }
  *d++ = '"';
  assert(d == out->data() + out->size());  // the first pass measured right
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
