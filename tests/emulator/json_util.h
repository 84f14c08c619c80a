// Defensive JSON parsing for untrusted input.
#ifndef DCR_TESTS_EMULATOR_JSON_UTIL_H_
#define DCR_TESTS_EMULATOR_JSON_UTIL_H_

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dcr::emulator {

// Deepest nesting accepted. Serializing and destroying nlohmann values is
// recursive, so a hostile "[[[[..." would otherwise overflow the stack.
inline constexpr int kMaxJsonDepth = 64;

// Parses `text` without throwing. Fails (InvalidArgument) on malformed JSON or
// nesting deeper than `max_depth`.
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text,
                                         int max_depth = kMaxJsonDepth);

// Serializes without throwing: invalid UTF-8 in strings is replaced, not fatal.
// The text is nlohmann's dump() byte for byte (names in order, no spaces), but
// ASCII strings are escaped here, a run at a time: nlohmann decodes every byte
// as UTF-8 first, and that was a third of the emulator's instructions, on the
// same cores as the gateway in the benchmarks (README "Performance").
std::string DumpJson(const nlohmann::json& value);

}  // namespace dcr::emulator

#endif  // DCR_TESTS_EMULATOR_JSON_UTIL_H_
