#include "proto/api/operation.h"

namespace dcr::api {
namespace {

constexpr OperationTraits kTraits[] = {
    // operation, name, read_only, idempotent, metadata, success, administrative
    {Operation::kRegister, "RegisterClient", false, false, true, v1::ACTION_CREATED, false},
    {Operation::kGet, "GetClient", true, true, false, v1::ACTION_OK, false},
    {Operation::kUpdate, "UpdateClient", false, true, true, v1::ACTION_UPDATED, false},
    {Operation::kDelete, "DeleteClient", false, true, false, v1::ACTION_DELETED, false},
    {Operation::kListClients, "ListClients", true, true, false, v1::ACTION_UNSPECIFIED, true},
    {Operation::kGetClientRecord, "GetClientRecord", true, true, false, v1::ACTION_UNSPECIFIED,
     true},
    // A refresh generates a new secret each time: never run twice.
    {Operation::kRotateClientSecret, "RotateClientSecret", false, false, false,
     v1::ACTION_UNSPECIFIED, true},
    // Setting a flag to a value is repeatable.
    {Operation::kSetClientLocked, "SetClientLocked", false, true, false, v1::ACTION_UNSPECIFIED,
     true},
    // Administrative by its traits: the whole HTTP 200 answer is the result
    // (the endpoint reads its action), and "*" in a callers file never
    // names it. A read, repeatable.
    {Operation::kIntrospectToken, "IntrospectToken", true, true, false, v1::ACTION_UNSPECIFIED,
     true},
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
    if (traits.name == name && IsRpc(traits.operation)) return traits.operation;
  }
  return absl::nullopt;
}

}  // namespace dcr::api
