// The client management API (contract §9) as the emulator serves it: v3 and
// v2 paths, the Client record, ordering and ranges of the list, secrets
// refreshed or set taking effect for RFC 7592, the lock flag, ResultError
// refusals, and persistence of what these calls change.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/emulator/client_store.h"
#include "tests/emulator/tests/test_util.h"
#include "tests/testing/temp_dir.h"

namespace dcr::emulator::testing {
namespace {

using ::testing::HasSubstr;

class ClientManagementApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto emulator = Emulator::Start(EmulatorOptions{});
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = *std::move(emulator);
  }
  const Emulator& e() const { return *emulator_; }

  std::string V3(const std::string& suffix) const {
    return absl::StrCat(e().base_url(), "/api/", kDefaultServiceId, suffix);
  }
  std::string V2(const std::string& suffix) const {
    return absl::StrCat(e().base_url(), "/api", suffix);
  }
  HttpResult Get(const std::string& url) const {
    return Request("GET", url, {Bearer(kDefaultServiceToken), "Accept: application/json"}, "");
  }
  HttpResult Post(const std::string& url, const json& body) const {
    return Request("POST", url,
                   {Bearer(kDefaultServiceToken), "Content-Type: application/json",
                    "Accept: application/json"},
                   body.dump());
  }
  DcrCall Register(const std::string& developer = "") const {
    json md = MinimalMetadata();
    if (!developer.empty()) md["developer"] = developer;
    DcrCall c = CallV3(e(), Operation::kRegister, RegisterParams(md));
    EXPECT_EQ(c.action(), "CREATED");
    return c;
  }

  std::unique_ptr<Emulator> emulator_;
};

TEST_F(ClientManagementApiTest, GetRecordIsAuthletesClientShape) {
  DcrCall reg = Register("dev-1");
  HttpResult r = Get(V3("/client/get/" + ClientIdOf(reg)));
  ASSERT_EQ(r.status, 200) << r.body;
  json c = r.Json();
  EXPECT_TRUE(c["clientId"].is_number_integer());
  EXPECT_EQ(std::to_string(c["clientId"].get<int64_t>()), ClientIdOf(reg));
  EXPECT_EQ(c["clientType"], "CONFIDENTIAL");
  EXPECT_EQ(c["grantTypes"], json::array({"AUTHORIZATION_CODE"}));
  EXPECT_EQ(c["responseTypes"], json::array({"CODE"}));
  EXPECT_EQ(c["dynamicallyRegistered"], true);
  EXPECT_EQ(c["clientLocked"], false);
  EXPECT_EQ(c["developer"], "dev-1");
  // Milliseconds: the RFC 7591 issued-at is seconds.
  EXPECT_EQ(c["createdAt"].get<int64_t>() / 1000, reg.content["client_id_issued_at"].get<int64_t>());
  EXPECT_EQ(c["clientSecret"], reg.content["client_secret"]);
  // v2: no service id in the path, Basic authentication.
  HttpResult v2 = Request("GET", V2("/client/get/" + ClientIdOf(reg)),
                          {Basic(kDefaultServiceId, kDefaultApiSecret)}, "");
  EXPECT_EQ(v2.status, 200) << v2.body;
  EXPECT_EQ(v2.Json()["clientId"], c["clientId"]);
}

TEST_F(ClientManagementApiTest, ListIsOrderedByIdWithinStartAndEnd) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(std::stoll(ClientIdOf(Register(i % 2 == 0 ? "even" : "odd"))));
  }
  std::sort(ids.begin(), ids.end());
  HttpResult all = Get(V3("/client/get/list?start=0&end=100"));
  ASSERT_EQ(all.status, 200) << all.body;
  json body = all.Json();
  EXPECT_EQ(body["totalCount"], 7);
  EXPECT_EQ(body["start"], 0);
  EXPECT_EQ(body["end"], 100);
  std::vector<int64_t> listed;
  for (const json& c : body["clients"]) listed.push_back(c["clientId"].get<int64_t>());
  EXPECT_EQ(listed, ids);

  json page = Get(V3("/client/get/list?start=2&end=5")).Json();
  ASSERT_EQ(page["clients"].size(), 3u);
  EXPECT_EQ(page["clients"][0]["clientId"], ids[2]);
  EXPECT_EQ(page["totalCount"], 7);
  json even = Get(V3("/client/get/list?developer=even&start=0&end=10")).Json();
  EXPECT_EQ(even["totalCount"], 4);
  for (const json& c : even["clients"]) EXPECT_EQ(c["developer"], "even");
  // Without end: Authlete's default page (5).
  EXPECT_EQ(Get(V3("/client/get/list")).Json()["clients"].size(), 5u);
  EXPECT_EQ(Request("GET", V2("/client/get/list?start=0&end=3"),
                    {Basic(kDefaultServiceId, kDefaultApiSecret)}, "")
                .Json()["clients"]
                .size(),
            3u);
  for (const char* bad : {"?start=-1&end=3", "?start=4&end=3", "?start=x", "?end=%zz"}) {
    HttpResult r = Get(V3(absl::StrCat("/client/get/list", bad)));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_TRUE(r.Json().contains("resultCode")) << r.body;
  }
}

TEST_F(ClientManagementApiTest, RefreshedAndSetSecretsTakeEffectForRfc7592) {
  DcrCall reg = Register();
  const std::string id = ClientIdOf(reg);
  const std::string old_secret = reg.content["client_secret"];
  HttpResult refreshed = Get(V3("/client/secret/refresh/" + id));
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  json r = refreshed.Json();
  EXPECT_EQ(r["oldClientSecret"], old_secret);
  const std::string new_secret = r["newClientSecret"];
  EXPECT_NE(new_secret, old_secret);
  EXPECT_EQ(new_secret.size(), old_secret.size());
  EXPECT_THAT(r["resultMessage"].get<std::string>(), HasSubstr(r["resultCode"].get<std::string>()));
  DcrCall got = CallV3(e(), Operation::kGet, ManageParams(reg));
  EXPECT_EQ(got.content["client_secret"], new_secret);

  HttpResult set = Post(V3("/client/secret/update/" + id), json{{"clientSecret", "chosen-1"}});
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.Json()["newClientSecret"], "chosen-1");
  EXPECT_EQ(set.Json()["oldClientSecret"], new_secret);
  EXPECT_EQ(CallV3(e(), Operation::kGet, ManageParams(reg)).content["client_secret"], "chosen-1");
  EXPECT_EQ(Post(V3("/client/secret/update/" + id), json::object()).status, 400);
  EXPECT_EQ(Post(V3("/client/secret/update/" + id), json{{"clientSecret", 7}}).status, 400);
  // The wrong method: 405 with Allow.
  HttpResult wrong = Post(V3("/client/secret/refresh/" + id), json::object());
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.Header("Allow"), "GET");
}

TEST_F(ClientManagementApiTest, ALockedClientRefusesRfc7592UntilUnlocked) {
  DcrCall reg = Register();
  const std::string id = ClientIdOf(reg);
  HttpResult locked = Post(V3("/client/lock_flag/update/" + id), json{{"clientLocked", true}});
  ASSERT_EQ(locked.status, 200) << locked.body;
  EXPECT_TRUE(locked.Json().contains("resultCode"));
  EXPECT_TRUE(locked.Json().contains("resultMessage"));
  EXPECT_EQ(Get(V3("/client/get/" + id)).Json()["clientLocked"], true);
  for (Operation op : {Operation::kGet, Operation::kDelete}) {
    DcrCall refused = CallV3(e(), op, ManageParams(reg));
    EXPECT_EQ(refused.action(), "UNAUTHORIZED");
    EXPECT_EQ(refused.error(), "invalid_token");
  }
  json update = ManageParams(reg);
  update["json"] = MinimalMetadata().dump();
  EXPECT_EQ(CallV3(e(), Operation::kUpdate, update).action(), "UNAUTHORIZED");
  // The management API still reaches it.
  EXPECT_EQ(Get(V3("/client/secret/refresh/" + id)).status, 200);
  EXPECT_EQ(Post(V3("/client/lock_flag/update/" + id), json{{"clientLocked", "no"}}).status, 400);
  ASSERT_EQ(Post(V3("/client/lock_flag/update/" + id), json{{"clientLocked", false}}).status, 200);
  EXPECT_EQ(CallV3(e(), Operation::kGet, ManageParams(reg)).action(), "OK");
}

TEST_F(ClientManagementApiTest, RefusalsAreResultErrors) {
  DcrCall reg = Register();
  const std::string id = ClientIdOf(reg);
  struct Case {
    HttpResult result;
    int status;
  } cases[] = {
      {Get(V3("/client/get/99999999999999")), 404},
      {Get(V3("/client/get/not-a-number")), 404},
      {Request("GET", V3("/client/get/" + id), {}, ""), 401},
      {Request("GET", V3("/client/get/" + id), {Bearer("wrong")}, ""), 401},
      {Request("GET", V2("/client/get/" + id), {Bearer(kDefaultServiceToken)}, ""), 401},
      {Get(absl::StrCat(e().base_url(), "/api/12345/client/get/", id)), 404},
      {Post(V3("/client/get/list"), json::object()), 405},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.result.status, c.status) << c.result.body;
    json body = c.result.Json();
    EXPECT_TRUE(body.contains("resultCode") && body.contains("resultMessage")) << c.result.body;
    EXPECT_FALSE(body.contains("action")) << c.result.body;
  }
  // Another service's client is not found through this one.
  EXPECT_EQ(Request("GET",
                    absl::StrCat(e().base_url(), "/api/", kDefaultServiceId, "/client/get/", id),
                    {Bearer(kDefaultServiceToken)}, "")
                .status,
            200);
  EXPECT_EQ(emulator_->stats().management_requests, 8);
}

TEST(ClientManagementStoreTest, LockAndDeveloperSurviveARestart) {
  dcr::testing::TempDir dir("emulator_management");
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.path() + "/store.json";
  auto store = ClientStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  StoredClient draft;
  draft.service_id = kDefaultServiceId;
  draft.registration_access_token_hash = std::string(64, 'a');
  draft.developer = "dev";
  absl::StatusOr<StoredClient> created = (*store)->Create(draft, false);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE((*store)
                  ->Modify(kDefaultServiceId, created->client_id,
                           [](StoredClient& c) {
                             c.locked = true;
                             return absl::OkStatus();
                           })
                  .ok());
  EXPECT_TRUE(absl::IsNotFound((*store)->Modify("1", created->client_id, [](StoredClient&) {
    return absl::OkStatus();
  }).status()));
  auto reopened = ClientStore::Open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  absl::StatusOr<StoredClient> found = (*reopened)->Find(kDefaultServiceId, created->client_id);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_TRUE(found->locked);
  EXPECT_EQ(found->developer, "dev");
  // Locked: the token no longer opens it.
  EXPECT_TRUE(absl::IsUnauthenticated(
      (*reopened)->Get(kDefaultServiceId, created->client_id, std::string(64, 'a')).status()));
  ClientPage page = (*reopened)->List(kDefaultServiceId, "dev", 0, 10);
  EXPECT_EQ(page.total_count, 1);
  EXPECT_EQ((*reopened)->List(kDefaultServiceId, "other", 0, 10).total_count, 0);
}

}  // namespace
}  // namespace dcr::emulator::testing
