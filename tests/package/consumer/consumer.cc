// A minimal user of the installed client library and stubs: registers a
// client through the gateway at argv[1], reads it back, deletes it.
#include <cstdio>
#include <string>

#include "client/channel.h"
#include "client/grpc_registration_connection.h"
#include "client/registration_client.h"
#include "dcr/v1/client_registration_service.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer HOST:PORT\n");
    return 64;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = dcr::client::MakeChannel(argv[1]);
  if (!channel.ok()) return 1;
  dcr::client::RegistrationClient client(
      dcr::client::MakeGrpcRegistrationConnection(*channel));
  dcr::v1::ClientMetadata metadata;
  metadata.set_client_name("consumer project");
  metadata.add_redirect_uris("https://consumer.example.com/cb");
  absl::StatusOr<dcr::v1::RegisterClientResponse> registered = client.RegisterClient(metadata);
  if (!registered.ok()) {
    std::fprintf(stderr, "register: %s\n", registered.status().ToString().c_str());
    return 1;
  }
  const dcr::v1::ClientInformation& info = registered->client();
  absl::StatusOr<dcr::v1::GetClientResponse> read =
      client.GetClient(info.client_id(), info.registration_access_token());
  if (!read.ok() || read->client().metadata().client_name() != "consumer project") {
    std::fprintf(stderr, "get: %s\n", read.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<dcr::v1::DeleteClientResponse> deleted =
      client.DeleteClient(info.client_id(), info.registration_access_token());
  if (!deleted.ok() || deleted->action() != dcr::v1::ACTION_DELETED) {
    std::fprintf(stderr, "delete: %s\n", deleted.status().ToString().c_str());
    return 1;
  }
  std::printf("registered, read and deleted client %s\n", info.client_id().c_str());
  return 0;
}
