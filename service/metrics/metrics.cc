#include "service/metrics/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dcr::metrics {
namespace {

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return absl::StrCat(v);
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

const char* TypeName(Type type) {
  switch (type) {
    case Type::kCounter: return "counter";
    case Type::kGauge: return "gauge";
    case Type::kHistogram: return "histogram";
  }
  return "untyped";
}

// {a="x",b="y"} plus an optional extra label (le for buckets).
std::string Labels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                   const std::string& extra_name = "", const std::string& extra_value = "") {
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < names.size(); ++i) {
    parts.push_back(absl::StrCat(names[i], "=\"", EscapeLabelValue(values[i]), "\""));
  }
  if (!extra_name.empty()) parts.push_back(absl::StrCat(extra_name, "=\"", extra_value, "\""));
  if (parts.empty()) return "";
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

std::string Slurp(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void AppendGauge(std::string& out, const char* name, const char* help, const char* type,
                 double value) {
  absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name,
                  " ", FormatValue(value), "\n");
}

}  // namespace

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Series::Series(const std::vector<double>* bounds) : bounds_(bounds) {
  if (bounds_ != nullptr) {
    buckets_.reset(new std::atomic<uint64_t>[bounds_->size() + 1]);
    for (std::size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0);
  }
}

void Series::AddTo(std::atomic<double>& target, double delta) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
  }
}

void Series::Add(double delta) { AddTo(value_, delta); }
void Series::Set(double value) { value_.store(value, std::memory_order_relaxed); }

void Series::Observe(double value) {
  if (bounds_ == nullptr) return;
  std::size_t i = 0;
  while (i < bounds_->size() && value > (*bounds_)[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AddTo(value_, value);
}

Family::Family(std::string name, std::string help, Type type, std::vector<std::string> labels,
               std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      labels_(std::move(labels)),
      bounds_(std::move(bounds)) {}

Series& Family::With(const std::vector<std::string>& values) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Series>& series = series_[values];
  if (series == nullptr) {
    series = std::make_unique<Series>(type_ == Type::kHistogram ? &bounds_ : nullptr);
  }
  return *series;
}

void Family::Render(std::string& out) const {
  absl::StrAppend(&out, "# HELP ", name_, " ", EscapeHelp(help_), "\n# TYPE ", name_, " ",
                  TypeName(type_), "\n");
  absl::MutexLock lock(&mu_);
  for (const auto& [values, series] : series_) {
    if (values.size() != labels_.size()) continue;  // a caller's mistake: never malformed output
    if (type_ != Type::kHistogram) {
      absl::StrAppend(&out, name_, Labels(labels_, values), " ", FormatValue(series->value()), "\n");
      continue;
    }
    uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += series->buckets_[i].load(std::memory_order_relaxed);
      const std::string le = i < bounds_.size() ? FormatValue(bounds_[i]) : "+Inf";
      absl::StrAppend(&out, name_, "_bucket", Labels(labels_, values, "le", le), " ", cumulative,
                      "\n");
    }
    absl::StrAppend(&out, name_, "_sum", Labels(labels_, values), " ",
                    FormatValue(series->value()), "\n", name_, "_count", Labels(labels_, values),
                    " ", cumulative, "\n");
  }
}

Family& Registry::Add(std::string name, std::string help, Type type,
                      std::vector<std::string> labels, std::vector<double> bounds) {
  absl::MutexLock lock(&mu_);
  families_.push_back(std::make_unique<Family>(std::move(name), std::move(help), type,
                                               std::move(labels), std::move(bounds)));
  return *families_.back();
}

void Registry::AddCollector(std::function<void(std::string&)> collect) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collect));
}

std::string Registry::Render() const {
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& family : families_) family->Render(out);
  for (const auto& collect : collectors_) collect(out);
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

void AppendProcessMetrics(std::string& out) {
  const std::string stat = Slurp("/proc/self/stat");
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return;
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
  AppendGauge(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
              "counter", (field(14) + field(15)) / ticks);
  AppendGauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
              field(24) * page);
  AppendGauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge",
              field(23));
  AppendGauge(out, "process_open_fds", "Number of open file descriptors.", "gauge", open_fds);
  AppendGauge(out, "process_max_fds", "Maximum number of open file descriptors.", "gauge",
              static_cast<double>(limit.rlim_cur));
  AppendGauge(out, "process_start_time_seconds",
              "Start time of the process since unix epoch in seconds.", "gauge",
              boot_time + field(22) / ticks);
  AppendGauge(out, "process_threads", "Number of OS threads in the process.", "gauge", field(20));
}

}  // namespace dcr::metrics
