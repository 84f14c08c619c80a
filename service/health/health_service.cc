#include "service/health/health_service.h"

#include <utility>

#include "absl/types/optional.h"

namespace dcr::health {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream: sends the current status, then each change. At most one
// write is in flight; a newer status replaces one still waiting to be sent.
// gRPC operations are started outside the lock: a reaction may run inline.
class HealthService::Watcher final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  // A `fixed` watcher reports `initial` only (SERVICE_UNKNOWN); an `ending`
  // one ends after its first message (Watch during shutdown).
  Watcher(HealthService* owner, ServingStatus initial, bool fixed, bool ending)
      : owner_(owner), fixed_(fixed) {
    {
      absl::MutexLock lock(&mu_);
      finishing_ = ending;
      writing_ = true;
      response_.set_status(initial);
    }
    StartWrite(&response_);
  }

  // Called by the owner when the status changes.
  void Send(ServingStatus status) ABSL_LOCKS_EXCLUDED(mu_) {
    if (fixed_) return;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return;
      if (writing_) {
        pending_ = status;
        return;
      }
      writing_ = true;
      response_.set_status(status);
    }
    StartWrite(&response_);
  }

  // Ends the stream once the write in flight and the status waiting, if
  // any, are sent: the last status (NOT_SERVING at shutdown) must arrive.
  void End() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      finishing_ = true;
      if (writing_ || finished_) return;
      finished_ = true;
    }
    Finish(grpc::Status::OK);
  }

  void OnWriteDone(bool ok) override {
    bool write = false, finish = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (ok && pending_.has_value()) {
        response_.set_status(*pending_);
        pending_.reset();
        writing_ = write = true;
      } else if (!ok || finishing_) {
        finish = !finished_;
        finished_ = true;
      }
    }
    if (write) StartWrite(&response_);
    if (finish) Finish(grpc::Status::OK);
  }

  void OnCancel() override { End(); }

  void OnDone() override {
    owner_->Forget(this);
    delete this;
  }

 private:
  HealthService* const owner_;
  const bool fixed_;
  absl::Mutex mu_;
  // Written only while no write is in flight.
  HealthCheckResponse response_;
  absl::optional<ServingStatus> pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

HealthService::HealthService(std::vector<std::string> services)
    : services_(services.begin(), services.end()), status_(HealthCheckResponse::SERVING) {}

void HealthService::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  status_ = serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  for (Watcher* watcher : watchers_) watcher->Send(status_);
}

bool HealthService::serving() const {
  absl::MutexLock lock(&mu_);
  return status_ == HealthCheckResponse::SERVING;
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  status_ = HealthCheckResponse::NOT_SERVING;
  for (Watcher* watcher : watchers_) {
    watcher->Send(status_);
    watcher->End();
  }
}

void HealthService::Forget(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context,
                                               const HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!request->service().empty() && !services_.contains(request->service())) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
    return reactor;
  }
  {
    absl::MutexLock lock(&mu_);
    response->set_status(status_);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* context, const HealthCheckRequest* request) {
  const bool known = request->service().empty() || services_.contains(request->service());
  absl::MutexLock lock(&mu_);
  // Registered either way, so that Shutdown() ends every stream.
  auto* watcher =
      new Watcher(this, known ? status_ : HealthCheckResponse::SERVICE_UNKNOWN,
                  /*fixed=*/!known, /*ending=*/shut_down_);
  watchers_.insert(watcher);
  return watcher;
}

}  // namespace dcr::health
