// Prometheus metrics on prometheus-cpp (core): its families, counters, gauges
// and histograms hold the values, its TextSerializer writes the page (text
// format 0.0.4). This file is a thin adapter that keeps the gateway's own
// interface, Registry::Add → Family::With → Series&: a hot path finds its
// series once, at start-up, and keeps the Series& (updates are prometheus-cpp's
// atomics; a histogram's observation takes its own short per-series lock).
//
// What the adapter adds to prometheus-cpp, so that the page keeps its shape
// for dashboards and tests: the families appear in the order they were added,
// a family with no series yet still shows its HELP and TYPE, labels appear in
// the order the family declares them (prometheus-cpp sorts them by name), and
// HELP text is escaped (prometheus-cpp writes it verbatim). Finding a series
// by label values takes a short lock in a cache of its own: prometheus-cpp's
// Family::Add allocates a metric at every call, even for an existing one.
#ifndef DCR_SERVICE_METRICS_METRICS_H_
#define DCR_SERVICE_METRICS_METRICS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace dcr::metrics {

enum class Type { kCounter, kGauge, kHistogram };

// One time series: a counter, a gauge or a histogram of prometheus-cpp.
class Series {
 public:
  void Add(double delta = 1);  // counter (delta >= 0) or gauge
  void Set(double value);      // gauge
  void Observe(double value);  // histogram
  double value() const;        // a counter's or gauge's value, a histogram's sum

 private:
  friend class Family;
  prometheus::Counter* counter_ = nullptr;
  prometheus::Gauge* gauge_ = nullptr;
  prometheus::Histogram* histogram_ = nullptr;
  // Owns the metric of a series asked for with the wrong number of label
  // values: it counts, but is never on the page (a caller's mistake must
  // never make the page malformed).
  std::shared_ptr<void> detached_;
};

// A metric and its series, one per combination of label values.
class Family {
 public:
  // The series for `values` (one per label name), created at first use;
  // the reference stays valid as long as the registry.
  Series& With(const std::vector<std::string>& values) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class Registry;
  Family(prometheus::Registry& registry, std::string name, std::string help, Type type,
         std::vector<std::string> labels, std::vector<double> bounds);
  void CollectInto(std::vector<prometheus::MetricFamily>& out) const;

  const std::string name_, help_;  // help_ escaped for the text format
  const Type type_;
  const std::vector<std::string> labels_;
  const std::vector<double> bounds_;
  // The prometheus-cpp family (one of them, after type_), owned by the registry.
  prometheus::Family<prometheus::Counter>* counters_ = nullptr;
  prometheus::Family<prometheus::Gauge>* gauges_ = nullptr;
  prometheus::Family<prometheus::Histogram>* histograms_ = nullptr;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_ ABSL_GUARDED_BY(mu_);
};

// The gateway's metrics. A prometheus::Collectable itself, so that it can be
// handed to anything that collects prometheus-cpp metrics.
class Registry : public prometheus::Collectable {
 public:
  Registry();
  ~Registry() override;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adding a name twice returns the family added first (prometheus-cpp
  // refuses a name already used by another type). Names, label names and
  // bounds must be valid for Prometheus (prometheus-cpp throws otherwise).
  Family& Add(std::string name, std::string help, Type type, std::vector<std::string> labels = {},
              std::vector<double> bounds = {}) ABSL_LOCKS_EXCLUDED(mu_);
  // Metrics computed when the page is scraped (process metrics), collected
  // after the families.
  void AddCollectable(std::shared_ptr<prometheus::Collectable> collectable)
      ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<prometheus::MetricFamily> Collect() const override ABSL_LOCKS_EXCLUDED(mu_);
  // The page, by prometheus::TextSerializer.
  std::string Render() const;

 private:
  std::unique_ptr<prometheus::Registry> registry_;  // owns the prometheus-cpp families
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Family>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_ ABSL_GUARDED_BY(mu_);
};

// Latency buckets in seconds, 1 ms to 30 s.
std::vector<double> LatencyBuckets();

// process_* metrics of this process, read from /proc/self at every collection
// (Prometheus' standard names; prometheus-cpp has no collector for them): CPU
// seconds, resident and virtual memory, open and maximum file descriptors,
// start time, threads.
std::shared_ptr<prometheus::Collectable> ProcessMetrics();

}  // namespace dcr::metrics

#endif  // DCR_SERVICE_METRICS_METRICS_H_
