// An in-process, scripted dcr.v1.ClientRegistrationService on 127.0.0.1:0,
// for the client's unit tests and the dcrctl CLI tests. Each RPC answers
// from its script queue (status, response, delay), or with a canned success
// when the queue is empty, and records what it received.
#ifndef DCR_CLIENT_TESTING_FAKE_REGISTRATION_SERVICE_H_
#define DCR_CLIENT_TESTING_FAKE_REGISTRATION_SERVICE_H_

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>
#include <grpcpp/support/status.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dcr/v1/client_registration_service.grpc.pb.h"
#include "dcr/v1/registration_error.pb.h"

namespace dcr::client::testing {

enum class Rpc { kRegister, kGet, kUpdate, kDelete, kList, kGetRecord, kRotate, kSetLocked };
inline constexpr int kRpcCount = 8;

// One scripted answer.
struct Outcome {
  grpc::Status status;     // OK: answer `response`
  std::string response;    // serialized response message; empty: canned one
  absl::Duration delay;    // sleep before answering (deadline tests)

  static Outcome Ok(const google::protobuf::Message& response);
  // A status whose google.rpc.Status details hold `detail`.
  static Outcome Error(grpc::StatusCode code, const std::string& message,
                       const v1::RegistrationError& detail);
  // A status with raw grpc-status-details-bin bytes.
  static Outcome RawDetails(grpc::StatusCode code, const std::string& message,
                            const std::string& details);
};

// What one call carried.
struct Received {
  std::string request;               // serialized request
  absl::Duration deadline_remaining; // at arrival; InfiniteDuration if none
  std::string user_agent;
};

// The canned client the successful default answers describe.
inline constexpr char kCannedClientId[] = "26837717140341";
inline constexpr char kCannedSecret[] = "canned-client-secret-DO-NOT-PRINT-ON-STDERR";
inline constexpr char kCannedToken[] = "canned-registration-access-token";

class FakeRegistrationService final : public v1::ClientRegistrationService::Service {
 public:
  void Enqueue(Rpc rpc, Outcome outcome);
  std::vector<Received> Calls(Rpc rpc);
  int CallCount(Rpc rpc);

  grpc::Status RegisterClient(grpc::ServerContext* context,
                              const v1::RegisterClientRequest* request,
                              v1::RegisterClientResponse* response) override;
  grpc::Status GetClient(grpc::ServerContext* context, const v1::GetClientRequest* request,
                         v1::GetClientResponse* response) override;
  grpc::Status UpdateClient(grpc::ServerContext* context, const v1::UpdateClientRequest* request,
                            v1::UpdateClientResponse* response) override;
  grpc::Status DeleteClient(grpc::ServerContext* context, const v1::DeleteClientRequest* request,
                            v1::DeleteClientResponse* response) override;
  // The administrative RPCs; their default answers are empty but for a
  // canned new secret.
  grpc::Status ListClients(grpc::ServerContext* context, const v1::ListClientsRequest* request,
                           v1::ListClientsResponse* response) override;
  grpc::Status GetClientRecord(grpc::ServerContext* context,
                               const v1::GetClientRecordRequest* request,
                               v1::GetClientRecordResponse* response) override;
  grpc::Status RotateClientSecret(grpc::ServerContext* context,
                                  const v1::RotateClientSecretRequest* request,
                                  v1::RotateClientSecretResponse* response) override;
  grpc::Status SetClientLocked(grpc::ServerContext* context,
                               const v1::SetClientLockedRequest* request,
                               v1::SetClientLockedResponse* response) override;

 private:
  // Records the call and pops the next outcome (or a default OK).
  Outcome Next(Rpc rpc, grpc::ServerContext* context, const google::protobuf::Message& request);
  grpc::Status Answer(const Outcome& outcome, google::protobuf::Message* response);

  absl::Mutex mu_;
  std::deque<Outcome> scripts_[kRpcCount] ABSL_GUARDED_BY(mu_);
  std::vector<Received> calls_[kRpcCount] ABSL_GUARDED_BY(mu_);
};

// The service, served on 127.0.0.1 at an ephemeral port.
class FakeGateway {
 public:
  FakeGateway();
  ~FakeGateway();
  FakeGateway(const FakeGateway&) = delete;
  FakeGateway& operator=(const FakeGateway&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  FakeRegistrationService& service() { return service_; }

 private:
  FakeRegistrationService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace dcr::client::testing

#endif  // DCR_CLIENT_TESTING_FAKE_REGISTRATION_SERVICE_H_
