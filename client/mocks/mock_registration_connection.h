// A GoogleMock RegistrationConnection, for tests of code that uses
// RegistrationClient:
//
//   auto mock = std::make_shared<dcr::client::MockRegistrationConnection>();
//   EXPECT_CALL(*mock, GetClient).WillOnce(Return(absl::UnavailableError("x")));
//   dcr::client::RegistrationClient client(mock);
//
// Link GTest::gmock (and dcr::client_mocks) in the test target.
#ifndef DCR_CLIENT_MOCKS_MOCK_REGISTRATION_CONNECTION_H_
#define DCR_CLIENT_MOCKS_MOCK_REGISTRATION_CONNECTION_H_

#include <gmock/gmock.h>

#include "client/registration_connection.h"

namespace dcr::client {

class MockRegistrationConnection : public RegistrationConnection {
 public:
  MOCK_METHOD(absl::StatusOr<v1::RegisterClientResponse>, RegisterClient,
              (const v1::RegisterClientRequest&, const CallOptions&), (override));
  MOCK_METHOD(absl::StatusOr<v1::GetClientResponse>, GetClient,
              (const v1::GetClientRequest&, const CallOptions&), (override));
  MOCK_METHOD(absl::StatusOr<v1::UpdateClientResponse>, UpdateClient,
              (const v1::UpdateClientRequest&, const CallOptions&), (override));
  MOCK_METHOD(absl::StatusOr<v1::DeleteClientResponse>, DeleteClient,
              (const v1::DeleteClientRequest&, const CallOptions&), (override));
  MOCK_METHOD(absl::StatusOr<v1::ListClientsResponse>, ListClients,
              (const v1::ListClientsRequest&, const CallOptions&), (override));
  MOCK_METHOD(absl::StatusOr<v1::GetClientRecordResponse>, GetClientRecord,
              (const v1::GetClientRecordRequest&, const CallOptions&), (override));
  MOCK_METHOD(absl::StatusOr<v1::RotateClientSecretResponse>, RotateClientSecret,
              (const v1::RotateClientSecretRequest&, const CallOptions&), (override));
  MOCK_METHOD(absl::StatusOr<v1::SetClientLockedResponse>, SetClientLocked,
              (const v1::SetClientLockedRequest&, const CallOptions&), (override));
};

}  // namespace dcr::client

#endif  // DCR_CLIENT_MOCKS_MOCK_REGISTRATION_CONNECTION_H_
