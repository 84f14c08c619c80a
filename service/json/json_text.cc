#include "service/json/json_text.h"

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

bool IsAscii(absl::string_view text) {
  unsigned char any = 0;
  for (char c : text) any |= static_cast<unsigned char>(c);
  return any < 0x80;
}

}  // namespace

bool AppendStringChecked(absl::string_view text, std::string* out) {
  // Valid UTF-8 is the rule (proto3 strings are checked by protobuf); for
  // anything else nlohmann's own replacement is the reference. Most strings
  // are ASCII, which is valid without simdjson's check (its fixed cost is
  // most of a short string's).
  if (!IsAscii(text) && !simdjson::validate_utf8(text.data(), text.size())) {
    out->append(nlohmann::json(std::string(text))
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return false;
  }
  out->reserve(out->size() + text.size() + 2);
  out->push_back('"');
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (!NeedsEscape(c)) continue;
    out->append(text.data() + run, i - run);
    AppendEscaped(c, out);
    run = i + 1;
  }
  out->append(text.data() + run, text.size() - run);
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
