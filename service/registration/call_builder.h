// Stage 3: the DcrCall for a request, checked: the service id resolved
// against the gateway's allow-list, the client's id and token present and
// bounded, the metadata document present, serialized and within its limit.
// Runs after admission, so that a refused caller costs no serialization.
#ifndef DCR_SERVICE_REGISTRATION_CALL_BUILDER_H_
#define DCR_SERVICE_REGISTRATION_CALL_BUILDER_H_

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "dcr/v1/client_registration_service.pb.h"
#include "service/core/call.h"
#include "service/registration/page_token.h"

namespace dcr::registration {

// RegisterClientRequest.request_id in its canonical form (lowercase), or
// nullopt when it is not a UUID.
absl::optional<std::string> NormalizedRequestId(absl::string_view id);

class CallBuilder {
 public:
  struct Options {
    std::string default_service_id;
    absl::flat_hash_set<std::string> allowed_service_ids;
    std::size_t max_metadata_bytes = 64 * 1024;
    // Signs ListClients page tokens (see PageTokens); empty: a random key.
    std::string page_token_key;
  };

  // ListClients pages: the default and the largest.
  static constexpr int kDefaultPageSize = 100;
  static constexpr int kMaxPageSize = 100;

  explicit CallBuilder(Options options)
      : options_(std::move(options)), page_tokens_(options_.page_token_key) {}

  core::ErrorOr<core::DcrCall> Build(const v1::RegisterClientRequest& request) const;
  core::ErrorOr<core::DcrCall> Build(const v1::GetClientRequest& request) const;
  core::ErrorOr<core::DcrCall> Build(const v1::UpdateClientRequest& request) const;
  core::ErrorOr<core::DcrCall> Build(const v1::DeleteClientRequest& request) const;
  core::ErrorOr<core::DcrCall> Build(const v1::ListClientsRequest& request) const;
  core::ErrorOr<core::DcrCall> Build(const v1::GetClientRecordRequest& request) const;
  core::ErrorOr<core::DcrCall> Build(const v1::RotateClientSecretRequest& request) const;
  core::ErrorOr<core::DcrCall> Build(const v1::SetClientLockedRequest& request) const;

  // The next_page_token after the page `call` asked for, given how many
  // clients there are in all; empty when that page was the last.
  std::string NextPageToken(const core::DcrCall& call, int64_t total_count) const;

 private:
  core::ErrorOr<core::DcrCall> NewCall(api::Operation operation,
                                       const std::string& service_id) const;
  // An administrative call naming a client by id (no token).
  core::ErrorOr<core::DcrCall> NewAdminCall(api::Operation operation,
                                            const std::string& service_id,
                                            const std::string& client_id) const;
  core::ErrorOr<core::DcrCall> NewClientCall(api::Operation operation,
                                             const std::string& service_id,
                                             const std::string& client_id,
                                             const std::string& token) const;
  template <typename Request>
  core::ErrorOr<core::DcrCall> WithMetadata(core::ErrorOr<core::DcrCall> call,
                                            const Request& request) const;

  const Options options_;
  const PageTokens page_tokens_;
};

}  // namespace dcr::registration

#endif  // DCR_SERVICE_REGISTRATION_CALL_BUILDER_H_
