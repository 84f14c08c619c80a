// service/callers: redirect URI patterns, the callers file, authentication,
// policy checks and rate limits (fake clock; no network).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "service/callers/caller_guard.h"
#include "service/callers/caller_policy.h"
#include "service/callers/redirect_uri_pattern.h"
#include "service/state/in_process_state_store.h"

namespace dcr::callers {
namespace {

using api::Operation;
using core::DcrCall;

// A guard's verdict, as the tests read it.
struct Verdict {
  core::Refusal error;
  bool ok() const { return !error.has_value(); }
  absl::StatusCode code() const { return error ? error->code() : absl::StatusCode::kOk; }
};
Verdict V(core::Refusal refusal) { return Verdict{std::move(refusal)}; }

// --- Redirect URI patterns ----------------------------------------------------

bool Matches(absl::string_view pattern, absl::string_view uri) {
  absl::StatusOr<RedirectUriPattern> p = RedirectUriPattern::Parse(pattern);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() && p->Matches(uri);
}

TEST(RedirectUriPatternTest, ExactWithoutWildcard) {
  EXPECT_TRUE(Matches("https://app.example.com/cb", "https://app.example.com/cb"));
  EXPECT_FALSE(Matches("https://app.example.com/cb", "https://app.example.com/cb/"));
  EXPECT_TRUE(Matches("com.example.app:/oauth", "com.example.app:/oauth"));
}

TEST(RedirectUriPatternTest, SubdomainWildcard) {
  const char* p = "https://*.portal.example.com/cb";
  EXPECT_TRUE(Matches(p, "https://a.portal.example.com/cb"));
  EXPECT_TRUE(Matches(p, "https://a.b.portal.example.com/cb"));
  EXPECT_TRUE(Matches(p, "https://A.Portal.Example.com/cb"));  // hosts are case-insensitive
  EXPECT_FALSE(Matches(p, "https://portal.example.com/cb"));
  EXPECT_FALSE(Matches(p, "https://evilportal.example.com/cb"));
  EXPECT_FALSE(Matches(p, "http://a.portal.example.com/cb"));
  EXPECT_FALSE(Matches(p, "https://a.portal.example.com:8443/cb"));
  EXPECT_FALSE(Matches(p, "https://a.portal.example.com/cb/more"));
  EXPECT_FALSE(Matches(p, "https://a.portal.example.com/cb?x=1"));
}

TEST(RedirectUriPatternTest, ParserConfusionNeverMatches) {
  const char* p = "https://*.example.com/cb";
  EXPECT_FALSE(Matches(p, "https://evil.com\\@a.example.com/cb"));
  EXPECT_FALSE(Matches(p, "https://evil.com@a.example.com/cb"));
  EXPECT_FALSE(Matches(p, "https://a.example.com/cb#frag"));
  EXPECT_FALSE(Matches(p, "https://evil.com?.example.com/cb"));
  EXPECT_FALSE(Matches(p, "https://evil.com/.example.com/cb"));
  EXPECT_FALSE(Matches(p, "https://a..example.com/cb"));
  EXPECT_FALSE(Matches(p, "https://a.example.com%2eevil.com/cb"));
}

TEST(RedirectUriPatternTest, PathWildcardCoversWholeSegmentsOnly) {
  const char* p = "https://app.example.com/cb/*";
  EXPECT_TRUE(Matches(p, "https://app.example.com/cb/"));
  EXPECT_TRUE(Matches(p, "https://app.example.com/cb/tenant/42"));
  EXPECT_FALSE(Matches(p, "https://app.example.com/cbx"));
  EXPECT_FALSE(Matches(p, "https://app.example.com/cb/../admin"));
  EXPECT_FALSE(Matches(p, "https://app.example.com/cb/%2e%2e/admin"));
  EXPECT_FALSE(Matches(p, "https://app.example.com/cb/./x"));
}

TEST(RedirectUriPatternTest, BadPatternsAreRefused) {
  for (const char* bad : {"", "https://*/cb", "https://*.com/cb", "https://a*.example.com/cb",
                          "https://app.example.com/c*b", "https://app.example.com/cb*",
                          "https://user@*.example.com/cb", "*", "https://*.example.com/cb?x=*"}) {
    EXPECT_FALSE(RedirectUriPattern::Parse(bad).ok()) << bad;
  }
}

// --- The callers file ---------------------------------------------------------------

std::string File() {
  return R"({"callers": [
    {"name": "portal", "api_key_sha256": [")" + HashApiKeyHex("portal-key-1") + R"(",
                                           ")" + HashApiKeyHex("portal-key-2") + R"("],
     "rpcs": ["RegisterClient", "GetClient"], "service_ids": ["111"],
     "redirect_uri_patterns": ["https://*.portal.example.com/cb"],
     "grant_types": ["authorization_code", "refresh_token"],
     "rate_limit": {"requests_per_second": 1, "burst": 2}, "max_in_flight": 40},
    {"name": "ops", "certificate_identities": ["spiffe://corp/ops"],
     "rpcs": ["*"], "service_ids": ["*"], "redirect_uri_patterns": ["*"], "grant_types": ["*"]}
  ]})";
}

TEST(CallersFileTest, ParsesAValidFile) {
  auto callers = ParseCallersFile(File());
  ASSERT_TRUE(callers.ok()) << callers.status();
  ASSERT_EQ(callers->size(), 2u);
  EXPECT_EQ((*callers)[0].api_key_sha256.size(), 2u);
  EXPECT_TRUE((*callers)[0].MayCall(Operation::kGet));
  EXPECT_FALSE((*callers)[0].MayCall(Operation::kDelete));
  EXPECT_TRUE((*callers)[1].MayCall(Operation::kDelete));
  EXPECT_EQ((*callers)[0].rate_limit->burst, 2);
  EXPECT_EQ((*callers)[0].max_in_flight, 40);
  EXPECT_EQ((*callers)[1].max_in_flight, 0);  // only its share of the budget
}

TEST(CallersFileTest, AdministrativeRpcsMustBeNamed) {
  auto callers = ParseCallersFile(R"({"callers": [
    {"name": "ops", "certificate_identities": ["spiffe://corp/ops"], "rpcs": ["*"]},
    {"name": "admin", "certificate_identities": ["spiffe://corp/admin"],
     "rpcs": ["ListClients", "RotateClientSecret"]}]})");
  ASSERT_TRUE(callers.ok()) << callers.status();
  for (Operation op : api::kOperations) {
    // "*" grants the RFC 7591/7592 RPCs only.
    EXPECT_EQ((*callers)[0].MayCall(op), !api::Traits(op).administrative) << api::Name(op);
  }
  EXPECT_TRUE((*callers)[1].MayCall(Operation::kListClients));
  EXPECT_TRUE((*callers)[1].MayCall(Operation::kRotateClientSecret));
  EXPECT_FALSE((*callers)[1].MayCall(Operation::kSetClientLocked));
  EXPECT_FALSE((*callers)[1].MayCall(Operation::kGetClientRecord));
  EXPECT_FALSE((*callers)[1].MayCall(Operation::kRegister));
}

TEST(CallersFileTest, RefusesMistakesInsteadOfWideningAccess) {
  const std::string key = HashApiKeyHex("k");
  const std::vector<std::string> bad = {
      "not json",
      R"({"callers": {}})",
      R"({"callers": [], "extra": 1})",
      R"({"callers": [{"name": "a", "api_key_sha256": [")" + key + R"("], "rpc": ["*"]}]})",
      R"({"callers": [{"name": "a", "rpcs": ["*"]}]})",  // no credential
      R"({"callers": [{"name": "a", "api_key_sha256": ["abc"]}]})",
      R"({"callers": [{"name": "a", "api_key_sha256": [")" + key + R"("], "rpcs": ["Register"]}]})",
      R"({"callers": [{"name": "a", "api_key_sha256": [")" + key +
          R"("], "service_ids": ["abc"]}]})",
      R"({"callers": [{"name": "a", "api_key_sha256": [")" + key +
          R"("], "grant_types": ["*", "implicit"]}]})",
      R"({"callers": [{"name": "a", "api_key_sha256": [")" + key +
          R"("], "redirect_uri_patterns": ["https://*/x"]}]})",
      R"({"callers": [{"name": "a", "api_key_sha256": [")" + key +
          R"("], "rate_limit": {"requests_per_second": 0}}]})",
      R"({"callers": [{"name": "a", "api_key_sha256": [")" + key + R"("], "max_in_flight": 0}]})",
      R"({"callers": [{"name": "a", "api_key_sha256": [")" + key + R"("], "max_in_flight": 2.5}]})",
      R"({"callers": [{"name": "a", "api_key_sha256": [")" + key + R"("], "max_in_flight": "9"}]})",
      R"({"callers": [{"name": "a", "api_key_sha256": [")" + key + R"("]},
                      {"name": "b", "api_key_sha256": [")" + key + R"("]}]})",
      R"({"callers": [{"name": "a", "certificate_identities": ["x"]},
                      {"name": "a", "certificate_identities": ["y"]}]})",
      R"({"callers": [{"name": "bad name", "certificate_identities": ["x"]}]})",
  };
  for (const std::string& text : bad) {
    EXPECT_FALSE(ParseCallersFile(text).ok()) << text;
  }
}

// --- The guard ----------------------------------------------------------------------

class CallerGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto callers = ParseCallersFile(File());
    ASSERT_TRUE(callers.ok()) << callers.status();
    guard_ = std::make_unique<CallerGuard>(*std::move(callers), [this] { return now_; });
  }

  Caller Authenticated(CallerCredentials credentials) {
    auto caller = guard_->Authenticate(credentials);
    EXPECT_TRUE(caller.ok()) << caller.status();
    return caller.ok() ? *caller : Caller{};
  }

  static v1::ErrorReason Reason(const Verdict& verdict) {
    return verdict.error ? verdict.error->reason() : v1::ERROR_REASON_UNSPECIFIED;
  }
  static v1::ErrorReason Reason(const core::ErrorOr<Caller>& caller) {
    return caller.ok() ? v1::ERROR_REASON_UNSPECIFIED : caller.error().reason();
  }

  static DcrCall Register(std::string json, std::string service = "111") {
    DcrCall call;
    call.operation = Operation::kRegister;
    call.service_id = std::move(service);
    call.json = std::move(json);
    return call;
  }

  absl::Time now_ = absl::FromUnixSeconds(1000);
  std::unique_ptr<CallerGuard> guard_;
};

TEST_F(CallerGuardTest, RecognisesApiKeysAndCertificates) {
  EXPECT_EQ(Authenticated({std::string("portal-key-2"), {}}).name, "portal");
  EXPECT_EQ(Authenticated({absl::nullopt, {"ops.example", "spiffe://corp/ops"}}).name, "ops");

  for (const CallerCredentials& refused :
       {CallerCredentials{}, CallerCredentials{std::string("portal-key-3"), {}},
        CallerCredentials{std::string(""), {}},
        CallerCredentials{absl::nullopt, {"spiffe://corp/unknown"}},
        // A key and a certificate of two different callers.
        CallerCredentials{std::string("portal-key-1"), {"spiffe://corp/ops"}}}) {
    auto caller = guard_->Authenticate(refused);
    ASSERT_FALSE(caller.ok());
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(Reason(caller), v1::ERROR_REASON_CALLER_UNAUTHENTICATED);
    // The message never repeats the presented key.
    EXPECT_THAT(std::string(caller.status().message()), ::testing::Not(::testing::HasSubstr("portal-key")));
  }
}

TEST_F(CallerGuardTest, WithoutACallersFileEveryoneIsLetIn) {
  CallerGuard open(absl::nullopt);
  auto caller = open.Authenticate({});
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(caller->name, "anonymous");
  EXPECT_TRUE(V(open.Admit(*caller, Operation::kDelete)).ok());
  EXPECT_TRUE(V(open.CheckCall(*caller, Register(R"({"redirect_uris":["http://x"]})", "9"))).ok());
}

TEST_F(CallerGuardTest, RpcAndServiceIdComeFromThePolicy) {
  const Caller portal = Authenticated({std::string("portal-key-1"), {}});
  EXPECT_EQ(Reason(V(guard_->Admit(portal, Operation::kDelete))),
            v1::ERROR_REASON_CALLER_NOT_PERMITTED);
  EXPECT_EQ(V(guard_->Admit(portal, Operation::kDelete)).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Reason(V(guard_->CheckCall(portal, Register("{}", "222")))),
            v1::ERROR_REASON_CALLER_NOT_PERMITTED);
}

TEST_F(CallerGuardTest, MetadataMustStayWithinThePolicy) {
  const Caller portal = Authenticated({std::string("portal-key-1"), {}});
  EXPECT_TRUE(V(guard_->CheckCall(portal, Register(
      R"({"redirect_uris":["https://a.portal.example.com/cb"],"grant_types":["refresh_token"]})")))
                  .ok());
  // Omitted grant_types means authorization_code (RFC 7591), which is allowed.
  EXPECT_TRUE(V(guard_->CheckCall(portal, Register(R"({"client_name":"x"})"))).ok());
  EXPECT_EQ(Reason(V(guard_->CheckCall(portal, Register(
                R"({"redirect_uris":["https://a.portal.example.com/cb","https://evil.example/cb"]})")))),
            v1::ERROR_REASON_CALLER_NOT_PERMITTED);
  EXPECT_EQ(Reason(V(guard_->CheckCall(portal, Register(R"({"grant_types":["client_credentials"]})")))),
            v1::ERROR_REASON_CALLER_NOT_PERMITTED);
  // A repeated member could be read differently by Authlete: refused.
  EXPECT_EQ(V(guard_->CheckCall(portal, Register(
                R"({"redirect_uris":["https://a.portal.example.com/cb"],"redirect_uris":["https://evil.example/cb"]})")))
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(V(guard_->CheckCall(portal, Register("[1]"))).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(V(guard_->CheckCall(portal, Register(R"({"redirect_uris":"https://a.portal.example.com/cb"})")))
                .code(),
            absl::StatusCode::kInvalidArgument);
  // Nested repeated names are Authlete's to judge, not a policy bypass.
  EXPECT_TRUE(V(guard_->CheckCall(portal, Register(R"({"jwks":{"a":1,"a":2}})"))).ok());
}

TEST_F(CallerGuardTest, RateLimitIsATokenBucketPerCaller) {
  const Caller portal = Authenticated({std::string("portal-key-1"), {}});
  const Caller ops = Authenticated({absl::nullopt, {"spiffe://corp/ops"}});
  EXPECT_TRUE(V(guard_->Admit(portal, Operation::kGet)).ok());
  EXPECT_TRUE(V(guard_->Admit(portal, Operation::kGet)).ok());  // burst 2
  Verdict limited = V(guard_->Admit(portal, Operation::kGet));
  EXPECT_EQ(limited.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Reason(limited), v1::ERROR_REASON_CALLER_RATE_LIMITED);
  EXPECT_EQ(limited.error->detail().retry_after().seconds(), 1);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(V(guard_->Admit(ops, Operation::kGet)).ok());  // no limit
  now_ += absl::Milliseconds(999);
  EXPECT_FALSE(V(guard_->Admit(portal, Operation::kGet)).ok());
  now_ += absl::Milliseconds(1);
  EXPECT_TRUE(V(guard_->Admit(portal, Operation::kGet)).ok());  // 1 per second
}

// The verdict of SharedRateLimit, which the stores used here answer inline.
Verdict Shared(CallerGuard& guard, const Caller& caller) {
  core::Refusal verdict = core::Error::InvalidRequest("no answer");
  guard.SharedRateLimit(caller, [&](core::Refusal refused) { verdict = std::move(refused); });
  return V(std::move(verdict));
}

// A store that is never reachable.
class DownStore : public state::StateStore {
 public:
  void Reserve(absl::string_view, absl::string_view, absl::Duration,
               state::ReserveCallback done) override {
    std::move(done)(absl::UnavailableError("down"));
  }
  void Complete(const state::Reservation&, absl::string_view, absl::Duration,
                state::DoneCallback done) override {
    std::move(done)(absl::UnavailableError("down"));
  }
  void MarkUnknown(const state::Reservation&, absl::Duration, state::DoneCallback done) override {
    std::move(done)(absl::UnavailableError("down"));
  }
  void Release(const state::Reservation&, state::DoneCallback done) override {
    std::move(done)(absl::UnavailableError("down"));
  }
  void Acquire(absl::string_view, double, double, absl::Time, state::RateCallback done) override {
    std::move(done)(absl::UnavailableError("down"));
  }
  state::StoreHealth Health() const override { return {"down", false}; }
};

TEST_F(CallerGuardTest, SharedRateLimitsAreTheStoresBucketPerCaller) {
  guard_->ShareRateLimits(std::make_shared<state::InProcessStateStore>());
  ASSERT_TRUE(guard_->shares_rate_limits());
  const Caller portal = Authenticated({std::string("portal-key-1"), {}});
  const Caller ops = Authenticated({absl::nullopt, {"spiffe://corp/ops"}});
  // Admit no longer spends the replica's own tokens.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(V(guard_->Admit(portal, Operation::kGet)).ok());
  EXPECT_TRUE(Shared(*guard_, portal).ok());
  EXPECT_TRUE(Shared(*guard_, portal).ok());  // burst 2
  Verdict limited = Shared(*guard_, portal);
  EXPECT_EQ(Reason(limited), v1::ERROR_REASON_CALLER_RATE_LIMITED);
  EXPECT_EQ(limited.error->detail().retry_after().seconds(), 1);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Shared(*guard_, ops).ok());  // no limit
  now_ += absl::Seconds(1);
  EXPECT_TRUE(Shared(*guard_, portal).ok());

  guard_->ShareRateLimits(std::make_shared<DownStore>());
  Verdict down = Shared(*guard_, portal);
  EXPECT_EQ(Reason(down), v1::ERROR_REASON_STATE_STORE_UNAVAILABLE);
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(Shared(*guard_, ops).ok());  // no limit: no store call
}

}  // namespace
}  // namespace dcr::callers
