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

TEST(ClientRegistrationClient, AdministrativeCallsReachTheConnection) {
  auto mock = MakeMock();
  EXPECT_CALL(*mock, ListClients(Truly([](const v1::ListClientsRequest& r) {
                                   return r.page_size() == 5 && r.developer() == "d";
                                 }),
                                 _))
      .WillOnce(Return(v1::ListClientsResponse()));
  EXPECT_CALL(*mock, GetClientRecord(Truly([](const v1::GetClientRecordRequest& r) {
                                       return r.client_id() == "7";
                                     }),
                                     _))
      .WillOnce(Return(v1::GetClientRecordResponse()));
  EXPECT_CALL(*mock, RotateClientSecret(Truly([](const v1::RotateClientSecretRequest& r) {
                                          return r.client_id() == "7" &&
                                                 !r.has_new_client_secret();
                                        }),
                                        _))
      .WillOnce(Return(v1::RotateClientSecretResponse()));
  EXPECT_CALL(*mock, SetClientLocked(Truly([](const v1::SetClientLockedRequest& r) {
                                       return r.client_id() == "7" && r.locked();
                                     }),
                                     _))
      .WillOnce(Return(v1::SetClientLockedResponse()));
  RegistrationClient client(mock);
  v1::ListClientsRequest list;
  list.set_page_size(5);
  list.set_developer("d");
  EXPECT_TRUE(client.ListClients(list).ok());
  EXPECT_TRUE(client.GetClientRecord("7").ok());
  v1::RotateClientSecretRequest rotate;
  rotate.set_client_id("7");
  EXPECT_TRUE(client.RotateClientSecret(rotate).ok());
  EXPECT_TRUE(client.SetClientLocked("7", true).ok());
}

// A connection written before the administrative RPCs still compiles and
// answers them UNIMPLEMENTED.
class OldConnection : public RegistrationConnection {
 public:
  absl::StatusOr<v1::RegisterClientResponse> RegisterClient(const v1::RegisterClientRequest&,
                                                            const CallOptions&) override {
    return v1::RegisterClientResponse();
  }
  absl::StatusOr<v1::GetClientResponse> GetClient(const v1::GetClientRequest&,
                                                  const CallOptions&) override {
    return v1::GetClientResponse();
  }
  absl::StatusOr<v1::UpdateClientResponse> UpdateClient(const v1::UpdateClientRequest&,
                                                        const CallOptions&) override {
    return v1::UpdateClientResponse();
  }
  absl::StatusOr<v1::DeleteClientResponse> DeleteClient(const v1::DeleteClientRequest&,
                                                        const CallOptions&) override {
    return v1::DeleteClientResponse();
  }
};

TEST(ClientRegistrationClient, AnOlderConnectionAnswersUnimplemented) {
  RegistrationClient client(std::make_shared<OldConnection>());
  EXPECT_EQ(client.ListClients(v1::ListClientsRequest()).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(client.SetClientLocked("1", false).status().code(),
            absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace dcr::client
