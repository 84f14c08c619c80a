#include "tests/emulator/json_util.h"

#include <cstddef>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/strings/str_cat.h"

namespace dcr::emulator {

namespace {

// Counts bracket nesting outside string literals; cheap pre-check before the
// real parser builds anything.
bool DepthWithin(absl::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return false;
        break;
      case ']':
      case '}':
        --depth;
        break;
      default:
        break;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text, int max_depth) {
  if (!DepthWithin(text, max_depth)) {
    return absl::InvalidArgumentError("JSON nesting is too deep");
  }
  nlohmann::json value =
      nlohmann::json::parse(text.begin(), text.end(), /*cb=*/nullptr,
                            /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return absl::InvalidArgumentError("malformed JSON");
  }
  return value;
}

namespace {

std::string NlohmannDump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The first byte at or after `i` that a JSON string cannot carry as it is
// ('"', '\\', a control character) or that is past ASCII; s.size() if none.
std::size_t NextSpecial(const std::string& s, std::size_t i) {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  for (; i + 16 <= s.size(); i += 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    // A signed comparison: bytes past ASCII are negative, so "below 0x20"
    // catches them along with the control characters.
    const __m128i special =
        _mm_or_si128(_mm_cmplt_epi8(block, space),
                     _mm_or_si128(_mm_cmpeq_epi8(block, quote), _mm_cmpeq_epi8(block, backslash)));
    if (const int mask = _mm_movemask_epi8(special); mask != 0) {
      return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    }
  }
#endif
  for (; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return i;
  }
  return s.size();
}

// A JSON string as nlohmann writes it with ensure_ascii off: '"', '\\' and
// the control characters escaped (its short forms, else \u00xx in lower
// case), every other ASCII byte as it is, the runs between escapes copied
// whole. A string with a byte past ASCII goes to nlohmann itself, which
// decides what is valid UTF-8 and replaces what is not.
void AppendString(const std::string& s, std::string& out) {
  const std::size_t start = out.size();
  out += '"';
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = NextSpecial(s, 0); i < s.size(); i = NextSpecial(s, i + 1)) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      out.resize(start);
      out += NlohmannDump(nlohmann::json(s));
      return;
    }
    out.append(s, run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out.append(escaped, sizeof(escaped));
      }
    }
  }
  out.append(s, run, std::string::npos);
  out += '"';
}

void AppendValue(const nlohmann::json& value, std::string& out) {
  switch (value.type()) {
    case nlohmann::json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = value.begin(); it != value.end(); ++it) {  // names in order (std::map)
        if (!first) out += ',';
        first = false;
        AppendString(it.key(), out);
        out += ':';
        AppendValue(it.value(), out);
      }
      out += '}';
      return;
    }
    case nlohmann::json::value_t::array: {
      out += '[';
      bool first = true;
      for (const nlohmann::json& element : value) {
        if (!first) out += ',';
        first = false;
        AppendValue(element, out);
      }
      out += ']';
      return;
    }
    case nlohmann::json::value_t::string:
      AppendString(value.get_ref<const std::string&>(), out);
      return;
    case nlohmann::json::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    case nlohmann::json::value_t::null:
      out += "null";
      return;
    case nlohmann::json::value_t::number_integer:
      absl::StrAppend(&out, value.get<nlohmann::json::number_integer_t>());
      return;
    case nlohmann::json::value_t::number_unsigned:
      absl::StrAppend(&out, value.get<nlohmann::json::number_unsigned_t>());
      return;
    default:  // floating point (nlohmann's own shortest form), binary, discarded
      out += NlohmannDump(value);
      return;
  }
}

}  // namespace

std::string DumpJson(const nlohmann::json& value) {
  std::string out;
  AppendValue(value, out);
  return out;
}

}  // namespace dcr::emulator
