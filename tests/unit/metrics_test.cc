// The Prometheus text format as the metrics module writes it (through
// prometheus-cpp's TextSerializer).
#include "service/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dcr::metrics {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, CounterAndGaugeWithEscapedLabels) {
  Registry registry;
  Family& calls = registry.Add("x_calls_total", "Calls.\nSecond line \\ here", Type::kCounter,
                               {"rpc", "note"});
  calls.With({"Get", "a \"quoted\"\nvalue\\"}).Add();
  calls.With({"Get", "a \"quoted\"\nvalue\\"}).Add(2);
  Family& level = registry.Add("x_level", "Level.", Type::kGauge);
  level.With({}).Set(-3.5);
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# HELP x_calls_total Calls.\\nSecond line \\\\ here\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE x_calls_total counter\n"));
  EXPECT_THAT(text,
              HasSubstr("x_calls_total{rpc=\"Get\",note=\"a \\\"quoted\\\"\\nvalue\\\\\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE x_level gauge\nx_level -3.5\n"));
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  Registry registry;
  Family& latency = registry.Add("x_seconds", "Latency.", Type::kHistogram, {"rpc"}, {0.1, 1});
  Series& s = latency.With({"Get"});
  s.Observe(0.05);
  s.Observe(0.1);  // on a bound: counts in that bucket (le)
  s.Observe(0.5);
  s.Observe(7);
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("x_seconds_bucket{rpc=\"Get\",le=\"0.1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("x_seconds_bucket{rpc=\"Get\",le=\"1\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("x_seconds_bucket{rpc=\"Get\",le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("x_seconds_sum{rpc=\"Get\"} 7.65\n"));
  EXPECT_THAT(text, HasSubstr("x_seconds_count{rpc=\"Get\"} 4\n"));
}

TEST(MetricsTest, WrongLabelCountNeverBreaksThePage) {
  Registry registry;
  Family& f = registry.Add("x_total", "X.", Type::kCounter, {"a"});
  f.With({"1", "2"}).Add();
  EXPECT_EQ(registry.Render(), "# HELP x_total X.\n# TYPE x_total counter\n");
}

TEST(MetricsTest, ProcessMetrics) {
  Registry registry;
  registry.AddCollectable(ProcessMetrics());
  const std::string out = registry.Render();
  for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                           "process_virtual_memory_bytes ", "process_open_fds ",
                           "process_max_fds ", "process_start_time_seconds ", "process_threads "}) {
    EXPECT_THAT(out, HasSubstr(std::string("\n") + name)) << name;
  }
}

}  // namespace
}  // namespace dcr::metrics
