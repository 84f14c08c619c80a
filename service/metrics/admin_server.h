// The admin HTTP port: GET /metrics (Prometheus text format) and
// GET /healthz, /readyz, apart from the gRPC port so that scrapes never
// compete with callers and network policy can open it to monitoring only.
//
// Boost.Beast/Asio on one thread of its own, enough for scrapers and probes.
// Requests are untrusted: the head at most 8 KB, 2 s for it to arrive, at most
// 16 connections at a time (more wait in the listen queue), anything but the
// three GETs gets 404/405/400, and the connection is closed after every answer.
#ifndef DCR_SERVICE_METRICS_ADMIN_SERVER_H_
#define DCR_SERVICE_METRICS_ADMIN_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace dcr::metrics {

class AdminServer {
 public:
  // Listens on `address` ("host:port", port 0 picks one) and serves
  // `render_metrics()` at /metrics, "ok" at /healthz (liveness), and at
  // /readyz 200 while `ready()` else 503 (readiness: a draining gateway is
  // not ready). Plain HTTP, for probes that cannot speak TLS or gRPC.
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(
      const std::string& address, std::function<std::string()> render_metrics,
      std::function<bool()> ready = [] { return true; });
  ~AdminServer();  // Stops serving.
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  int port() const { return port_; }

  struct Impl;

 private:
  AdminServer(std::unique_ptr<Impl> impl, int port);

  std::unique_ptr<Impl> impl_;
  const int port_;
};

}  // namespace dcr::metrics

#endif  // DCR_SERVICE_METRICS_ADMIN_SERVER_H_
