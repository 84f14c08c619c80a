// gRPC server reflection (grpc.reflection.v1 and v1alpha), implemented here
// rather than through libgrpc++_reflection, which answers from the generated
// descriptors: protoc leaves their comments out, so `grpcurl describe` would
// show no documentation. This one answers from the embedded descriptor set
// (descriptor_set_bytes.h), which keeps them.
//
// Each stream answers its requests in order, one write in flight at a time;
// a stream stops reading while a few answers wait to be written, so a client
// that never reads cannot make the server queue without bound.
#ifndef DCR_SERVICE_REFLECTION_REFLECTION_SERVICE_H_
#define DCR_SERVICE_REFLECTION_REFLECTION_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace dcr::reflection {

// The descriptors reflection answers from; immutable once built, shared by
// every stream. Defined in the .cc.
class ReflectionIndex;

// A stream's hold on the service, so that Shutdown() can end it. Defined in
// the .cc.
class ReflectionStream;

class ReflectionService {
 public:
  // `descriptor_set` is a serialized FileDescriptorSet holding every file and
  // import; `services` are the full names list_services reports, each of
  // which must be described by the set.
  static absl::StatusOr<std::unique_ptr<ReflectionService>> Create(
      absl::string_view descriptor_set, std::vector<std::string> services);

  ~ReflectionService();

  // The two services to register on the server builder.
  grpc::Service* v1();
  grpc::Service* v1alpha();

  // Ends every open stream once its queued answers are written (status
  // UNAVAILABLE), so that server shutdown does not wait on idle clients.
  // Later streams end at once.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class V1;
  class V1Alpha;
  template <typename Request, typename Response>
  friend class ReflectionReactor;

  explicit ReflectionService(std::shared_ptr<const ReflectionIndex> index);

  // Registers a new stream; false once shut down.
  bool Track(ReflectionStream* stream) ABSL_LOCKS_EXCLUDED(mu_);
  void Forget(ReflectionStream* stream) ABSL_LOCKS_EXCLUDED(mu_);

  const std::shared_ptr<const ReflectionIndex> index_;
  std::unique_ptr<V1> v1_;
  std::unique_ptr<V1Alpha> v1alpha_;
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<ReflectionStream*> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dcr::reflection

#endif  // DCR_SERVICE_REFLECTION_REFLECTION_SERVICE_H_
