// Every Authlete outcome maps to the documented gRPC code and error reason
// (README "Error mapping").
#include "service/authlete/authlete_response.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace dcr::authlete {
namespace {

using api::Operation;
using core::DcrResponse;
using core::HttpStatusForAction;

absl::optional<v1::RegistrationError> DetailOf(const core::DcrResult& result) {
  if (result.ok()) return absl::nullopt;
  return result.error().detail();
}

http::HttpResult Answer(int status, std::string body) {
  http::HttpResult result;
  result.request_sent = true;
  result.status = status;
  result.body = std::move(body);
  return result;
}

std::string DcrBody(absl::string_view action, absl::string_view content) {
  nlohmann::json body = {{"resultCode", "A000000"},
                         {"resultMessage", "[A000000] message"},
                         {"action", action},
                         {"responseContent", content}};
  return body.dump();
}

TEST(InterpretTest, SuccessActionPerOperation) {
  const struct {
    Operation op;
    const char* action;
    v1::Action expected;
    int http_status;
  } cases[] = {{Operation::kRegister, "CREATED", v1::ACTION_CREATED, 201},
               {Operation::kGet, "OK", v1::ACTION_OK, 200},
               {Operation::kUpdate, "UPDATED", v1::ACTION_UPDATED, 200},
               {Operation::kDelete, "DELETED", v1::ACTION_DELETED, 204}};
  for (const auto& c : cases) {
    core::DcrResult r =
        InterpretHttpResult(c.op, Answer(200, DcrBody(c.action, R"({"client_id":"1"})")));
    ASSERT_TRUE(r.ok()) << c.action << ": " << r.status();
    EXPECT_EQ(r->action, c.expected);
    EXPECT_EQ(r->result_code, "A000000");
    EXPECT_EQ(r->response_content, R"({"client_id":"1"})");
    EXPECT_EQ(HttpStatusForAction(r->action), c.http_status);
  }
}

// Introspection (contract §10): any HTTP 200 answer, whatever its action, is
// the result, whole, for the public endpoint to read; a refusal stays one.
TEST(InterpretTest, IntrospectionAnswerIsPassedOnWhole) {
  for (const char* action : {"OK", "UNAUTHORIZED", "FORBIDDEN", "BAD_REQUEST"}) {
    const std::string body = DcrBody(action, "Bearer error=\"invalid_token\"");
    core::DcrResult r = InterpretHttpResult(Operation::kIntrospectToken, Answer(200, body));
    ASSERT_TRUE(r.ok()) << action;
    EXPECT_EQ(r->response_content, body);
  }
  core::DcrResult refused = InterpretHttpResult(
      Operation::kIntrospectToken, Answer(401, R"({"resultCode":"A001202","resultMessage":"x"})"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().reason(), v1::ERROR_REASON_GATEWAY_CREDENTIALS_REJECTED);
}

// The envelope is read by simdjson with nlohmann deciding what simdjson
// refuses: both must agree on every input.
TEST(InterpretTest, EnvelopeReadingIsLenientAndConsistent) {
  // A numeric resultCode (one published example has one) is printed.
  core::DcrResult numeric = InterpretHttpResult(
      Operation::kGet,
      Answer(200, R"({"resultCode":12345,"action":"OK","responseContent":"{}"})"));
  ASSERT_TRUE(numeric.ok()) << numeric.status();
  EXPECT_EQ(numeric->result_code, "12345");
  // Large unsigned integers print as themselves.
  core::DcrResult unsigned_code = InterpretHttpResult(
      Operation::kGet,
      Answer(200, R"({"resultCode":18446744073709551615,"action":"OK","responseContent":""})"));
  ASSERT_TRUE(unsigned_code.ok()) << unsigned_code.status();
  EXPECT_EQ(unsigned_code->result_code, "18446744073709551615");
  // An integer beyond 64 bits elsewhere (simdjson refuses it) still parses.
  core::DcrResult big = InterpretHttpResult(
      Operation::kGet,
      Answer(200,
             R"({"x":123456789012345678901234567890,"action":"OK","responseContent":"{\"a\":1}"})"));
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(big->response_content, R"({"a":1})");
  // A repeated name keeps its last value; other types read as empty.
  core::DcrResult repeated = InterpretHttpResult(
      Operation::kGet,
      Answer(200, R"({"action":"BAD_REQUEST","action":"OK","resultMessage":[1],"responseContent":"c"})"));
  ASSERT_TRUE(repeated.ok()) << repeated.status();
  EXPECT_EQ(repeated->result_message, "");
  EXPECT_EQ(repeated->response_content, "c");
  // Escapes and non-ASCII text in responseContent come out decoded.
  core::DcrResult escaped = InterpretHttpResult(
      Operation::kGet,
      Answer(200, R"({"action":"OK","responseContent":"{\"client_name\":\"caf\u00e9 \u65e5\"}"})"));
  ASSERT_TRUE(escaped.ok()) << escaped.status();
  EXPECT_EQ(escaped->response_content, "{\"client_name\":\"caf\xc3\xa9 \xe6\x97\xa5\"}");
  // Neither a JSON array nor invalid JSON nor invalid UTF-8 is an envelope.
  for (const char* body : {"[1,2]", "{\"action\":", "{\"action\":\"\xff\"}"}) {
    core::DcrResult bad = InterpretHttpResult(Operation::kGet, Answer(200, body));
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInternal) << body;
  }
}

struct ErrorCase {
  std::string name;
  Operation op;
  http::HttpResult result;
  absl::StatusCode code;
  v1::ErrorReason reason;
  int http_status;
  bool may_have_been_processed;
};

http::HttpResult Transport(absl::Status status, bool sent) {
  http::HttpResult result;
  result.transport = std::move(status);
  result.request_sent = sent;
  return result;
}

std::vector<ErrorCase> ErrorCases() {
  const std::string bad_request = DcrBody(
      "BAD_REQUEST",
      R"({"error":"invalid_redirect_uri","error_description":"[A0] bad","error_uri":"https://docs.authlete.com/#A0"})");
  http::HttpResult rate_limited = Answer(429, "");
  rate_limited.retry_after = absl::Seconds(7);
  return {
      {"bad_request", Operation::kRegister, Answer(200, bad_request),
       absl::StatusCode::kInvalidArgument, v1::ERROR_REASON_REGISTRATION_REJECTED, 400, false},
      {"unauthorized", Operation::kGet,
       Answer(200, DcrBody("UNAUTHORIZED", R"({"error":"invalid_token"})")),
       absl::StatusCode::kUnauthenticated, v1::ERROR_REASON_REGISTRATION_REJECTED, 401, false},
      {"internal_server_error", Operation::kUpdate,
       Answer(200, DcrBody("INTERNAL_SERVER_ERROR", R"({"error":"server_error"})")),
       absl::StatusCode::kInternal, v1::ERROR_REASON_AUTHLETE_ERROR, 500, false},
      {"unknown_action", Operation::kRegister, Answer(200, DcrBody("EXPLODED", "{}")),
       absl::StatusCode::kInternal, v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, 500, true},
      {"other_operations_success", Operation::kGet, Answer(200, DcrBody("DELETED", "")),
       absl::StatusCode::kInternal, v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, 500, true},
      {"malformed_json", Operation::kRegister, Answer(200, "{\"action\":"),
       absl::StatusCode::kInternal, v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, 500, true},
      {"not_an_object", Operation::kGet, Answer(200, "[1,2]"), absl::StatusCode::kInternal,
       v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, 500, true},
      {"credentials_401", Operation::kRegister,
       Answer(401, R"({"resultCode":"A001202","resultMessage":"[A001202] Authorization header is missing."})"),
       absl::StatusCode::kFailedPrecondition, v1::ERROR_REASON_GATEWAY_CREDENTIALS_REJECTED,
       500, false},
      {"credentials_403", Operation::kDelete, Answer(403, "forbidden"),
       absl::StatusCode::kFailedPrecondition, v1::ERROR_REASON_GATEWAY_CREDENTIALS_REJECTED,
       500, false},
      {"unknown_service_404", Operation::kGet, Answer(404, ""),
       absl::StatusCode::kFailedPrecondition, v1::ERROR_REASON_SERVICE_NOT_FOUND, 500, false},
      {"refused_400", Operation::kUpdate,
       Answer(400, R"({"resultCode":"A001001","resultMessage":"[A001001] bad"})"),
       absl::StatusCode::kInternal, v1::ERROR_REASON_UPSTREAM_REQUEST_REFUSED, 500, false},
      {"rate_limited_429", Operation::kRegister, rate_limited, absl::StatusCode::kUnavailable,
       v1::ERROR_REASON_UPSTREAM_RATE_LIMITED, 503, false},
      {"authlete_500", Operation::kRegister,
       Answer(500, R"({"resultCode":"A001101","resultMessage":"[A001101] Authlete Server error."})"),
       absl::StatusCode::kUnavailable, v1::ERROR_REASON_UPSTREAM_FAILED, 503, true},
      {"bad_gateway_502", Operation::kGet, Answer(502, "<html>"),
       absl::StatusCode::kUnavailable, v1::ERROR_REASON_UPSTREAM_FAILED, 503, true},
      {"connect_failed", Operation::kRegister,
       Transport(absl::UnavailableError("refused"), false), absl::StatusCode::kUnavailable,
       v1::ERROR_REASON_UPSTREAM_UNREACHABLE, 503, false},
      {"reset_after_send", Operation::kRegister,
       Transport(absl::UnavailableError("reset"), true), absl::StatusCode::kUnavailable,
       v1::ERROR_REASON_UPSTREAM_FAILED, 503, true},
      {"timeout_after_send", Operation::kRegister,
       Transport(absl::DeadlineExceededError("slow"), true),
       absl::StatusCode::kDeadlineExceeded, v1::ERROR_REASON_UPSTREAM_TIMEOUT, 504, true},
      {"timeout_connecting", Operation::kGet,
       Transport(absl::DeadlineExceededError("slow"), false),
       absl::StatusCode::kDeadlineExceeded, v1::ERROR_REASON_UPSTREAM_TIMEOUT, 504, false},
      {"truncated", Operation::kGet, Transport(absl::DataLossError("partial"), true),
       absl::StatusCode::kInternal, v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, 500, true},
      {"too_large", Operation::kGet, Transport(absl::OutOfRangeError("big"), true),
       absl::StatusCode::kInternal, v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, 500, true},
      {"shutting_down", Operation::kDelete, Transport(absl::CancelledError("stop"), false),
       absl::StatusCode::kUnavailable, v1::ERROR_REASON_GATEWAY_UNAVAILABLE, 503, false},
  };
}

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class ErrorMappingTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ErrorMappingTest, MapsToDocumentedStatus) {
  const ErrorCase& c = GetParam();
  core::DcrResult r = InterpretHttpResult(c.op, c.result);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), c.code) << r.status();
  absl::optional<v1::RegistrationError> detail = DetailOf(r);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->reason(), c.reason) << v1::ErrorReason_Name(detail->reason());
  EXPECT_EQ(detail->http_status(), c.http_status);
  EXPECT_EQ(detail->may_have_been_processed(), c.may_have_been_processed);
}

INSTANTIATE_TEST_SUITE_P(AllOutcomes, ErrorMappingTest, ::testing::ValuesIn(ErrorCases()),
                         [](const auto& info) { return info.param.name; });

TEST(InterpretTest, RejectionCarriesRfc7591ErrorVerbatim) {
  const std::string content =
      R"({"error":"invalid_redirect_uri","error_description":"[A0] bad","error_uri":"https://docs.authlete.com/#A0"})";
  core::DcrResult r =
      InterpretHttpResult(Operation::kRegister, Answer(200, DcrBody("BAD_REQUEST", content)));
  ASSERT_FALSE(r.ok());
  v1::RegistrationError detail = r.error().detail();
  EXPECT_EQ(detail.action(), v1::ACTION_BAD_REQUEST);
  EXPECT_EQ(detail.error(), "invalid_redirect_uri");
  EXPECT_EQ(detail.error_description(), "[A0] bad");
  EXPECT_EQ(detail.error_uri(), "https://docs.authlete.com/#A0");
  EXPECT_EQ(detail.response_content(), content);
  EXPECT_EQ(detail.result_code(), "A000000");
  EXPECT_EQ(detail.upstream_http_status(), 200);
}

TEST(InterpretTest, RefusalKeepsResultCodeAndRetryAfter) {
  http::HttpResult refused =
      Answer(401, R"({"resultCode":"A001202","resultMessage":"[A001202] missing"})");
  v1::RegistrationError detail = InterpretHttpResult(Operation::kGet, refused).error().detail();
  EXPECT_EQ(detail.result_code(), "A001202");
  EXPECT_EQ(detail.result_message(), "[A001202] missing");
  EXPECT_EQ(detail.upstream_http_status(), 401);

  http::HttpResult limited = Answer(429, "");
  limited.retry_after = absl::Milliseconds(2500);
  detail = InterpretHttpResult(Operation::kGet, limited).error().detail();
  EXPECT_EQ(detail.retry_after().seconds(), 2);
  EXPECT_EQ(detail.retry_after().nanos(), 500000000);
}

TEST(InterpretTest, NumericResultCodeIsReadLeniently) {
  core::DcrResult r = InterpretHttpResult(
      Operation::kGet,
      Answer(200, R"({"resultCode":217001,"action":"OK","responseContent":"{}"})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->result_code, "217001");
}

TEST(InterpretTest, ParseActionKnowsAllSevenAndNothingElse) {
  EXPECT_EQ(ParseAction("INTERNAL_SERVER_ERROR"), v1::ACTION_INTERNAL_SERVER_ERROR);
  EXPECT_EQ(ParseAction("BAD_REQUEST"), v1::ACTION_BAD_REQUEST);
  EXPECT_EQ(ParseAction("UNAUTHORIZED"), v1::ACTION_UNAUTHORIZED);
  EXPECT_EQ(ParseAction("CREATED"), v1::ACTION_CREATED);
  EXPECT_EQ(ParseAction("UPDATED"), v1::ACTION_UPDATED);
  EXPECT_EQ(ParseAction("DELETED"), v1::ACTION_DELETED);
  EXPECT_EQ(ParseAction("OK"), v1::ACTION_OK);
  EXPECT_EQ(ParseAction("UNSPECIFIED"), v1::ACTION_UNSPECIFIED);
  EXPECT_EQ(ParseAction("created"), v1::ACTION_UNSPECIFIED);
  EXPECT_EQ(ParseAction(""), v1::ACTION_UNSPECIFIED);
}

}  // namespace
}  // namespace dcr::authlete
