// Stage 5: the reply of each RPC from Authlete's successful answer.
#ifndef DCR_SERVICE_REGISTRATION_REPLY_H_
#define DCR_SERVICE_REGISTRATION_REPLY_H_

#include <string>

#include "dcr/v1/client_registration_service.pb.h"
#include "service/core/call.h"

namespace dcr::registration {

// Each returns the error the call ends with instead, if the answer cannot
// make its reply.
//
// Action, end-client HTTP status, result, responseContent verbatim and the
// parsed ClientInformation (what of it parses: Authlete did act, so an
// unparsable document still succeeds, with a warning logged).
core::Refusal FillReply(const core::DcrResponse& result, v1::RegisterClientResponse& response);
core::Refusal FillReply(const core::DcrResponse& result, v1::GetClientResponse& response);
core::Refusal FillReply(const core::DcrResponse& result, v1::UpdateClientResponse& response);
// No client document: DELETED has no body.
core::Refusal FillReply(const core::DcrResponse& result, v1::DeleteClientResponse& response);
// The administrative answers (contract §9), whose response_content is
// Authlete's whole body. Client records lose their secret. The page's
// next_page_token is the handler's (it knows the call).
core::Refusal FillReply(const core::DcrResponse& result, v1::ListClientsResponse& response);
core::Refusal FillReply(const core::DcrResponse& result, v1::GetClientRecordResponse& response);
// The new secret only; an answer without one fails (UPSTREAM_BAD_RESPONSE,
// may have been processed): the caller must learn the rotation may have
// happened. The old secret is never read.
core::Refusal FillReply(const core::DcrResponse& result,
                        v1::RotateClientSecretResponse& response);
core::Refusal FillReply(const core::DcrResponse& result, v1::SetClientLockedResponse& response);

// The client id a reply names, for the log of a call that named none.
std::string ClientIdOf(const v1::RegisterClientResponse& response);
std::string ClientIdOf(const v1::GetClientResponse& response);
std::string ClientIdOf(const v1::UpdateClientResponse& response);
std::string ClientIdOf(const v1::DeleteClientResponse& response);
std::string ClientIdOf(const v1::ListClientsResponse& response);
std::string ClientIdOf(const v1::GetClientRecordResponse& response);
std::string ClientIdOf(const v1::RotateClientSecretResponse& response);
std::string ClientIdOf(const v1::SetClientLockedResponse& response);

}  // namespace dcr::registration

#endif  // DCR_SERVICE_REGISTRATION_REPLY_H_
