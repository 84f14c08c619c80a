#include "tests/emulator/client_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tests/emulator/crypto_util.h"
#include "tests/emulator/json_util.h"

namespace dcr::emulator {

namespace {

using nlohmann::json;

constexpr char kFormat[] = "authlete-emulator-store";
constexpr int kVersion = 1;

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

json ClientToJson(const StoredClient& c) {
  return json{{"serviceId", c.service_id},
              {"clientId", c.client_id},
              {"clientSecret", c.client_secret},
              {"registrationAccessTokenHash", c.registration_access_token_hash},
              {"metadata", c.metadata},
              {"createdAt", c.created_at_ms},
              {"modifiedAt", c.modified_at_ms},
              {"locked", c.locked},
              {"developer", c.developer}};
}

absl::StatusOr<StoredClient> ClientFromJson(const json& j) {
  auto bad = [](const char* why) { return absl::DataLossError(why); };
  if (!j.is_object()) return bad("a client record is not an object");
  StoredClient c;
  auto str = [&](const char* name, std::string* out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) return false;
    *out = it->get<std::string>();
    return true;
  };
  auto num = [&](const char* name, int64_t* out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_number_integer()) return false;
    *out = it->get<int64_t>();
    return true;
  };
  if (!str("serviceId", &c.service_id) || !str("clientSecret", &c.client_secret) ||
      !str("registrationAccessTokenHash", &c.registration_access_token_hash) ||
      !num("clientId", &c.client_id) || !num("createdAt", &c.created_at_ms) ||
      !num("modifiedAt", &c.modified_at_ms)) {
    return bad("a client record misses a field or has a wrong type");
  }
  if (c.registration_access_token_hash.size() != 64) return bad("a token hash is not SHA-256 hex");
  // Optional: stores written before the management API lack them.
  if (auto it = j.find("locked"); it != j.end()) {
    if (!it->is_boolean()) return bad("a client's locked flag is not a boolean");
    c.locked = it->get<bool>();
  }
  if (auto it = j.find("developer"); it != j.end()) {
    if (!it->is_string()) return bad("a client's developer is not a string");
    c.developer = it->get<std::string>();
  }
  auto md = j.find("metadata");
  if (md == j.end() || !md->is_object()) return bad("a client record has no metadata object");
  c.metadata = *md;
  return c;
}

std::string SoftwareIdOf(const StoredClient& c) {
  auto it = c.metadata.find("software_id");
  if (it == c.metadata.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  std::string dir = ".";
  if (size_t slash = path.rfind('/'); slash != std::string::npos) {
    dir = slash == 0 ? "/" : path.substr(0, slash);
  }
  std::string tmp = path + ".tmp";
  // 0600: the file holds client secrets.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", tmp);
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status st = Errno("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status st = Errno("cannot fsync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  if (::close(fd) != 0) return Errno("cannot close", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status st = Errno("cannot rename onto", path);
    ::unlink(tmp.c_str());
    return st;
  }
  // The rename is durable only once the directory entry is.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Errno("cannot open directory", dir);
  int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return Errno("cannot fsync directory", dir);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ClientStore>> ClientStore::Open(const std::string& path) {
  std::unique_ptr<ClientStore> store(new ClientStore(path));
  if (!path.empty()) {
    absl::MutexLock lock(&store->mu_);
    if (absl::Status st = store->Load(); !st.ok()) return st;
  }
  return store;
}

absl::Status ClientStore::Load() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    struct stat st;
    if (::stat(path_.c_str(), &st) != 0 && errno == ENOENT) return absl::OkStatus();
    return Errno("cannot read store file", path_);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.empty()) return absl::OkStatus();  // e.g. a fresh `mktemp` file
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("store file ", path_, " is corrupt: ", why));
  };
  absl::StatusOr<json> root = ParseJson(text);
  if (!root.ok()) return corrupt(root.status().message());
  // json::value() throws on a type mismatch; this is start-up, not a crash site.
  try {
    return LoadClients(*root, corrupt);
  } catch (const json::exception& e) {
    clients_.clear();
    return corrupt(e.what());
  }
}

absl::Status ClientStore::LoadClients(
    const nlohmann::json& root_value,
    const std::function<absl::Status(absl::string_view)>& corrupt) {
  const json* root = &root_value;
  if (!root->is_object() || root->value("format", "") != kFormat) {
    return corrupt("not an authlete-emulator store");
  }
  if (root->value("version", 0) != kVersion) return corrupt("unsupported version");
  auto clients = root->find("clients");
  if (clients == root->end() || !clients->is_array()) return corrupt("no \"clients\" array");
  for (const json& j : *clients) {
    absl::StatusOr<StoredClient> c = ClientFromJson(j);
    if (!c.ok()) return corrupt(c.status().message());
    int64_t id = c->client_id;
    if (!clients_.emplace(id, *std::move(c)).second) return corrupt("duplicate client id");
  }
  return absl::OkStatus();
}

absl::Status ClientStore::Persist() const {
  if (path_.empty()) return absl::OkStatus();
  json clients = json::array();
  for (const auto& [id, c] : clients_) clients.push_back(ClientToJson(c));
  json root = {{"format", kFormat}, {"version", kVersion}, {"clients", std::move(clients)}};
  return WriteFileAtomically(path_, DumpJson(root) + "\n");
}

absl::StatusOr<StoredClient*> ClientStore::Authenticate(const std::string& service_id,
                                                        int64_t client_id,
                                                        const std::string& token_hash) const {
  auto it = clients_.find(client_id);
  // Compare against a dummy for unknown clients, so timing does not reveal
  // whether the id exists.
  static const std::string kDummy(64, '0');
  const std::string& expected =
      it == clients_.end() ? kDummy : it->second.registration_access_token_hash;
  bool token_ok = DigestEquals(expected, token_hash);
  if (it == clients_.end() || it->second.service_id != service_id || !token_ok ||
      it->second.locked) {
    return absl::UnauthenticatedError("invalid registration access token or unknown client");
  }
  return &it->second;
}

bool ClientStore::SoftwareIdTaken(const std::string& service_id, const std::string& software_id,
                                  int64_t except_client_id) const {
  if (software_id.empty()) return false;
  for (const auto& [id, c] : clients_) {
    if (id != except_client_id && c.service_id == service_id && SoftwareIdOf(c) == software_id) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<StoredClient> ClientStore::Create(StoredClient draft,
                                                 bool block_duplicate_software_id) {
  absl::MutexLock lock(&mu_);
  if (block_duplicate_software_id &&
      SoftwareIdTaken(draft.service_id, SoftwareIdOf(draft), /*except_client_id=*/0)) {
    return absl::AlreadyExistsError("software_id is already registered");
  }
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<int64_t> id = RandomClientId();
    if (!id.ok()) return id.status();
    if (clients_.count(*id)) {
      if (attempt > 100) return absl::InternalError("cannot find a free client id");
      continue;
    }
    draft.client_id = *id;
    break;
  }
  int64_t id = draft.client_id;
  clients_.emplace(id, draft);
  if (absl::Status st = Persist(); !st.ok()) {
    clients_.erase(id);
    return st;
  }
  return draft;
}

absl::StatusOr<StoredClient> ClientStore::Get(const std::string& service_id, int64_t client_id,
                                              const std::string& token_hash) const {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<StoredClient*> c = Authenticate(service_id, client_id, token_hash);
  if (!c.ok()) return c.status();
  return **c;
}

absl::StatusOr<StoredClient> ClientStore::Update(
    const std::string& service_id, int64_t client_id, const std::string& token_hash,
    const std::function<absl::Status(StoredClient&)>& mutate, bool block_duplicate_software_id) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<StoredClient*> c = Authenticate(service_id, client_id, token_hash);
  if (!c.ok()) return c.status();
  StoredClient updated = **c;
  if (absl::Status st = mutate(updated); !st.ok()) return st;
  updated.client_id = client_id;  // identity is not the mutator's to change
  updated.service_id = service_id;
  if (block_duplicate_software_id &&
      SoftwareIdTaken(service_id, SoftwareIdOf(updated), client_id)) {
    return absl::AlreadyExistsError("software_id is already registered");
  }
  StoredClient old = std::move(**c);
  **c = updated;
  if (absl::Status st = Persist(); !st.ok()) {
    **c = std::move(old);
    return st;
  }
  return updated;
}

absl::StatusOr<StoredClient> ClientStore::Delete(const std::string& service_id,
                                                 int64_t client_id,
                                                 const std::string& token_hash) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<StoredClient*> c = Authenticate(service_id, client_id, token_hash);
  if (!c.ok()) return c.status();
  StoredClient removed = std::move(**c);
  clients_.erase(client_id);
  if (absl::Status st = Persist(); !st.ok()) {
    clients_.emplace(client_id, std::move(removed));
    return st;
  }
  return removed;
}

ClientPage ClientStore::List(const std::string& service_id, const std::string& developer,
                             int64_t start, int64_t end) const {
  absl::MutexLock lock(&mu_);
  ClientPage page;
  // clients_ is ordered by client id: the order is stable between pages.
  for (const auto& [id, c] : clients_) {
    if (c.service_id != service_id || (!developer.empty() && c.developer != developer)) continue;
    if (page.total_count >= start && page.total_count < end) page.clients.push_back(c);
    ++page.total_count;
  }
  return page;
}

absl::StatusOr<StoredClient> ClientStore::Find(const std::string& service_id,
                                               int64_t client_id) const {
  absl::MutexLock lock(&mu_);
  auto it = clients_.find(client_id);
  if (it == clients_.end() || it->second.service_id != service_id) {
    return absl::NotFoundError("no such client");
  }
  return it->second;
}

absl::StatusOr<StoredClient> ClientStore::Modify(
    const std::string& service_id, int64_t client_id,
    const std::function<absl::Status(StoredClient&)>& mutate) {
  absl::MutexLock lock(&mu_);
  auto it = clients_.find(client_id);
  if (it == clients_.end() || it->second.service_id != service_id) {
    return absl::NotFoundError("no such client");
  }
  StoredClient updated = it->second;
  if (absl::Status st = mutate(updated); !st.ok()) return st;
  updated.client_id = client_id;
  updated.service_id = service_id;
  StoredClient old = std::move(it->second);
  it->second = updated;
  if (absl::Status st = Persist(); !st.ok()) {
    it->second = std::move(old);
    return st;
  }
  return updated;
}

size_t ClientStore::size() const {
  absl::MutexLock lock(&mu_);
  return clients_.size();
}

}  // namespace dcr::emulator
