#include "tests/emulator/json_util.h"

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

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace dcr::emulator
