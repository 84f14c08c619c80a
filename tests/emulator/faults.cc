#include "tests/emulator/faults.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "tests/emulator/json_util.h"

namespace dcr::emulator {

namespace {

using nlohmann::json;

constexpr std::pair<FaultKind, const char*> kKindNames[] = {
    {FaultKind::kLatency, "latency"},
    {FaultKind::kHttpError, "http_error"},
    {FaultKind::kRateLimit, "rate_limit"},
    {FaultKind::kResetBeforeProcessing, "reset_before"},
    {FaultKind::kResetAfterProcessing, "reset_after"},
    {FaultKind::kTruncatedBody, "truncated_body"},
    {FaultKind::kMalformedJson, "malformed_json"},
    {FaultKind::kUnknownAction, "unknown_action"},
    {FaultKind::kSlowBody, "slow_body"},
    {FaultKind::kInternalServerError, "internal_server_error"},
};

absl::Status Err(const std::string& msg) {
  return absl::InvalidArgumentError(absl::StrCat("fault spec: ", msg));
}

absl::Status ReadInt(const json& obj, const char* name, int64_t lo, int64_t hi, int64_t* out) {
  auto it = obj.find(name);
  if (it == obj.end()) return absl::OkStatus();
  if (!it->is_number_integer()) return Err(absl::StrCat("\"", name, "\" must be an integer"));
  int64_t v = it->get<int64_t>();
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(hi)) v = hi + 1;
  if (v < lo || v > hi) {
    return Err(absl::StrCat("\"", name, "\" must be in [", lo, ", ", hi, "]"));
  }
  *out = v;
  return absl::OkStatus();
}

// Every member of a rule must be one this parser knows.
absl::Status CheckRuleMembers(const json& obj) {
  static const char* const kKnown[] = {
      "kind",   "operation", "count",  "probability", "latencyMs", "jitterMs",
      "status", "body",      "retryAfterSeconds", "action", "chunkBytes", "chunkDelayMs"};
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool known = false;
    for (const char* k : kKnown) known = known || it.key() == k;
    if (!known) return Err(absl::StrCat("unknown rule member \"", it.key(), "\""));
  }
  return absl::OkStatus();
}

// "kind" (required) and "operation" (default: all).
absl::Status ReadKindAndOperation(const json& obj, FaultRule* rule) {
  auto kind = obj.find("kind");
  if (kind == obj.end() || !kind->is_string()) return Err("\"kind\" (string) is required");
  bool found = false;
  for (const auto& [k, name] : kKindNames) {
    if (kind->get<std::string>() == name) {
      rule->kind = k;
      found = true;
    }
  }
  if (!found) return Err(absl::StrCat("unknown kind \"", kind->get<std::string>(), "\""));
  if (auto op = obj.find("operation"); op != obj.end()) {
    if (!op->is_string()) return Err("\"operation\" must be a string");
    std::string name = op->get<std::string>();
    if (name != "all") {
      rule->operation = OperationFromName(name);
      if (!rule->operation.has_value()) {
        return Err(absl::StrCat("unknown operation \"", name,
                                "\" (register, get, update, delete, list_clients, get_client_record, "
                                "refresh_secret, update_secret, update_lock_flag, introspection "
                                "or all)"));
      }
    }
  }
  return absl::OkStatus();
}

// How often the rule fires: "count" and "probability".
absl::Status ReadCountAndProbability(const json& obj, FaultRule* rule) {
  if (auto c = obj.find("count"); c != obj.end()) {
    if (!c->is_number_integer() || (c->get<int64_t>() < 1 && c->get<int64_t>() != -1)) {
      return Err("\"count\" must be a positive integer, or -1 for until cleared");
    }
    rule->count = c->get<int64_t>();
  }
  if (auto p = obj.find("probability"); p != obj.end()) {
    if (!p->is_number() || p->get<double>() < 0.0 || p->get<double>() > 1.0) {
      return Err("\"probability\" must be a number in [0, 1]");
    }
    rule->probability = p->get<double>();
  }
  return absl::OkStatus();
}

// What the fault does: the bounded integers, then "body" and "action".
absl::Status ReadEffect(const json& obj, FaultRule* rule) {
  int64_t status = rule->http_status;
  for (absl::Status st : {
           ReadInt(obj, "latencyMs", 0, 600000, &rule->latency_ms),
           ReadInt(obj, "jitterMs", 0, 600000, &rule->jitter_ms),
           ReadInt(obj, "status", 400, 599, &status),
           ReadInt(obj, "retryAfterSeconds", 0, 86400, &rule->retry_after_seconds),
           ReadInt(obj, "chunkBytes", 1, 1 << 20, &rule->chunk_bytes),
           ReadInt(obj, "chunkDelayMs", 0, 60000, &rule->chunk_delay_ms),
       }) {
    if (!st.ok()) return st;
  }
  rule->http_status = static_cast<int>(status);
  if (auto b = obj.find("body"); b != obj.end()) {
    if (!b->is_string()) return Err("\"body\" must be a string");
    rule->body = b->get<std::string>();
  }
  if (auto a = obj.find("action"); a != obj.end()) {
    if (!a->is_string()) return Err("\"action\" must be a string");
    rule->action_value = a->get<std::string>();
  }
  return absl::OkStatus();
}

absl::StatusOr<FaultRule> ParseRule(const json& obj) {
  if (!obj.is_object()) return Err("a rule must be an object");
  if (absl::Status st = CheckRuleMembers(obj); !st.ok()) return st;
  FaultRule rule;
  if (absl::Status st = ReadKindAndOperation(obj, &rule); !st.ok()) return st;
  if (absl::Status st = ReadCountAndProbability(obj, &rule); !st.ok()) return st;
  if (absl::Status st = ReadEffect(obj, &rule); !st.ok()) return st;
  return rule;
}

json RuleToJson(const FaultRule& r) {
  json j = {{"kind", std::string(FaultKindName(r.kind))},
            {"operation", r.operation ? std::string(OperationName(*r.operation)) : "all"},
            {"count", r.count},
            {"probability", r.probability}};
  switch (r.kind) {
    case FaultKind::kLatency:
      j["latencyMs"] = r.latency_ms;
      j["jitterMs"] = r.jitter_ms;
      break;
    case FaultKind::kHttpError:
      j["status"] = r.http_status;
      j["body"] = r.body;
      break;
    case FaultKind::kRateLimit:
      j["retryAfterSeconds"] = r.retry_after_seconds;
      break;
    case FaultKind::kUnknownAction:
      j["action"] = r.action_value;
      break;
    case FaultKind::kSlowBody:
      j["chunkBytes"] = r.chunk_bytes;
      j["chunkDelayMs"] = r.chunk_delay_ms;
      break;
    default:
      break;
  }
  return j;
}

}  // namespace

absl::string_view OperationName(Operation op) {
  switch (op) {
    case Operation::kRegister: return "register";
    case Operation::kGet: return "get";
    case Operation::kUpdate: return "update";
    case Operation::kDelete: return "delete";
    case Operation::kListClients: return "list_clients";
    case Operation::kGetClientRecord: return "get_client_record";
    case Operation::kRefreshSecret: return "refresh_secret";
    case Operation::kUpdateSecret: return "update_secret";
    case Operation::kUpdateLockFlag: return "update_lock_flag";
    case Operation::kIntrospection: return "introspection";
  }
  return "unknown";
}

absl::optional<Operation> OperationFromName(absl::string_view name) {
  if (name == "register") return Operation::kRegister;
  if (name == "get") return Operation::kGet;
  if (name == "update") return Operation::kUpdate;
  if (name == "delete") return Operation::kDelete;
  if (name == "list_clients") return Operation::kListClients;
  if (name == "get_client_record") return Operation::kGetClientRecord;
  if (name == "refresh_secret") return Operation::kRefreshSecret;
  if (name == "update_secret") return Operation::kUpdateSecret;
  if (name == "update_lock_flag") return Operation::kUpdateLockFlag;
  if (name == "introspection") return Operation::kIntrospection;
  return absl::nullopt;
}

absl::string_view FaultKindName(FaultKind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "unknown";
}

absl::StatusOr<FaultSpec> ParseFaultSpec(absl::string_view json_text) {
  absl::StatusOr<json> root = ParseJson(json_text);
  if (!root.ok()) return Err(std::string(root.status().message()));
  const json* rules = &*root;
  if (root->is_object() && root->contains("rules")) {
    if (root->size() != 1) return Err("only \"rules\" is allowed next to \"rules\"");
    rules = &(*root)["rules"];
    if (!rules->is_array()) return Err("\"rules\" must be an array");
  }
  FaultSpec spec;
  if (rules->is_array()) {
    for (const json& r : *rules) {
      absl::StatusOr<FaultRule> rule = ParseRule(r);
      if (!rule.ok()) return rule.status();
      spec.rules.push_back(*std::move(rule));
    }
  } else {
    absl::StatusOr<FaultRule> rule = ParseRule(*rules);
    if (!rule.ok()) return rule.status();
    spec.rules.push_back(*std::move(rule));
  }
  return spec;
}

std::string FaultSpecToJson(const FaultSpec& spec) {
  json rules = json::array();
  for (const FaultRule& r : spec.rules) rules.push_back(RuleToJson(r));
  return DumpJson(json{{"rules", rules}});
}

void FaultInjector::Set(FaultSpec spec) {
  absl::MutexLock lock(&mu_);
  rules_ = std::move(spec.rules);
}

void FaultInjector::Clear() {
  absl::MutexLock lock(&mu_);
  rules_.clear();
}

FaultSpec FaultInjector::Get() const {
  absl::MutexLock lock(&mu_);
  return FaultSpec{rules_};
}

FaultDecision FaultInjector::Decide(Operation op) {
  FaultDecision decision;
  absl::MutexLock lock(&mu_);
  for (auto it = rules_.begin(); it != rules_.end();) {
    FaultRule& rule = *it;
    bool matches = !rule.operation.has_value() || *rule.operation == op;
    // Once an outcome is chosen, later outcome rules keep their counts.
    if (matches && rule.kind != FaultKind::kLatency && decision.outcome.has_value()) {
      matches = false;
    }
    if (matches && rule.probability < 1.0) {
      matches = absl::Bernoulli(rng_, rule.probability);
    }
    if (!matches) {
      ++it;
      continue;
    }
    ++decision.fired;
    if (rule.kind == FaultKind::kLatency) {
      decision.delay_ms += rule.latency_ms;
      if (rule.jitter_ms > 0) {
        decision.delay_ms += absl::Uniform<int64_t>(absl::IntervalClosed, rng_, 0, rule.jitter_ms);
      }
    } else {
      decision.outcome = rule;
    }
    if (rule.count > 0 && --rule.count == 0) {
      it = rules_.erase(it);
    } else {
      ++it;
    }
  }
  return decision;
}

}  // namespace dcr::emulator
