// RegistrationClient over a StrictMock connection: requests built by the
// convenience overloads, options forwarded, statuses passed through.
#include "client/registration_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/mocks/mock_registration_connection.h"

namespace dcr::client {
namespace {

using ::testing::_;
using ::testing::Field;
using ::testing::Return;
using ::testing::StrictMock;
using ::testing::Truly;

std::shared_ptr<StrictMock<MockRegistrationConnection>> MakeMock() {
  return std::make_shared<StrictMock<MockRegistrationConnection>>();
}

TEST(ClientRegistrationClient, GetConvenienceBuildsRequest) {
  auto mock = MakeMock();
  CallOptions options;
  options.timeout = absl::Seconds(3);
  EXPECT_CALL(*mock, GetClient(_, _))
      .WillOnce([](const v1::GetClientRequest& request, const CallOptions& o) {
        EXPECT_EQ(request.client_id(), "123");
        EXPECT_EQ(request.registration_access_token(), "tok");
        EXPECT_TRUE(request.service_id().empty());
        EXPECT_EQ(o.timeout, absl::Seconds(3));
        v1::GetClientResponse response;
        response.mutable_client()->set_client_id("123");
        return response;
      });
  RegistrationClient client(mock);
  auto response = client.GetClient("123", "tok", options);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->client().client_id(), "123");
}

TEST(ClientRegistrationClient, RegisterMetadataConvenience) {
  auto mock = MakeMock();
  EXPECT_CALL(*mock, RegisterClient(Truly([](const v1::RegisterClientRequest& r) {
                                      return r.has_metadata() &&
                                             r.metadata().client_name() == "n";
                                    }),
                                    _))
      .WillOnce(Return(v1::RegisterClientResponse()));
  v1::ClientMetadata metadata;
  metadata.set_client_name("n");
  EXPECT_TRUE(RegistrationClient(mock).RegisterClient(metadata).ok());
}

TEST(ClientRegistrationClient, UpdateAndDeleteConvenience) {
  auto mock = MakeMock();
  EXPECT_CALL(*mock, UpdateClient(Truly([](const v1::UpdateClientRequest& r) {
                                    return r.client_id() == "1" &&
                                           r.registration_access_token() == "t" &&
                                           r.metadata().scope() == "openid";
                                  }),
                                  _))
      .WillOnce(Return(v1::UpdateClientResponse()));
  EXPECT_CALL(*mock, DeleteClient(Truly([](const v1::DeleteClientRequest& r) {
                                    return r.client_id() == "1" &&
                                           r.registration_access_token() == "t";
                                  }),
                                  _))
      .WillOnce(Return(v1::DeleteClientResponse()));
  RegistrationClient client(mock);
  v1::ClientMetadata metadata;
  metadata.set_scope("openid");
  EXPECT_TRUE(client.UpdateClient("1", "t", metadata).ok());
  EXPECT_TRUE(client.DeleteClient("1", "t").ok());
}

TEST(ClientRegistrationClient, ErrorsPassThroughWithDetail) {
  auto mock = MakeMock();
  absl::Status error = absl::UnauthenticatedError("bad token");
  v1::RegistrationError detail;
  detail.set_reason(v1::ERROR_REASON_REGISTRATION_REJECTED);
  detail.set_http_status(401);
  SetRegistrationError(error, detail);
  EXPECT_CALL(*mock, DeleteClient).WillOnce(Return(error));
  auto response = RegistrationClient(mock).DeleteClient("1", "t");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(GetRegistrationError(response.status()).has_value());
  EXPECT_EQ(GetRegistrationError(response.status())->http_status(), 401);
}

TEST(ClientRegistrationClient, CopiesShareTheConnection) {
  auto mock = MakeMock();
  RegistrationClient a(mock);
  RegistrationClient b = a;
  EXPECT_EQ(a, b);
  EXPECT_NE(a, RegistrationClient(MakeMock()));
  EXPECT_CALL(*mock, GetClient).Times(2).WillRepeatedly(Return(v1::GetClientResponse()));
  EXPECT_TRUE(a.GetClient("1", "t").ok());
  EXPECT_TRUE(b.GetClient("1", "t").ok());
}

TEST(ClientRegistrationClient, NullConnectionFailsWithoutCrashing) {
  RegistrationClient client(nullptr);
  EXPECT_EQ(client.GetClient("1", "t").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client.RegisterClient(v1::ClientMetadata()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace dcr::client
