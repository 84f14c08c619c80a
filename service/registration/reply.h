// Stage 5: the reply of each RPC from Authlete's successful answer.
#ifndef DCR_SERVICE_REGISTRATION_REPLY_H_
#define DCR_SERVICE_REGISTRATION_REPLY_H_

#include <string>

#include "dcr/v1/client_registration_service.pb.h"
#include "service/core/call.h"

namespace dcr::registration {

// Action, end-client HTTP status, result, responseContent verbatim and the
// parsed ClientInformation (what of it parses: Authlete did act, so an
// unparsable document still succeeds, with a warning logged).
void FillReply(const core::DcrResponse& result, v1::RegisterClientResponse& response);
void FillReply(const core::DcrResponse& result, v1::GetClientResponse& response);
void FillReply(const core::DcrResponse& result, v1::UpdateClientResponse& response);
// No client document: DELETED has no body.
void FillReply(const core::DcrResponse& result, v1::DeleteClientResponse& response);

// The client id a reply names, for the log of a call that named none.
std::string ClientIdOf(const v1::RegisterClientResponse& response);
std::string ClientIdOf(const v1::GetClientResponse& response);
std::string ClientIdOf(const v1::UpdateClientResponse& response);
std::string ClientIdOf(const v1::DeleteClientResponse& response);

}  // namespace dcr::registration

#endif  // DCR_SERVICE_REGISTRATION_REPLY_H_
