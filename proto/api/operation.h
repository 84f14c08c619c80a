// The operations of dcr.v1.ClientRegistrationService and what is true of
// each: its one name (the RPC's, used in logs, metric labels and the callers
// file), whether it may run twice with the same effect, and what it carries.
// Adding an RPC adds a row here, the proto method and its handler.
#ifndef DCR_PROTO_API_OPERATION_H_
#define DCR_PROTO_API_OPERATION_H_

#include <array>
#include <cstddef>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "dcr/v1/action.pb.h"

namespace dcr::api {

enum class Operation {
  kRegister,
  kGet,
  kUpdate,
  kDelete,
  // The administrative operations (Authlete's client management API).
  kListClients,
  kGetClientRecord,
  kRotateClientSecret,
  kSetClientLocked,
  // Not an RPC: Authlete's token introspection (contract §10), which the
  // public registration endpoint calls to verify an access token issued by
  // Authlete. A row here so that it goes through the same connection:
  // retries, circuit breaker and upstream metrics of its own.
  kIntrospectToken,
};

inline constexpr std::size_t kOperationCount = 9;
inline constexpr std::array<Operation, kOperationCount> kOperations = {
    Operation::kRegister,        Operation::kGet,
    Operation::kUpdate,          Operation::kDelete,
    Operation::kListClients,     Operation::kGetClientRecord,
    Operation::kRotateClientSecret, Operation::kSetClientLocked,
    Operation::kIntrospectToken};

// A value per operation, indexed by Index(operation).
template <typename T>
using PerOperation = std::array<T, kOperationCount>;

constexpr std::size_t Index(Operation operation) {
  return static_cast<std::size_t>(operation);
}

struct OperationTraits {
  Operation operation;
  // The RPC's name: "RegisterClient".
  absl::string_view name;
  // Only reads: any number of repeats is harmless.
  bool read_only;
  // Repeating it leaves Authlete as one run would (a read, a full
  // replacement, a delete that then finds the client gone); Register is not.
  bool idempotent;
  // Sends an RFC 7591 metadata document.
  bool sends_metadata;
  // Authlete's action when it succeeded (ACTION_UNSPECIFIED for the
  // administrative operations: Authlete's answer has no action).
  v1::Action success_action;
  // Administrative: only a caller whose policy names it may call it ("*"
  // does not), and it is always audited.
  bool administrative;
};

const OperationTraits& Traits(Operation operation);

// Traits(operation).name.
absl::string_view Name(Operation operation);

// Whether `operation` is one of the gateway's RPCs (not kIntrospectToken).
constexpr bool IsRpc(Operation operation) { return operation != Operation::kIntrospectToken; }

// The operation whose RPC is called `name` ("GetClient").
absl::optional<Operation> OperationNamed(absl::string_view name);

}  // namespace dcr::api

#endif  // DCR_PROTO_API_OPERATION_H_
