// The admission budget (service/admission/): bounds in bytes and in calls,
// per caller and in all, reservations given back, and the defaults derived
// from a cgroup memory limit.
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "service/admission/in_flight_budget.h"
#include "service/admission/memory_limit.h"
#include "tests/testing/temp_dir.h"

namespace dcr::admission {
namespace {

using ::testing::HasSubstr;

BudgetOptions Options(int64_t bytes, int64_t calls, double share = 1.0) {
  BudgetOptions options;
  options.max_bytes = bytes;
  options.max_calls = calls;
  options.caller_share = share;
  return options;
}

TEST(InFlightBudgetTest, RefusesPastTheByteBoundAndGivesBackOnRelease) {
  InFlightBudget budget(Options(1000, 100), 1);
  core::ErrorOr<Reservation> a = budget.Reserve({0, 0}, 600);
  ASSERT_TRUE(a.ok());
  core::ErrorOr<Reservation> b = budget.Reserve({0, 0}, 500);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().reason(), v1::ERROR_REASON_GATEWAY_OVERLOADED);
  EXPECT_EQ(b.error().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(b.error().retry_after().has_value());
  EXPECT_EQ(budget.InUse().bytes, 600);
  EXPECT_EQ(budget.InUse().calls, 1);
  a->Release();
  EXPECT_EQ(budget.InUse().bytes, 0);
  EXPECT_TRUE(budget.Reserve({0, 0}, 1000).ok());  // released again at once
  EXPECT_EQ(budget.InUse().calls, 0);
}

TEST(InFlightBudgetTest, RefusesPastTheCallBound) {
  InFlightBudget budget(Options(1 << 30, 2), 1);
  core::ErrorOr<Reservation> a = budget.Reserve({0, 0}, 1);
  core::ErrorOr<Reservation> b = budget.Reserve({0, 0}, 1);
  ASSERT_TRUE(a.ok() && b.ok());
  core::ErrorOr<Reservation> c = budget.Reserve({0, 0}, 1);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().reason(), v1::ERROR_REASON_GATEWAY_OVERLOADED);
  EXPECT_THAT(c.error().message(), HasSubstr("2 calls"));
}

TEST(InFlightBudgetTest, AReservationMovesAndIsGivenBackOnce) {
  InFlightBudget budget(Options(1000, 10), 1);
  {
    core::ErrorOr<Reservation> a = budget.Reserve({0, 0}, 300);
    ASSERT_TRUE(a.ok());
    Reservation moved = *std::move(a);
    Reservation again;
    again = std::move(moved);
    EXPECT_EQ(budget.InUse().bytes, 300);
  }
  EXPECT_EQ(budget.InUse().bytes, 0);
  EXPECT_EQ(budget.InUse().calls, 0);
}

TEST(InFlightBudgetTest, OneCallerCannotTakeMoreThanItsShare) {
  InFlightBudget budget(Options(1000, 10, 0.5), 2);
  core::ErrorOr<Reservation> a = budget.Reserve({0, 0}, 400);
  ASSERT_TRUE(a.ok());
  core::ErrorOr<Reservation> b = budget.Reserve({0, 0}, 200);  // 600 > its 500
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().reason(), v1::ERROR_REASON_CALLER_RATE_LIMITED);
  EXPECT_EQ(b.error().code(), absl::StatusCode::kResourceExhausted);
  // The other caller still has its share.
  EXPECT_TRUE(budget.Reserve({1, 0}, 500).ok());
}

TEST(InFlightBudgetTest, TheShareBoundsCallsTooAndOpenModeHasNoShare) {
  InFlightBudget shared(Options(1 << 30, 4, 0.5), 3);
  core::ErrorOr<Reservation> a = shared.Reserve({2, 0}, 1);
  core::ErrorOr<Reservation> b = shared.Reserve({2, 0}, 1);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(shared.Reserve({2, 0}, 1).ok());
  // One caller only (open mode): the whole budget is its.
  InFlightBudget open(Options(1 << 30, 4, 0.5), 1);
  std::vector<Reservation> held;
  for (int i = 0; i < 4; ++i) {
    core::ErrorOr<Reservation> r = open.Reserve({0, 0}, 1);
    ASSERT_TRUE(r.ok()) << i;
    held.push_back(*std::move(r));
  }
  EXPECT_FALSE(open.Reserve({0, 0}, 1).ok());
}

TEST(InFlightBudgetTest, ACallersOwnBoundFromTheCallersFile) {
  InFlightBudget budget(Options(1 << 30, 100, 1.0), 2);
  core::ErrorOr<Reservation> a = budget.Reserve({1, 1}, 1);
  ASSERT_TRUE(a.ok());
  core::ErrorOr<Reservation> b = budget.Reserve({1, 1}, 1);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().reason(), v1::ERROR_REASON_CALLER_RATE_LIMITED);
  EXPECT_THAT(b.error().message(), HasSubstr("at most 1"));
}

TEST(InFlightBudgetTest, AnUnknownCallerIndexIsRefusedNotTrusted) {
  InFlightBudget budget(Options(1000, 10), 2);
  EXPECT_FALSE(budget.Reserve({7, 0}, 1).ok());
  EXPECT_EQ(budget.InUse().calls, 0);
}

TEST(InFlightBudgetTest, CostGrowsWithTheRequest) {
  EXPECT_EQ(CallCost(0), kCallBaseBytes);
  EXPECT_EQ(CallCost(1000) - CallCost(0), 1000 * kCostPerRequestByte);
}

// A fake /sys/fs/cgroup and /proc/self/cgroup.
class CgroupTest : public ::testing::Test {
 protected:
  void Write(const std::string& relative, const std::string& text) {
    const std::filesystem::path path = dir_.path() + "/" + relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  std::string root() const { return dir_.path() + "/cgroup"; }
  std::string self() const { return dir_.path() + "/self_cgroup"; }
  dcr::testing::TempDir dir_{"admission_test"};
};

TEST_F(CgroupTest, V2LimitOfTheProcesssCgroup) {
  Write("self_cgroup", "0::/kubepods/pod1/gateway\n");
  Write("cgroup/kubepods/pod1/gateway/memory.max", "402653184\n");
  EXPECT_EQ(CgroupMemoryLimit(root(), self()), 402653184);
}

TEST_F(CgroupTest, V2TightestLimitOnTheWayUp) {
  Write("self_cgroup", "0::/a/b\n");
  Write("cgroup/a/b/memory.max", "max\n");
  Write("cgroup/a/memory.max", "268435456\n");
  EXPECT_EQ(CgroupMemoryLimit(root(), self()), 268435456);
}

TEST_F(CgroupTest, V2InItsOwnNamespaceAndUnlimited) {
  Write("self_cgroup", "0::/\n");
  Write("cgroup/memory.max", "max\n");
  EXPECT_EQ(CgroupMemoryLimit(root(), self()), absl::nullopt);
  Write("cgroup/memory.max", "134217728\n");
  EXPECT_EQ(CgroupMemoryLimit(root(), self()), 134217728);
}

TEST_F(CgroupTest, V1LimitAndItsUnlimitedValue) {
  Write("self_cgroup", "5:memory:/\n");
  Write("cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  EXPECT_EQ(CgroupMemoryLimit(root(), self()), absl::nullopt);
  Write("cgroup/memory/memory.limit_in_bytes", "536870912\n");
  EXPECT_EQ(CgroupMemoryLimit(root(), self()), 536870912);
}

TEST_F(CgroupTest, V1LimitOfTheProcesssOwnCgroupInAHybridLayout) {
  // As on a host with cgroup v1 controllers and the unified hierarchy
  // beside them: the process's memory cgroup, not the root, has the limit.
  Write("self_cgroup",
        "9:name=systemd:/\n5:cpu,memory:/process_api/abc/gateway\n0::/\n");
  Write("cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  Write("cgroup/memory/process_api/memory.limit_in_bytes", "9223372036854771712\n");
  Write("cgroup/memory/process_api/abc/gateway/memory.limit_in_bytes", "402653184\n");
  EXPECT_EQ(CgroupMemoryLimit(root(), self()), 402653184);
}

TEST_F(CgroupTest, GarbageIsNoLimit) {
  Write("self_cgroup", "0::/x\n");
  Write("cgroup/x/memory.max", "lots\n");
  EXPECT_EQ(CgroupMemoryLimit(root(), self()), absl::nullopt);
  EXPECT_EQ(CgroupMemoryLimit(root() + "/missing", self() + "-missing"), absl::nullopt);
}

TEST(DeriveBudgetTest, FromTheLimitOrTheAssumedOne) {
  const DerivedBudget base = DeriveBudget(384LL << 20);
  EXPECT_TRUE(base.from_cgroup);
  EXPECT_EQ(base.call_bytes, (384LL << 20) / 2);
  EXPECT_EQ(base.transport_bytes, (384LL << 20) / 5);
  // The documented load, 2,000 small calls in flight, fits the base
  // Deployment's limit.
  EXPECT_GE(base.max_calls, 2000);
  EXPECT_GE(base.call_bytes, 2000 * CallCost(2048));
  // Even from one caller holding its default share (--caller_budget_share).
  EXPECT_GE(base.max_calls * 3 / 4, 2000);
  EXPECT_GE(base.call_bytes * 3 / 4, 2000 * CallCost(2048));
  const DerivedBudget none = DeriveBudget(absl::nullopt);
  EXPECT_FALSE(none.from_cgroup);
  EXPECT_EQ(none.memory_limit, kAssumedMemoryLimit);
}

}  // namespace
}  // namespace dcr::admission
