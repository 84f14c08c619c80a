// service/json: the text it writes is byte for byte nlohmann's dump() of the
// same value (compact, ensure_ascii off, invalid UTF-8 replaced), which the
// request envelope and the log lines were written with before.
#include "service/json/json_text.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "service/authlete/authlete_request.h"
#include "service/telemetry/logging.h"

namespace dcr {
namespace {

std::string Reference(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Written(absl::string_view text) {
  std::string out = "prefix:";
  json::AppendString(text, &out);
  return out.substr(7);
}

TEST(JsonTextTest, EveryAsciiByteIsEscapedAsNlohmannDoes) {
  for (int c = 0; c < 0x80; ++c) {
    const std::string text = std::string("a") + static_cast<char>(c) + "b";
    EXPECT_EQ(Written(text), Reference(text)) << "byte " << c;
  }
}

TEST(JsonTextTest, StringsMatchNlohmann) {
  const std::vector<std::string> texts = {
      "",
      "plain",
      R"({"redirect_uris":["https://a.example/cb"],"client_name":"x \"y\" \\ z"})",
      "\xe3\x82\xaf\xe3\x83\xa9\xe3\x82\xa4\xe3\x82\xa2\xe3\x83\xb3\xe3\x83\x88",  // クライアント
      "\xf0\x9f\x94\x91 key",                                                          // 4-byte UTF-8
      "tab\tnewline\nreturn\rnul" + std::string(1, '\0') + "end",
      std::string(5000, '"'),
      // Invalid UTF-8: replaced by U+FFFD as nlohmann's `replace` does.
      "\xff\xfe",
      "ok \xc3\x28 broken",
      "\xed\xa0\x80 surrogate",
      "\xc0\xaf overlong",
      "truncated \xe3\x82",
  };
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    EXPECT_EQ(Written(text), Reference(text));
  }
}

// The scanner reads 16 bytes at a time: every kind of byte at every offset of
// strings around and across those blocks, and whether the text was valid.
TEST(JsonTextTest, EveryByteKindAtEveryOffsetMatchesNlohmann) {
  const std::vector<std::string> pieces = {
      "a", "\"", "\\", "\n", std::string(1, '\x01'), "\x1f", " ", "\x7f",
      "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x94\x91",  // é, €, a 4-byte character
      "\xff", "\x80", "\xc3",                                // invalid alone
  };
  std::mt19937 random(7);
  for (int round = 0; round < 20000; ++round) {
    const std::size_t length = random() % 70;
    std::string text(length, 'x');
    // One to three pieces at random offsets, in a run of plain bytes.
    for (int n = 1 + static_cast<int>(random() % 3); n > 0; --n) {
      const std::size_t at = length == 0 ? 0 : random() % (length + 1);
      text.insert(at, pieces[random() % pieces.size()]);
    }
    SCOPED_TRACE(::testing::PrintToString(text));
    std::string out;
    const bool valid = json::AppendStringChecked(text, &out);
    ASSERT_EQ(out, Reference(text));
    bool strict_valid = true;
    try {
      (void)nlohmann::json(text).dump();
    } catch (const nlohmann::json::type_error&) {
      strict_valid = false;
    }
    ASSERT_EQ(valid, strict_valid);
  }
}

TEST(JsonTextTest, NumbersMatchNlohmann) {
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{42}, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()}) {
    std::string out;
    json::AppendNumber(v, &out);
    EXPECT_EQ(out, nlohmann::json(v).dump());
  }
  for (double v : {0.0, -0.0, 0.1, 1.0, 15.950489, 1e300, -2.5e-310,
                   std::numeric_limits<double>::quiet_NaN(),
                   std::numeric_limits<double>::infinity()}) {
    std::string out;
    json::AppendNumber(v, &out);
    EXPECT_EQ(out, nlohmann::json(v).dump()) << v;
  }
  std::string out;
  json::AppendBool(true, &out);
  json::AppendBool(false, &out);
  EXPECT_EQ(out, "truefalse");
}

// The envelope as nlohmann wrote it: an object of strings, names sorted.
TEST(JsonTextTest, TheEnvelopeIsWhatNlohmannWrote) {
  authlete::AuthleteOptions options;
  options.base_url = "http://127.0.0.1:1";
  options.credential = "service-token";
  for (api::Operation op : {api::Operation::kRegister, api::Operation::kGet,
                            api::Operation::kUpdate, api::Operation::kDelete}) {
    core::DcrCall call;
    call.operation = op;
    call.service_id = "21653835348762";
    call.client_id = "26837717140341";
    call.token = "tok\"en\\";
    call.json = R"({"client_name":"n\u00e9","redirect_uris":["https://a.example/cb"]})";
    nlohmann::json expected = nlohmann::json::object();
    if (op != api::Operation::kRegister) {
      expected["clientId"] = call.client_id;
      expected["token"] = call.token;
    }
    if (op == api::Operation::kRegister || op == api::Operation::kUpdate) {
      expected["json"] = call.json;
    }
    EXPECT_EQ(authlete::BuildHttpRequest(options, call, absl::Seconds(1)).body,
              expected.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
        << static_cast<int>(op);
  }
}

// A log line: names sorted, a repeated name keeps its last value, values of
// every type, one line.
TEST(JsonTextTest, ALogLineIsOneSortedJsonObject) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::fflush(stdout);
  const int saved = dup(STDOUT_FILENO);
  ASSERT_EQ(dup2(fds[1], STDOUT_FILENO), STDOUT_FILENO);
  telemetry::Log(telemetry::LogLevel::kWarning, "audit \"x\"",
                 {{"zeta", "last"}, {"count", 3}, {"ratio", 0.25}, {"ok", true},
                  {"count", int64_t{4}}, {"alpha", "caf\xc3\xa9\n"}});
  dup2(saved, STDOUT_FILENO);
  close(saved);
  close(fds[1]);
  std::string line;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof(buffer))) > 0;) line.append(buffer, n);
  close(fds[0]);
  ASSERT_FALSE(line.empty());
  ASSERT_EQ(line.back(), '\n');
  line.pop_back();
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed.at("count"), 4);  // the last value of a repeated name
  EXPECT_EQ(parsed.at("alpha"), "caf\xc3\xa9\n");
  EXPECT_EQ(parsed.at("level"), "warning");
  EXPECT_EQ(parsed.at("msg"), "audit \"x\"");
  // nlohmann's std::map order and formatting, byte for byte.
  EXPECT_EQ(line, parsed.dump());
}

}  // namespace
}  // namespace dcr
