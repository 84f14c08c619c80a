#include "service/metrics/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dcr::metrics {
namespace {

prometheus::MetricType ToPrometheus(Type type) {
  switch (type) {
    case Type::kCounter: return prometheus::MetricType::Counter;
    case Type::kGauge: return prometheus::MetricType::Gauge;
    case Type::kHistogram: return prometheus::MetricType::Histogram;
  }
  return prometheus::MetricType::Untyped;
}

std::string Slurp(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

prometheus::MetricFamily OneValue(const char* name, const char* help,
                                  prometheus::MetricType type, double value) {
  prometheus::MetricFamily family{name, help, type, {prometheus::ClientMetric{}}};
  if (type == prometheus::MetricType::Counter) {
    family.metric[0].counter.value = value;
  } else {
    family.metric[0].gauge.value = value;
  }
  return family;
}

class ProcessCollectable : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    const std::string stat = Slurp("/proc/self/stat");
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) return {};
    std::vector<std::string> f = absl::StrSplit(stat.substr(close + 2), ' ');
    // After the state (field 3): utime 14, stime 15, num_threads 20,
    // starttime 22, vsize 23, rss 24, counted from 3 at index 0.
    auto field = [&f](int number) {
      double v = 0;
      const std::size_t i = static_cast<std::size_t>(number - 3);
      if (i < f.size()) (void)absl::SimpleAtod(f[i], &v);
      return v;
    };
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    double boot_time = 0;
    for (absl::string_view line : absl::StrSplit(Slurp("/proc/stat"), '\n')) {
      if (absl::ConsumePrefix(&line, "btime ")) (void)absl::SimpleAtod(line, &boot_time);
    }
    int open_fds = 0;
    if (DIR* dir = opendir("/proc/self/fd")) {
      while (dirent* entry = readdir(dir)) {
        if (entry->d_name[0] != '.') ++open_fds;
      }
      closedir(dir);
      --open_fds;  // the directory listing's own descriptor
    }
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    using prometheus::MetricType;
    return {
        OneValue("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                 MetricType::Counter, (field(14) + field(15)) / ticks),
        OneValue("process_resident_memory_bytes", "Resident memory size in bytes.",
                 MetricType::Gauge, field(24) * page),
        OneValue("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                 MetricType::Gauge, field(23)),
        OneValue("process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
                 open_fds),
        OneValue("process_max_fds", "Maximum number of open file descriptors.",
                 MetricType::Gauge, static_cast<double>(limit.rlim_cur)),
        OneValue("process_start_time_seconds",
                 "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
                 boot_time + field(22) / ticks),
        OneValue("process_threads", "Number of OS threads in the process.", MetricType::Gauge,
                 field(20)),
    };
  }
};

}  // namespace

void Series::Add(double delta) {
  if (counter_ != nullptr) {
    counter_->Increment(delta);
  } else if (gauge_ != nullptr) {
    gauge_->Increment(delta);
  }
}

void Series::Set(double value) {
  if (gauge_ != nullptr) gauge_->Set(value);
}

void Series::Observe(double value) {
  if (histogram_ != nullptr) histogram_->Observe(value);
}

double Series::value() const {
  if (counter_ != nullptr) return counter_->Value();
  if (gauge_ != nullptr) return gauge_->Value();
  if (histogram_ != nullptr) return histogram_->Collect().histogram.sample_sum;
  return 0;
}

Family::Family(prometheus::Registry& registry, std::string name, std::string help, Type type,
               std::vector<std::string> labels, std::vector<double> bounds)
    : name_(std::move(name)),
      // The text format's HELP escapes: prometheus-cpp 1.0 writes HELP as given.
      help_(absl::StrReplaceAll(help, {{"\\", "\\\\"}, {"\n", "\\n"}})),
      type_(type),
      labels_(std::move(labels)),
      bounds_(std::move(bounds)) {
  switch (type_) {
    case Type::kCounter:
      counters_ = &prometheus::BuildCounter().Name(name_).Help(help_).Register(registry);
      break;
    case Type::kGauge:
      gauges_ = &prometheus::BuildGauge().Name(name_).Help(help_).Register(registry);
      break;
    case Type::kHistogram:
      histograms_ = &prometheus::BuildHistogram().Name(name_).Help(help_).Register(registry);
      break;
  }
}

Series& Family::With(const std::vector<std::string>& values) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Series>& series = series_[values];
  if (series != nullptr) return *series;
  series = std::make_unique<Series>();
  if (values.size() != labels_.size()) {
    switch (type_) {
      case Type::kCounter: {
        auto metric = std::make_shared<prometheus::Counter>();
        series->counter_ = metric.get();
        series->detached_ = std::move(metric);
        break;
      }
      case Type::kGauge: {
        auto metric = std::make_shared<prometheus::Gauge>();
        series->gauge_ = metric.get();
        series->detached_ = std::move(metric);
        break;
      }
      case Type::kHistogram: {
        auto metric = std::make_shared<prometheus::Histogram>(bounds_);
        series->histogram_ = metric.get();
        series->detached_ = std::move(metric);
        break;
      }
    }
    return *series;
  }
  prometheus::Labels labels;
  for (std::size_t i = 0; i < labels_.size(); ++i) labels.emplace(labels_[i], values[i]);
  switch (type_) {
    case Type::kCounter: series->counter_ = &counters_->Add(labels); break;
    case Type::kGauge: series->gauge_ = &gauges_->Add(labels); break;
    case Type::kHistogram: series->histogram_ = &histograms_->Add(labels, bounds_); break;
  }
  return *series;
}

void Family::CollectInto(std::vector<prometheus::MetricFamily>& out) const {
  std::vector<prometheus::MetricFamily> collected =
      counters_ != nullptr   ? counters_->Collect()
      : gauges_ != nullptr   ? gauges_->Collect()
                             : histograms_->Collect();
  if (collected.empty()) {  // no series yet: HELP and TYPE all the same
    out.push_back(prometheus::MetricFamily{name_, help_, ToPrometheus(type_), {}});
    return;
  }
  auto rank = [this](const prometheus::ClientMetric::Label& label) {
    return std::find(labels_.begin(), labels_.end(), label.name) - labels_.begin();
  };
  for (prometheus::MetricFamily& family : collected) {
    for (prometheus::ClientMetric& metric : family.metric) {
      std::stable_sort(metric.label.begin(), metric.label.end(),
                       [&rank](const auto& a, const auto& b) { return rank(a) < rank(b); });
    }
    out.push_back(std::move(family));
  }
}

Registry::Registry() : registry_(std::make_unique<prometheus::Registry>()) {}
Registry::~Registry() = default;

Family& Registry::Add(std::string name, std::string help, Type type,
                      std::vector<std::string> labels, std::vector<double> bounds) {
  absl::MutexLock lock(&mu_);
  for (const auto& family : families_) {
    if (family->name_ == name && family->type_ == type) return *family;
  }
  families_.push_back(std::unique_ptr<Family>(new Family(
      *registry_, std::move(name), std::move(help), type, std::move(labels), std::move(bounds))));
  return *families_.back();
}

void Registry::AddCollectable(std::shared_ptr<prometheus::Collectable> collectable) {
  absl::MutexLock lock(&mu_);
  collectables_.push_back(std::move(collectable));
}

std::vector<prometheus::MetricFamily> Registry::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  absl::MutexLock lock(&mu_);
  for (const auto& family : families_) family->CollectInto(out);
  for (const auto& collectable : collectables_) {
    for (prometheus::MetricFamily& family : collectable->Collect()) out.push_back(std::move(family));
  }
  return out;
}

std::string Registry::Render() const { return prometheus::TextSerializer().Serialize(Collect()); }

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

std::shared_ptr<prometheus::Collectable> ProcessMetrics() {
  return std::make_shared<ProcessCollectable>();
}

}  // namespace dcr::metrics
