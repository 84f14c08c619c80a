// W3C Trace Context: what the gateway accepts from callers and what it passes
// on to Authlete.
#include "service/telemetry/trace_context.h"

#include <gtest/gtest.h>

namespace dcr::telemetry {
namespace {

constexpr char kValid[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceparentTest, ParsesVersion00) {
  absl::optional<Traceparent> parsed = ParseTraceparent(kValid);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(parsed->parent_id, "00f067aa0ba902b7");
  EXPECT_EQ(parsed->flags, "01");
}

TEST(TraceparentTest, AcceptsALaterVersionByItsFirstFields) {
  EXPECT_TRUE(ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")
                  .has_value());
  EXPECT_TRUE(ParseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09")
                  .has_value());
}

TEST(TraceparentTest, RefusesWhatTheSpecificationRefuses) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",        // no flags
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",   // 00 with more
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     // version ff
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",     // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",     // zero parent id
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",     // upper case
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",     // not hex
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",     // separators
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",    // later, no '-'
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX: y",
       }) {
    EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
  }
}

TEST(StartSpanTest, ContinuesTheCallersTraceWithANewSpan) {
  const TraceContext context = StartSpan(kValid, std::string("vendor=value"));
  EXPECT_TRUE(context.continued);
  EXPECT_EQ(context.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_NE(context.span_id, "00f067aa0ba902b7");
  EXPECT_EQ(context.flags, "01");
  EXPECT_EQ(context.tracestate, "vendor=value");
  const std::string header = context.TraceparentHeader();
  ASSERT_TRUE(ParseTraceparent(header).has_value()) << header;
  EXPECT_EQ(ParseTraceparent(header)->parent_id, context.span_id);
}

TEST(StartSpanTest, KeepsOnlyTheSampledFlag) {
  EXPECT_EQ(StartSpan("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", {}).flags, "01");
  EXPECT_EQ(StartSpan("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0a", {}).flags, "00");
  EXPECT_EQ(StartSpan("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", {}).flags, "00");
}

TEST(StartSpanTest, StartsAFreshTraceForMissingOrInvalidInput) {
  for (absl::optional<absl::string_view> value :
       {absl::optional<absl::string_view>(), absl::optional<absl::string_view>("garbage")}) {
    const TraceContext context = StartSpan(value, std::string("vendor=value"));
    EXPECT_FALSE(context.continued);
    EXPECT_TRUE(context.tracestate.empty());  // never without its traceparent
    ASSERT_TRUE(ParseTraceparent(context.TraceparentHeader()).has_value());
  }
  EXPECT_NE(StartSpan({}, {}).trace_id, StartSpan({}, {}).trace_id);
}

TEST(StartSpanTest, DropsAnUnusableTracestate) {
  EXPECT_TRUE(StartSpan(kValid, std::string("a=b\r\nInjected: 1")).tracestate.empty());
  EXPECT_TRUE(StartSpan(kValid, std::string(513, 'a')).tracestate.empty());
  EXPECT_EQ(StartSpan(kValid, std::string(512, 'a')).tracestate.size(), 512u);
}

}  // namespace
}  // namespace dcr::telemetry
