// Conversion between the typed dcr.v1.ClientMetadata / dcr.v1.ClientInformation
// and their RFC 7591 JSON form.
//
// The typed part is driven by protobuf reflection: a ClientMetadata field's
// name is its JSON name, so a field added to the proto later is converted
// without code changes. Enum fields travel as their wire strings: the value
// name minus the prefix of its *_UNSPECIFIED value, lower-cased
// (APPLICATION_TYPE_NATIVE <-> "native").
//
// No metadata value is validated here: Authlete is the judge. Untrusted input
// never throws or crashes: every failure is an absl::Status.
#ifndef DCR_SERVICE_METADATA_METADATA_JSON_H_
#define DCR_SERVICE_METADATA_METADATA_JSON_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dcr/v1/client_metadata.pb.h"
#include "dcr/v1/client_registration_service.pb.h"

namespace dcr::metadata {

// The deepest nesting of JSON arrays/objects accepted, counting the metadata
// object itself as level 1. Deeper documents fail with INVALID_ARGUMENT.
inline constexpr int kMaxJsonDepth = 64;

// typed -> RFC 7591 JSON object.
//
// Set optional scalars are emitted (including false, 0 and ""), unset ones and
// empty repeated fields are omitted; an enum is emitted when not UNSPECIFIED;
// `jwks` as an object. Every `additional_metadata` entry is emitted under its
// name with its JSON type; a number that is integral and within +-2^53 is
// emitted as a JSON integer (42, not 42.0). If `extra_client_id` is non-empty,
// "client_id" is added (RFC 7592 update requests carry it) unless
// `additional_metadata` already holds "client_id".
//
// INVALID_ARGUMENT (message fit for the caller) when a name is set both as a
// typed field and in `additional_metadata`, an enum holds a number the enum
// does not define, a Value has no kind set or holds NaN/infinity, a value is
// nested deeper than kMaxJsonDepth, or a string is not valid UTF-8 (string
// variant only).
absl::StatusOr<nlohmann::json> MetadataToJson(const v1::ClientMetadata& metadata,
                                              absl::string_view extra_client_id = {});
// As MetadataToJson, serialized compactly.
absl::StatusOr<std::string> MetadataToJsonString(const v1::ClientMetadata& metadata,
                                                 absl::string_view extra_client_id = {});

// RFC 7591 JSON object -> typed.
//
// A known name fills its typed field when its JSON type fits: string,
// boolean, integer within the field's range, non-empty array of strings,
// object (jwks), or an enum wire string the enum defines. Anything else
// (unknown and language-tagged names such as "client_name#ja", a known name
// with another JSON type, an enum string outside the enum, null, an empty
// array) goes verbatim into `additional_metadata`, so no name is dropped.
// The response-only names (client_id, client_secret, client_id_issued_at,
// client_secret_expires_at, registration_access_token,
// registration_client_uri) are not metadata and are skipped.
//
// INVALID_ARGUMENT when `object` is not an object or nests deeper than
// kMaxJsonDepth. JSON numbers in `additional_metadata`/`jwks` become doubles
// (integers beyond 2^53 lose precision; see the proto).
absl::StatusOr<v1::ClientMetadata> MetadataFromJson(const nlohmann::json& object);
// As MetadataFromJson, parsing `json` first: INVALID_ARGUMENT when it is not
// JSON (including invalid UTF-8) or not an object.
absl::StatusOr<v1::ClientMetadata> MetadataFromJsonString(absl::string_view json);

// Authlete's responseContent (an RFC 7591 §3.2.1 client information
// response) -> typed. Lenient on the response-only fields: a numeric
// client_id becomes its decimal string; a field of an unusable type is left
// unset; client_secret_expires_at 0 (never expires) or absent stays unset.
// `metadata` is MetadataFromJson of the document.
//
// INTERNAL (an unusable upstream answer) when `response_content` is not a
// JSON object or nests too deeply. Messages never quote the content, which
// holds secrets.
absl::StatusOr<v1::ClientInformation> ClientInformationFromJson(absl::string_view response_content);
// As ClientInformationFromJson, into `info` (cleared first, and left empty on
// failure): a reply fills its own message in place, on whatever arena it
// lives.
absl::Status FillClientInformationFromJson(absl::string_view response_content,
                                          v1::ClientInformation& info);

}  // namespace dcr::metadata

#endif  // DCR_SERVICE_METADATA_METADATA_JSON_H_
