// JSON text written straight into a std::string, for the two documents the
// gateway writes on every call: Authlete's request envelope and the audit
// log line. nlohmann would build a DOM (a std::map per object) and then
// escape byte by byte through a UTF-8 decoder: a profile put that at about a
// seventh of a call's instructions. The output is byte for byte what
// nlohmann's dump() gives for the same values (compact, ensure_ascii off,
// invalid UTF-8 replaced by U+FFFD), so the wire and the logs do not change;
// unit.JsonTextTest checks that against nlohmann.
#ifndef DCR_SERVICE_JSON_JSON_TEXT_H_
#define DCR_SERVICE_JSON_JSON_TEXT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace dcr::json {

// Appends `text` as a quoted JSON string.
void AppendString(absl::string_view text, std::string* out);
// As AppendString, and returns whether `text` was valid UTF-8 (when not, what
// was appended holds U+FFFD in place of the invalid bytes).
bool AppendStringChecked(absl::string_view text, std::string* out);
// Appends a JSON number: integers exactly, doubles as their shortest
// round-trip form (as nlohmann), NaN and infinities as null.
void AppendNumber(int64_t value, std::string* out);
void AppendNumber(double value, std::string* out);
inline void AppendBool(bool value, std::string* out) { out->append(value ? "true" : "false"); }

}  // namespace dcr::json

#endif  // DCR_SERVICE_JSON_JSON_TEXT_H_
