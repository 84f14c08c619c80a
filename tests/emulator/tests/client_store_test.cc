// ClientStore: authentication, persistence, atomic writes, corrupt files; and
// an emulator restart that keeps its clients.
#include "tests/emulator/client_store.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/emulator/crypto_util.h"
#include "tests/emulator/tests/test_util.h"
#include "tests/testing/temp_dir.h"

namespace dcr::emulator {
namespace {

using ::dcr::testing::TempDir;  // a test's directory, removed when the test ends
using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path) << contents;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  return names;
}

StoredClient Draft(const std::string& token, const std::string& software_id = "") {
  StoredClient c;
  c.service_id = "1";
  c.client_secret = "secret";
  c.registration_access_token_hash = Sha256Hex(token);
  c.metadata = {{"client_name", "x"}};
  if (!software_id.empty()) c.metadata["software_id"] = software_id;
  c.created_at_ms = c.modified_at_ms = 1000;
  return c;
}

TEST(ClientStoreTest, AuthenticatesWithTheTokenHash) {
  auto store = ClientStore::Open("");
  ASSERT_TRUE(store.ok());
  auto c = (*store)->Create(Draft("tok"), false);
  ASSERT_TRUE(c.ok());
  EXPECT_GE(c->client_id, 10000000000000);
  EXPECT_LT(c->client_id, 100000000000000);
  EXPECT_TRUE((*store)->Get("1", c->client_id, Sha256Hex("tok")).ok());
  EXPECT_TRUE(absl::IsUnauthenticated((*store)->Get("1", c->client_id, Sha256Hex("bad")).status()));
  EXPECT_TRUE(absl::IsUnauthenticated((*store)->Get("2", c->client_id, Sha256Hex("tok")).status()));
  EXPECT_TRUE(absl::IsUnauthenticated((*store)->Get("1", 42, Sha256Hex("tok")).status()));
  // A failing mutation changes nothing.
  auto up = (*store)->Update("1", c->client_id, Sha256Hex("tok"),
                             [](StoredClient& s) {
                               s.metadata["client_name"] = "changed";
                               return absl::InvalidArgumentError("no");
                             },
                             false);
  EXPECT_TRUE(absl::IsInvalidArgument(up.status()));
  EXPECT_EQ((*store)->Get("1", c->client_id, Sha256Hex("tok"))->metadata["client_name"], "x");
  EXPECT_TRUE((*store)->Delete("1", c->client_id, Sha256Hex("tok")).ok());
  EXPECT_TRUE(absl::IsUnauthenticated((*store)->Delete("1", c->client_id, Sha256Hex("tok")).status()));
  EXPECT_EQ((*store)->size(), 0u);
}

TEST(ClientStoreTest, DuplicateSoftwareId) {
  auto store = ClientStore::Open("");
  ASSERT_TRUE((*store)->Create(Draft("a", "sw"), true).ok());
  EXPECT_TRUE(absl::IsAlreadyExists((*store)->Create(Draft("b", "sw"), true).status()));
  EXPECT_TRUE((*store)->Create(Draft("c", "sw"), false).ok());
  EXPECT_TRUE((*store)->Create(Draft("d", "other"), true).ok());
}

TEST(ClientStoreTest, PersistsAndReloads) {
  const TempDir temp("emulator_store");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  std::string path = dir + "/clients.json";
  int64_t id;
  {
    auto store = ClientStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_TRUE(ListDir(dir).empty()) << "nothing written before the first change";
    auto c = (*store)->Create(Draft("the-token"), false);
    ASSERT_TRUE(c.ok());
    id = c->client_id;
    ASSERT_TRUE((*store)->Create(Draft("other"), false).ok());
  }
  EXPECT_THAT(ListDir(dir), ::testing::ElementsAre("clients.json")) << "no temp file left";
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the file holds client secrets";
  std::string text = ReadFile(path);
  EXPECT_THAT(text, HasSubstr(Sha256Hex("the-token")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("the-token\"")));

  auto reloaded = ClientStore::Open(path);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ((*reloaded)->size(), 2u);
  auto c = (*reloaded)->Get("1", id, Sha256Hex("the-token"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->client_secret, "secret");
  EXPECT_EQ(c->metadata["client_name"], "x");
  EXPECT_EQ(c->created_at_ms, 1000);
}

TEST(ClientStoreTest, MissingOrEmptyFileIsAnEmptyStore) {
  const TempDir temp("emulator_store");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  EXPECT_TRUE(ClientStore::Open(dir + "/absent.json").ok());
  WriteFile(dir + "/empty.json", "");
  auto s = ClientStore::Open(dir + "/empty.json");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->size(), 0u);
}

TEST(ClientStoreTest, CorruptFileIsAClearError) {
  const TempDir temp("emulator_store");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  const char* bad[] = {
      "{not json",
      "[]",
      R"({"format":"something-else","version":1,"clients":[]})",
      R"({"format":"authlete-emulator-store","version":99,"clients":[]})",
      R"({"format":"authlete-emulator-store","version":1})",
      R"({"format":"authlete-emulator-store","version":1,"clients":[{"clientId":"x"}]})",
      R"({"format":"authlete-emulator-store","version":1,"clients":[5]})",
      R"({"format":5,"version":1,"clients":[]})",
      R"({"format":"authlete-emulator-store","version":"1","clients":[]})",
  };
  for (const char* contents : bad) {
    std::string path = dir + "/bad.json";
    WriteFile(path, contents);
    auto s = ClientStore::Open(path);
    ASSERT_FALSE(s.ok()) << contents;
    EXPECT_TRUE(absl::IsDataLoss(s.status())) << s.status();
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("is corrupt"));
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(path));
  }
}

TEST(ClientStoreTest, UnwritableFileFailsTheChangeAndKeepsMemoryConsistent) {
  // Removing the directory works even as root, unlike a chmod.
  const TempDir temp("emulator_store");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  std::string path = dir + "/clients.json";
  auto store = ClientStore::Open(path);
  ASSERT_TRUE(store.ok());
  ASSERT_EQ(rmdir(dir.c_str()), 0);  // TempDir then finds nothing to remove
  auto c = (*store)->Create(Draft("t"), false);
  EXPECT_TRUE(absl::IsInternal(c.status())) << c.status();
  EXPECT_EQ((*store)->size(), 0u) << "memory rolled back";
}

TEST(ClientStoreTest, WriteFileAtomicallyReplaces) {
  const TempDir temp("emulator_store");
  ASSERT_FALSE(temp.path().empty());
  const std::string& dir = temp.path();
  std::string path = dir + "/f";
  ASSERT_TRUE(WriteFileAtomically(path, "one").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "two").ok());
  EXPECT_EQ(ReadFile(path), "two");
  EXPECT_FALSE(WriteFileAtomically(dir + "/no/such/dir/f", "x").ok());
}

// The emulator keeps every client across a restart with the same store file.
TEST(EmulatorPersistenceTest, RestartKeepsClients) {
  using namespace ::dcr::emulator::testing;  // NOLINT
  // Declared before the emulators, so removed after they stop.
  const TempDir temp("emulator_store");
  ASSERT_FALSE(temp.path().empty());
  std::string path = temp.path() + "/store.json";
  EmulatorOptions options;
  options.store_file = path;
  DcrCall reg, deleted;
  {
    auto e = Emulator::Start(options);
    ASSERT_TRUE(e.ok()) << e.status();
    reg = CallV3(**e, Operation::kRegister, RegisterParams(MinimalMetadata()));
    ASSERT_EQ(reg.action(), "CREATED");
    deleted = CallV3(**e, Operation::kRegister, RegisterParams(MinimalMetadata()));
    ASSERT_EQ(CallV3(**e, Operation::kDelete, ManageParams(deleted)).action(), "DELETED");
    (*e)->Shutdown();
  }
  std::string text = ReadFile(path);
  EXPECT_THAT(text, ::testing::Not(HasSubstr(TokenOf(reg)))) << "token stored in clear";
  EXPECT_THAT(text, HasSubstr(reg.content["client_secret"].get<std::string>()));
  {
    auto e = Emulator::Start(options);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ((*e)->stats().clients_stored, 1);
    DcrCall got = CallV3(**e, Operation::kGet, ManageParams(reg));
    ASSERT_EQ(got.action(), "OK") << got.http.body;
    EXPECT_EQ(got.content, reg.content);
    EXPECT_EQ(got.body["client"], reg.body["client"]);
    EXPECT_EQ(CallV3(**e, Operation::kGet, ManageParams(deleted)).action(), "UNAUTHORIZED");
    json params = ManageParams(reg);
    params["json"] = json{{"redirect_uris", {"https://c.example/new"}}}.dump();
    ASSERT_EQ(CallV3(**e, Operation::kUpdate, params).action(), "UPDATED");
  }
  auto e = Emulator::Start(options);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(CallV3(**e, Operation::kGet, ManageParams(reg)).content["redirect_uris"],
            json({"https://c.example/new"}));
}

TEST(EmulatorPersistenceTest, CorruptStoreFailsStart) {
  const TempDir temp("emulator_store");
  ASSERT_FALSE(temp.path().empty());
  std::string path = temp.path() + "/store.json";
  WriteFile(path, "{\"format\": \"authlete-emulator-store\", \"version\": 1, \"clients\": [");
  EmulatorOptions options;
  options.store_file = path;
  auto e = Emulator::Start(options);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()), HasSubstr("is corrupt"));
}

}  // namespace
}  // namespace dcr::emulator
