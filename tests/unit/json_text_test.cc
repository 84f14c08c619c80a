// service/json: the text it writes is byte for byte nlohmann's dump() of the
// same value (compact, ensure_ascii off, invalid UTF-8 replaced), which the
// request envelope and the log lines were written with before.
#include "service/json/json_text.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
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
      "a", "\"", "\\", "\n", std::string(1, '\0'), std::string(1, '\x01'), "\x1f", " ", "\x7f",
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
// The one line Log writes while `log` runs, without its newline.
template <typename Logging>
std::string CapturedLine(Logging log) {
  int fds[2];
  if (pipe(fds) != 0) return "";
  std::fflush(stdout);
  const int saved = dup(STDOUT_FILENO);
  dup2(fds[1], STDOUT_FILENO);
  log();
  dup2(saved, STDOUT_FILENO);
  close(saved);
  close(fds[1]);
  std::string line;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof(buffer))) > 0;) line.append(buffer, n);
  close(fds[0]);
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  if (!line.empty()) line.pop_back();
  return line;
}

TEST(JsonTextTest, ALogLineIsOneSortedJsonObject) {
  const std::string line = CapturedLine([] {
    telemetry::Log(telemetry::LogLevel::kWarning, "audit \"x\"",
                   {{"zeta", "last"}, {"count", 3}, {"ratio", 0.25}, {"ok", true},
                    {"count", int64_t{4}}, {"alpha", "caf\xc3\xa9\n"}});
  });
  const nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed.at("count"), 4);  // the last value of a repeated name
  EXPECT_EQ(parsed.at("alpha"), "caf\xc3\xa9\n");
  EXPECT_EQ(parsed.at("level"), "warning");
  EXPECT_EQ(parsed.at("msg"), "audit \"x\"");
  // nlohmann's std::map order and formatting, byte for byte.
  EXPECT_EQ(line, parsed.dump());
}

// Fields already in order (as the RPC log passes them) are not sorted again,
// and the line is the same; a field named like a fixed one wins over it.
TEST(JsonTextTest, FieldsInOrderAndAFieldNamedMsg) {
  const std::string owned = "owned text";
  const std::string line = CapturedLine([&owned] {
    telemetry::Log(telemetry::LogLevel::kInfo, "fixed",
                   {{"a", owned}, {"b", std::string("moved")}, {"m", absl::string_view("view")},
                    {"msg", "from a field"}, {"z", int64_t{-1}}});
  });
  const nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed.at("a"), "owned text");
  EXPECT_EQ(parsed.at("b"), "moved");
  EXPECT_EQ(parsed.at("m"), "view");
  EXPECT_EQ(parsed.at("msg"), "from a field");
  EXPECT_EQ(parsed.at("z"), -1);
  EXPECT_TRUE(parsed.contains("time"));
  EXPECT_EQ(line, parsed.dump());
}

TEST(JsonTextTest, LogTimestampIsWhatFormatTimeWrites) {
  std::mt19937_64 random(11);
  std::vector<absl::Time> times = {absl::UnixEpoch(), absl::FromUnixMicros(999999),
                                   absl::FromCivil(absl::CivilSecond(2026, 12, 31, 23, 59, 59),
                                                   absl::UTCTimeZone()) +
                                       absl::Microseconds(999999),
                                   absl::FromUnixMicros(-1), absl::Now()};
  for (int i = 0; i < 2000; ++i) {
    // From 1970 to about 2100, at microsecond resolution.
    times.push_back(absl::FromUnixMicros(static_cast<int64_t>(random() % 4102444800000000ULL)));
  }
  for (absl::Time t : times) {
    EXPECT_EQ(telemetry::LogTimestamp(t),
              absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone()));
  }
}

// Stdout into a file for the life of the object, so that a test can see
// what has been written so far.
class StdoutToFile {
 public:
  StdoutToFile() {
    std::fflush(stdout);
    char path[] = "/tmp/log_batch_test.XXXXXX";
    fd_ = mkstemp(path);
    unlink(path);
    saved_ = dup(STDOUT_FILENO);
    dup2(fd_, STDOUT_FILENO);
  }
  ~StdoutToFile() {
    dup2(saved_, STDOUT_FILENO);
    close(saved_);
    close(fd_);
  }
  off_t Written() const {
    struct stat st {};
    fstat(fd_, &st);
    return st.st_size;
  }
  std::vector<std::string> Messages() const {
    std::string text(static_cast<std::size_t>(Written()), '\0');
    if (pread(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) return {};
    std::vector<std::string> messages;
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      messages.push_back(nlohmann::json::parse(line).at("msg"));
    }
    return messages;
  }

 private:
  int fd_ = -1;
  int saved_ = -1;
};

TEST(LogBatchTest, LinesWaitForTheOutermostBatchAndKeepTheirOrder) {
  StdoutToFile out;
  {
    telemetry::LogBatch outer;
    telemetry::Log(telemetry::LogLevel::kInfo, "one");
    {
      telemetry::LogBatch inner;
      telemetry::Log(telemetry::LogLevel::kInfo, "two");
    }
    telemetry::Log(telemetry::LogLevel::kInfo, "three");
    EXPECT_EQ(out.Written(), 0);
  }
  EXPECT_EQ(out.Messages(), (std::vector<std::string>{"one", "two", "three"}));
  // Without a batch, a line is written at once.
  telemetry::Log(telemetry::LogLevel::kInfo, "four");
  EXPECT_EQ(out.Messages(), (std::vector<std::string>{"one", "two", "three", "four"}));
}

TEST(LogBatchTest, ABatchPast64KiBIsWrittenWithoutWaiting) {
  StdoutToFile out;
  const std::string filler(1000, 'x');
  telemetry::LogBatch batch;
  for (int i = 0; i < 70; ++i) {
    telemetry::Log(telemetry::LogLevel::kInfo, "filler", {{"text", filler}});
  }
  EXPECT_GE(out.Written(), 64 * 1024);
  EXPECT_LT(out.Written(), 70 * 1000);
}

}  // namespace
}  // namespace dcr
