#include "client/testing/fake_registration_service.h"

#include <chrono>
#include <cstdlib>
#include <iostream>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/time/clock.h"
#include "proto/api/status_detail.h"

namespace dcr::client::testing {
namespace {

v1::ClientInformation CannedClient(const std::string& client_id) {
  v1::ClientInformation client;
  client.set_client_id(client_id.empty() ? kCannedClientId : client_id);
  client.set_client_secret(kCannedSecret);
  client.set_registration_access_token(kCannedToken);
  client.set_registration_client_uri("https://as.example.com/dcr/register/" + client.client_id());
  client.mutable_client_id_issued_at()->set_seconds(1641735467);
  client.mutable_metadata()->set_client_name("Canned Client");
  client.mutable_metadata()->add_redirect_uris("https://client.example.com/cb");
  return client;
}

}  // namespace

Outcome Outcome::Ok(const google::protobuf::Message& response) {
  Outcome o;
  o.response = response.SerializeAsString();
  return o;
}

Outcome Outcome::Error(grpc::StatusCode code, const std::string& message,
                       const v1::RegistrationError& detail) {
  // Packed as the gateway packs it.
  Outcome o;
  o.status = api::ToGrpcStatus(api::ToAbslCode(code), message, &detail);
  return o;
}

Outcome Outcome::RawDetails(grpc::StatusCode code, const std::string& message,
                            const std::string& details) {
  Outcome o;
  o.status = grpc::Status(code, message, details);
  return o;
}

void FakeRegistrationService::Enqueue(Rpc rpc, Outcome outcome) {
  absl::MutexLock lock(&mu_);
  scripts_[static_cast<int>(rpc)].push_back(std::move(outcome));
}

std::vector<Received> FakeRegistrationService::Calls(Rpc rpc) {
  absl::MutexLock lock(&mu_);
  return calls_[static_cast<int>(rpc)];
}

int FakeRegistrationService::CallCount(Rpc rpc) {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(calls_[static_cast<int>(rpc)].size());
}

Outcome FakeRegistrationService::Next(Rpc rpc, grpc::ServerContext* context,
                                      const google::protobuf::Message& request) {
  Received received;
  received.request = request.SerializeAsString();
  const absl::Time deadline = absl::FromChrono(context->deadline());
  received.deadline_remaining = deadline == absl::InfiniteFuture()
                                    ? absl::InfiniteDuration()
                                    : deadline - absl::Now();
  auto ua = context->client_metadata().find("user-agent");
  if (ua != context->client_metadata().end()) {
    received.user_agent.assign(ua->second.data(), ua->second.size());
  }
  Outcome outcome;
  {
    absl::MutexLock lock(&mu_);
    const int i = static_cast<int>(rpc);
    calls_[i].push_back(std::move(received));
    if (!scripts_[i].empty()) {
      outcome = std::move(scripts_[i].front());
      scripts_[i].pop_front();
    }
  }
  if (outcome.delay > absl::ZeroDuration()) absl::SleepFor(outcome.delay);
  return outcome;
}

grpc::Status FakeRegistrationService::Answer(const Outcome& outcome,
                                             google::protobuf::Message* response) {
  if (!outcome.status.ok()) return outcome.status;
  if (!outcome.response.empty() && !response->ParseFromString(outcome.response)) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "fake: bad scripted response");
  }
  return grpc::Status::OK;
}

grpc::Status FakeRegistrationService::RegisterClient(grpc::ServerContext* context,
                                                     const v1::RegisterClientRequest* request,
                                                     v1::RegisterClientResponse* response) {
  Outcome outcome = Next(Rpc::kRegister, context, *request);
  if (outcome.status.ok() && outcome.response.empty()) {
    response->set_action(v1::ACTION_CREATED);
    response->set_http_status(201);
    response->set_result_code("A202001");
    response->set_result_message("[A202001] The client was created.");
    *response->mutable_client() = CannedClient("");
    response->set_response_content("{\"client_id\":\"26837717140341\"}");
  }
  return Answer(outcome, response);
}

grpc::Status FakeRegistrationService::GetClient(grpc::ServerContext* context,
                                                const v1::GetClientRequest* request,
                                                v1::GetClientResponse* response) {
  Outcome outcome = Next(Rpc::kGet, context, *request);
  if (outcome.status.ok() && outcome.response.empty()) {
    response->set_action(v1::ACTION_OK);
    response->set_http_status(200);
    response->set_result_code("A217001");
    response->set_result_message("[A217001] OK.");
    *response->mutable_client() = CannedClient(request->client_id());
  }
  return Answer(outcome, response);
}

grpc::Status FakeRegistrationService::UpdateClient(grpc::ServerContext* context,
                                                   const v1::UpdateClientRequest* request,
                                                   v1::UpdateClientResponse* response) {
  Outcome outcome = Next(Rpc::kUpdate, context, *request);
  if (outcome.status.ok() && outcome.response.empty()) {
    response->set_action(v1::ACTION_UPDATED);
    response->set_http_status(200);
    response->set_result_code("A213001");
    response->set_result_message("[A213001] Updated.");
    *response->mutable_client() = CannedClient(request->client_id());
  }
  return Answer(outcome, response);
}

grpc::Status FakeRegistrationService::DeleteClient(grpc::ServerContext* context,
                                                   const v1::DeleteClientRequest* request,
                                                   v1::DeleteClientResponse* response) {
  Outcome outcome = Next(Rpc::kDelete, context, *request);
  if (outcome.status.ok() && outcome.response.empty()) {
    response->set_action(v1::ACTION_DELETED);
    response->set_http_status(204);
    response->set_result_code("A216001");
    response->set_result_message("[A216001] Deleted.");
  }
  return Answer(outcome, response);
}

grpc::Status FakeRegistrationService::ListClients(grpc::ServerContext* context,
                                                  const v1::ListClientsRequest* request,
                                                  v1::ListClientsResponse* response) {
  return Answer(Next(Rpc::kList, context, *request), response);
}

grpc::Status FakeRegistrationService::GetClientRecord(grpc::ServerContext* context,
                                                      const v1::GetClientRecordRequest* request,
                                                      v1::GetClientRecordResponse* response) {
  Outcome outcome = Next(Rpc::kGetRecord, context, *request);
  if (outcome.status.ok() && outcome.response.empty()) {
    response->mutable_client()->set_client_id(request->client_id());
  }
  return Answer(outcome, response);
}

grpc::Status FakeRegistrationService::RotateClientSecret(
    grpc::ServerContext* context, const v1::RotateClientSecretRequest* request,
    v1::RotateClientSecretResponse* response) {
  Outcome outcome = Next(Rpc::kRotate, context, *request);
  if (outcome.status.ok() && outcome.response.empty()) {
    response->set_new_client_secret(kCannedSecret);
  }
  return Answer(outcome, response);
}

grpc::Status FakeRegistrationService::SetClientLocked(grpc::ServerContext* context,
                                                      const v1::SetClientLockedRequest* request,
                                                      v1::SetClientLockedResponse* response) {
  return Answer(Next(Rpc::kSetLocked, context, *request), response);
}

FakeGateway::FakeGateway() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    // Test infrastructure: nothing sensible to do but stop loudly.
    std::cerr << "FakeGateway: could not listen on 127.0.0.1:0\n";
    std::abort();
  }
}

FakeGateway::~FakeGateway() {
  // Cancels calls still sleeping in a scripted delay after a short grace.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
}

}  // namespace dcr::client::testing
