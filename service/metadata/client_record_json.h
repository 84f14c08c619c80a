// Authlete's stored client record (its camelCase `Client`, contract §9) →
// dcr.v1.ClientRecord. The client secret is never copied: not to a typed
// field, not to record_json.
#ifndef DCR_SERVICE_METADATA_CLIENT_RECORD_JSON_H_
#define DCR_SERVICE_METADATA_CLIENT_RECORD_JSON_H_

#include "dcr/v1/client_registration_service.pb.h"
#include "nlohmann/json.hpp"

namespace dcr::metadata {

// Lenient: Authlete's schema makes every member optional, so a member that
// is absent or of another type leaves its field unset. `record` need not be
// an object (then the result is empty but for record_json).
v1::ClientRecord ClientRecordFromJson(const nlohmann::json& record);

}  // namespace dcr::metadata

#endif  // DCR_SERVICE_METADATA_CLIENT_RECORD_JSON_H_
