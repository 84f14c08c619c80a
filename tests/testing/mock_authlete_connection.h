// A GoogleMock of the seam between the registration pipeline and Authlete
// (authlete::AuthleteConnection), for the unit tests of the stages above it:
// the service, the resilience layer and the administrative RPCs.
#ifndef DCR_TESTS_TESTING_MOCK_AUTHLETE_CONNECTION_H_
#define DCR_TESTS_TESTING_MOCK_AUTHLETE_CONNECTION_H_

#include <gmock/gmock.h>

#include "absl/time/time.h"
#include "service/authlete/authlete_connection.h"
#include "service/core/call.h"

namespace dcr::authlete {

class MockAuthleteConnection : public AuthleteConnection {
 public:
  MOCK_METHOD(void, Call, (const core::DcrCall& call, absl::Duration timeout, Callback done),
              (override));
};

}  // namespace dcr::authlete

#endif  // DCR_TESTS_TESTING_MOCK_AUTHLETE_CONNECTION_H_
