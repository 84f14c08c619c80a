#include "client/channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>

namespace dcr::client {

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address,
                                                           const ChannelOptions& options) {
  if (address.empty()) return absl::InvalidArgumentError("empty gateway address");
  grpc::ChannelArguments args;
  if (!options.user_agent_prefix.empty()) args.SetUserAgentPrefix(options.user_agent_prefix);
  if (options.max_receive_message_size != -1) {
    args.SetMaxReceiveMessageSize(options.max_receive_message_size);
  }
  if (!options.load_balancing_policy.empty()) {
    args.SetLoadBalancingPolicyName(options.load_balancing_policy);
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      options.credentials ? options.credentials : grpc::InsecureChannelCredentials();
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(address, credentials, args);
  if (!channel) return absl::InternalError("gRPC could not create a channel to " + address);
  return channel;
}

}  // namespace dcr::client
