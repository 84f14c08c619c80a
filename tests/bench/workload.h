// What the load generator sends: a mix of Register/Get/Update/Delete with
// realistic client metadata, and the clients those calls act on.
#ifndef DCR_TESTS_BENCH_WORKLOAD_H_
#define DCR_TESTS_BENCH_WORKLOAD_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include <random>

#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "proto/api/operation.h"
#include "service/authlete/authlete_options.h"

namespace dcr::bench {

using api::Operation;

// A registered client: what RFC 7592 calls need.
struct ClientRef {
  std::string client_id;
  std::string token;
};

// Relative weights of the four operations.
struct Mix {
  int register_weight = 20;
  int get_weight = 50;
  int update_weight = 20;
  int delete_weight = 10;
};

// "register:20,get:50,update:20,delete:10" (missing names weigh 0).
absl::StatusOr<Mix> ParseMix(absl::string_view text);

// RFC 7591 metadata documents from a few hundred bytes to a few KB: names,
// redirect URIs, contacts, policy URIs and, in the larger ones, a JWK Set.
std::vector<std::string> MetadataDocuments();

// One call to make.
struct CallSpec {
  Operation operation = Operation::kRegister;
  ClientRef client;       // Get/Update/Delete
  std::size_t document = 0;  // Register/Update: index into MetadataDocuments()
};

// Picks the next call and keeps the clients it needs. Get and Update act on a
// fixed pool registered before the run (never deleted, so they never race a
// Delete); Delete removes clients that Register created during the run, and
// falls back to Get while there are none.
class Workload {
 public:
  // `seed` 0: a different sequence each run; any other value: the same
  // sequence of calls every run (for counting instructions, which then
  // repeat exactly at one call in flight).
  Workload(Mix mix, std::vector<ClientRef> pool, std::size_t documents, uint64_t seed = 0);

  CallSpec Next() ABSL_LOCKS_EXCLUDED(mu_);
  // A Register succeeded: its client may be deleted later.
  void Registered(ClientRef client) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const Mix mix_;
  const std::vector<ClientRef> pool_;
  const std::size_t documents_;
  absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  std::deque<ClientRef> deletable_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dcr::bench

#endif  // DCR_TESTS_BENCH_WORKLOAD_H_
