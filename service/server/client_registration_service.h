// The gRPC face of the gateway: one callback service whose four methods check
// their input, turn it into a DcrCall, hand it to the AuthleteClient and
// finish the RPC from the HTTP completion. No thread waits for Authlete.
#ifndef DCR_SERVICE_SERVER_CLIENT_REGISTRATION_SERVICE_H_
#define DCR_SERVICE_SERVER_CLIENT_REGISTRATION_SERVICE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dcr/v1/client_registration_service.grpc.pb.h"
#include "service/authlete/authlete_connection.h"
#include "service/callers/caller_guard.h"
#include "service/server/gateway_metrics.h"

namespace dcr::server {

class ClientRegistrationService final
    : public v1::ClientRegistrationService::CallbackService {
 public:
  struct Options {
    std::string default_service_id;
    absl::flat_hash_set<std::string> allowed_service_ids;
    absl::Duration max_upstream_timeout = absl::Seconds(10);
    std::size_t max_metadata_bytes = 64 * 1024;
    bool log_requests = true;
    // One "audit" log line per GetClient too (always for the other three).
    bool audit_reads = false;
    // Authenticates callers and applies their policy; null lets every
    // caller do everything (no callers file).
    std::shared_ptr<callers::CallerGuard> guard;
    // Updated on every call when set (GatewayServer sets it).
    std::shared_ptr<GatewayMetrics> metrics;
  };

  ClientRegistrationService(Options options,
                            std::shared_ptr<authlete::AuthleteConnection> authlete);

  grpc::ServerUnaryReactor* RegisterClient(grpc::CallbackServerContext* context,
                                           const v1::RegisterClientRequest* request,
                                           v1::RegisterClientResponse* response) override;
  grpc::ServerUnaryReactor* GetClient(grpc::CallbackServerContext* context,
                                      const v1::GetClientRequest* request,
                                      v1::GetClientResponse* response) override;
  grpc::ServerUnaryReactor* UpdateClient(grpc::CallbackServerContext* context,
                                         const v1::UpdateClientRequest* request,
                                         v1::UpdateClientResponse* response) override;
  grpc::ServerUnaryReactor* DeleteClient(grpc::CallbackServerContext* context,
                                         const v1::DeleteClientRequest* request,
                                         v1::DeleteClientResponse* response) override;

 private:
  // Runs `call` against Authlete and finishes the RPC with `fill` applied to
  // the successful answer, or with the mapped error.
  template <typename Response, typename Fill>
  grpc::ServerUnaryReactor* Dispatch(grpc::CallbackServerContext* context,
                                     authlete::Operation operation,
                                     absl::StatusOr<authlete::DcrCall> call,
                                     Response* response, Fill fill);

  // A call to `service_id` (or the default service), checked.
  absl::StatusOr<authlete::DcrCall> NewCall(authlete::Operation operation,
                                            const std::string& service_id) const;
  // The same for an RFC 7592 call, with the client's id and token, checked.
  absl::StatusOr<authlete::DcrCall> NewClientCall(authlete::Operation operation,
                                                  const std::string& service_id,
                                                  const std::string& client_id,
                                                  const std::string& token) const;
  // `call` with the request's metadata document attached.
  template <typename Request>
  absl::StatusOr<authlete::DcrCall> WithMetadata(absl::StatusOr<authlete::DcrCall> call,
                                                 const Request& request) const;
  absl::StatusOr<std::string> ResolveServiceId(const std::string& requested) const;
  absl::Status CheckClientCredentials(const std::string& client_id,
                                      const std::string& token) const;
  template <typename Request>
  absl::StatusOr<std::string> MetadataDocument(const Request& request,
                                               absl::string_view client_id) const;

  const Options options_;
  const std::shared_ptr<authlete::AuthleteConnection> authlete_;
};

// The grpc::Status for an absl::Status, with its dcr.v1.RegistrationError
// payload (if any) as a google.rpc.Status detail.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace dcr::server

#endif  // DCR_SERVICE_SERVER_CLIENT_REGISTRATION_SERVICE_H_
