// Registered clients, in memory and optionally persisted to a file.
#ifndef DCR_TESTS_EMULATOR_CLIENT_STORE_H_
#define DCR_TESTS_EMULATOR_CLIENT_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace dcr::emulator {

struct StoredClient {
  std::string service_id;
  int64_t client_id = 0;
  std::string client_secret;                   // empty when none was issued
  std::string registration_access_token_hash;  // hex SHA-256; the token itself is never kept
  nlohmann::json metadata = nlohmann::json::object();  // validated metadata, defaults filled in
  int64_t created_at_ms = 0;
  int64_t modified_at_ms = 0;
  // Authlete's clientLocked: a locked client refuses the RFC 7592 calls.
  bool locked = false;
  // Authlete's developer (README "Client management").
  std::string developer;
};

// One page of a service's clients, by client id.
struct ClientPage {
  std::vector<StoredClient> clients;
  int64_t total_count = 0;
};

// All methods are thread-safe. Access to an existing client always takes the
// SHA-256 of the presented registration access token and checks it, under the
// same lock as the operation, in constant time. Errors:
//   kUnauthenticated  unknown client, wrong service, token mismatch, or a
//                     locked client (one error for all, so callers cannot
//                     leak which);
//   kNotFound         no such client in the service (the management calls,
//                     which take no token);
//   kAlreadyExists    duplicate software_id when blocking is requested;
//   kInternal         the store file could not be written (memory unchanged);
//   anything a `mutate` callback returns.
class ClientStore {
 public:
  // `path` empty: memory only. Otherwise loads the file if it exists (a
  // missing or empty file is an empty store; anything unreadable is an error)
  // and rewrites it atomically after every change.
  static absl::StatusOr<std::unique_ptr<ClientStore>> Open(const std::string& path);

  // Stores `draft` under a fresh random 14-digit client id (draft.client_id is ignored).
  absl::StatusOr<StoredClient> Create(StoredClient draft, bool block_duplicate_software_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<StoredClient> Get(const std::string& service_id, int64_t client_id,
                                   const std::string& token_hash) const ABSL_LOCKS_EXCLUDED(mu_);
  // `mutate` edits a copy; it is committed only if mutate returns OK and
  // (with a file) the file was written.
  absl::StatusOr<StoredClient> Update(const std::string& service_id, int64_t client_id,
                                      const std::string& token_hash,
                                      const std::function<absl::Status(StoredClient&)>& mutate,
                                      bool block_duplicate_software_id) ABSL_LOCKS_EXCLUDED(mu_);
  // Returns the deleted client.
  absl::StatusOr<StoredClient> Delete(const std::string& service_id, int64_t client_id,
                                      const std::string& token_hash) ABSL_LOCKS_EXCLUDED(mu_);

  // The client management API (contract §9): the service credential is the
  // authority, so no token is checked, and a locked client is still found.
  // The clients of `service_id` (of `developer` unless empty) in client id
  // order, from index `start` (inclusive) to `end` (exclusive).
  ClientPage List(const std::string& service_id, const std::string& developer, int64_t start,
                  int64_t end) const ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<StoredClient> Find(const std::string& service_id, int64_t client_id) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // As Update, without the token.
  absl::StatusOr<StoredClient> Modify(const std::string& service_id, int64_t client_id,
                                      const std::function<absl::Status(StoredClient&)>& mutate)
      ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit ClientStore(std::string path) : path_(std::move(path)) {}
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LoadClients(const nlohmann::json& root,
                           const std::function<absl::Status(absl::string_view)>& corrupt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Persist() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<StoredClient*> Authenticate(const std::string& service_id, int64_t client_id,
                                             const std::string& token_hash) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool SoftwareIdTaken(const std::string& service_id, const std::string& software_id,
                       int64_t except_client_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  mutable absl::Mutex mu_;
  // mutable only so that Authenticate can hand out a pointer from const methods.
  mutable std::map<int64_t, StoredClient> clients_ ABSL_GUARDED_BY(mu_);
};

// Writes `contents` to `path` so that a crash leaves either the old or the new
// file: temp file in the same directory, fsync, rename, fsync the directory.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents);

}  // namespace dcr::emulator

#endif  // DCR_TESTS_EMULATOR_CLIENT_STORE_H_
