// grpc.health.v1.Health, implemented here so that server reflection can
// describe it (see proto/grpc/health/v1/health.proto). Reports one status for
// the server ("") and each named service; drain turns it NOT_SERVING.
#ifndef DCR_SERVICE_HEALTH_HEALTH_SERVICE_H_
#define DCR_SERVICE_HEALTH_HEALTH_SERVICE_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace dcr::health {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // `services` are the names Check knows besides "" (the whole server).
  explicit HealthService(std::vector<std::string> services);

  // Sets the status of every service and tells every watcher.
  void SetServing(bool serving) ABSL_LOCKS_EXCLUDED(mu_);
  bool serving() const ABSL_LOCKS_EXCLUDED(mu_);

  // NOT_SERVING, then ends every Watch stream so that server shutdown does
  // not wait on them. Later Watch calls get NOT_SERVING and end at once.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class Watcher;
  friend class Watcher;

  void Forget(Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);

  const absl::flat_hash_set<std::string> services_;
  mutable absl::Mutex mu_;
  ServingStatus status_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dcr::health

#endif  // DCR_SERVICE_HEALTH_HEALTH_SERVICE_H_
