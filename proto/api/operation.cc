#include "proto/api/operation.h"

namespace dcr::api {
namespace {

constexpr OperationTraits kTraits[] = {
    // operation          name              read_only idempotent metadata success
    {Operation::kRegister, "RegisterClient", false, false, true, v1::ACTION_CREATED},
    {Operation::kGet, "GetClient", true, true, false, v1::ACTION_OK},
    {Operation::kUpdate, "UpdateClient", false, true, true, v1::ACTION_UPDATED},
    {Operation::kDelete, "DeleteClient", false, true, false, v1::ACTION_DELETED},
};
static_assert(sizeof(kTraits) / sizeof(kTraits[0]) == kOperationCount);

constexpr bool RowsInEnumOrder() {
  for (std::size_t i = 0; i < kOperationCount; ++i) {
    if (Index(kTraits[i].operation) != i) return false;
  }
  return true;
}
static_assert(RowsInEnumOrder(), "kTraits must list the operations in enum order");

}  // namespace

const OperationTraits& Traits(Operation operation) { return kTraits[Index(operation)]; }

absl::string_view Name(Operation operation) { return Traits(operation).name; }

absl::optional<Operation> OperationNamed(absl::string_view name) {
  for (const OperationTraits& traits : kTraits) {
    if (traits.name == name) return traits.operation;
  }
  return absl::nullopt;
}

}  // namespace dcr::api
