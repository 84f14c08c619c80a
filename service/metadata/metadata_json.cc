#include "service/metadata/metadata_json.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace dcr::metadata {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::EnumDescriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::ListValue;
using ::google::protobuf::Reflection;
using ::google::protobuf::Struct;
using ::google::protobuf::Value;
using ::nlohmann::json;

// Largest magnitude up to which every integer is exactly a double.
constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

// google.protobuf.Timestamp's valid range: 0001-01-01 .. 9999-12-31.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

constexpr char kAdditionalField[] = "additional_metadata";

// Names of the client information response that are not client metadata.
constexpr absl::string_view kResponseOnlyNames[] = {
    "client_id",
    "client_secret",
    "client_id_issued_at",
    "client_secret_expires_at",
    "registration_access_token",
    "registration_client_uri",
};

bool IsResponseOnly(absl::string_view name) {
  for (absl::string_view n : kResponseOnlyNames) {
    if (n == name) return true;
  }
  return false;
}

// How a typed ClientMetadata field converts; computed once from the descriptor.
enum class Kind {
  kUnsupported,  // a field type this module does not convert (see the test)
  kString,
  kBool,
  kInt,     // int32/int64 (any encoding)
  kUint,    // uint32/uint64
  kEnum,    // open enum with a *_UNSPECIFIED zero value, as wire strings
  kStruct,  // google.protobuf.Struct, as a JSON object
  kRepeatedString,
};

struct EnumWire {
  std::string wire;  // e.g. "native"
  int number;        // e.g. APPLICATION_TYPE_NATIVE
};

struct FieldPlan {
  const FieldDescriptor* field = nullptr;
  Kind kind = Kind::kUnsupported;
  std::vector<EnumWire> enum_values;  // kEnum only; value 0 excluded
};

struct Plan {
  const Descriptor* descriptor = nullptr;
  const FieldDescriptor* additional = nullptr;
  std::vector<FieldPlan> fields;  // indexed by FieldDescriptor::index()
};

// Wire strings of an enum whose zero value is PREFIX_UNSPECIFIED: the other
// values' names minus PREFIX_, lower-cased. Empty when the enum does not
// follow that convention.
std::vector<EnumWire> EnumWires(const EnumDescriptor* e) {
  std::vector<EnumWire> wires;
  const auto* zero = e->FindValueByNumber(0);
  constexpr absl::string_view kUnspecified = "UNSPECIFIED";
  if (zero == nullptr || !absl::EndsWith(zero->name(), kUnspecified)) return wires;
  const absl::string_view prefix =
      absl::string_view(zero->name()).substr(0, zero->name().size() - kUnspecified.size());
  for (int i = 0; i < e->value_count(); ++i) {
    const auto* v = e->value(i);
    if (v->number() == 0 || !absl::StartsWith(v->name(), prefix)) continue;
    wires.push_back(
        {absl::AsciiStrToLower(absl::string_view(v->name()).substr(prefix.size())), v->number()});
  }
  return wires;
}

FieldPlan PlanField(const FieldDescriptor* f) {
  FieldPlan p;
  p.field = f;
  if (f->is_repeated()) {
    if (!f->is_map() && f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      p.kind = Kind::kRepeatedString;
    }
    return p;
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      p.kind = Kind::kString;
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      p.kind = Kind::kBool;
      break;
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
      p.kind = Kind::kInt;
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      p.kind = Kind::kUint;
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      p.enum_values = EnumWires(f->enum_type());
      if (!p.enum_values.empty()) p.kind = Kind::kEnum;
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (f->message_type() == Struct::descriptor()) p.kind = Kind::kStruct;
      break;
    default:  // double, float: no metadata has one; JSON would blur int/float
      break;
  }
  return p;
}

const Plan& GetPlan() {
  static const Plan* const plan = [] {
    auto* p = new Plan;
    p->descriptor = v1::ClientMetadata::descriptor();
    p->additional = p->descriptor->FindFieldByName(kAdditionalField);
    p->fields.reserve(p->descriptor->field_count());
    for (int i = 0; i < p->descriptor->field_count(); ++i) {
      p->fields.push_back(PlanField(p->descriptor->field(i)));
    }
    return p;
  }();
  return *plan;
}

// ---------------------------------------------------------------------------
// google.protobuf.Value/Struct -> JSON. `depth` is the nesting level the
// value would occupy as a container (the metadata object is level 1).

absl::Status TooDeep(absl::string_view name) {
  return absl::InvalidArgumentError(absl::StrCat(
      "metadata \"", name, "\" nests JSON arrays/objects deeper than ", kMaxJsonDepth, " levels"));
}

absl::Status StructToJson(const Struct& s, int depth, absl::string_view name, json* out);

absl::Status ValueToJson(const Value& v, int depth, absl::string_view name, json* out) {
  switch (v.kind_case()) {
    case Value::kNullValue:
      *out = nullptr;
      return absl::OkStatus();
    case Value::kBoolValue:
      *out = v.bool_value();
      return absl::OkStatus();
    case Value::kStringValue:
      *out = v.string_value();
      return absl::OkStatus();
    case Value::kNumberValue: {
      const double d = v.number_value();
      if (!std::isfinite(d)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "metadata \"", name, "\" holds a number JSON cannot represent (NaN or infinity)"));
      }
      if (std::trunc(d) == d && std::fabs(d) <= kMaxExactInteger) {
        *out = static_cast<int64_t>(d);
      } else {
        *out = d;
      }
      return absl::OkStatus();
    }
    case Value::kStructValue:
      return StructToJson(v.struct_value(), depth, name, out);
    case Value::kListValue: {
      if (depth > kMaxJsonDepth) return TooDeep(name);
      const ListValue& list = v.list_value();
      *out = json::array();
      auto& array = out->get_ref<json::array_t&>();
      array.resize(static_cast<size_t>(list.values_size()));
      for (int i = 0; i < list.values_size(); ++i) {
        absl::Status s = ValueToJson(list.values(i), depth + 1, name, &array[i]);
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    }
    case Value::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("metadata \"", name, "\" holds a google.protobuf.Value with no kind set"));
}

absl::Status StructToJson(const Struct& s, int depth, absl::string_view name, json* out) {
  if (depth > kMaxJsonDepth) return TooDeep(name);
  *out = json::object();
  auto& object = out->get_ref<json::object_t&>();
  for (const auto& [key, value] : s.fields()) {
    absl::Status st = ValueToJson(value, depth + 1, name, &object[key]);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// JSON -> google.protobuf.Value/Struct, same depth convention.

absl::Status JsonToStruct(const json& j, int depth, absl::string_view name, Struct* out);

absl::Status JsonToValue(const json& j, int depth, absl::string_view name, Value* out) {
  switch (j.type()) {
    case json::value_t::null:
      out->set_null_value(google::protobuf::NULL_VALUE);
      return absl::OkStatus();
    case json::value_t::boolean:
      out->set_bool_value(j.get<bool>());
      return absl::OkStatus();
    case json::value_t::string:
      out->set_string_value(j.get_ref<const std::string&>());
      return absl::OkStatus();
    case json::value_t::number_integer:
      out->set_number_value(static_cast<double>(j.get<int64_t>()));
      return absl::OkStatus();
    case json::value_t::number_unsigned:
      out->set_number_value(static_cast<double>(j.get<uint64_t>()));
      return absl::OkStatus();
    case json::value_t::number_float:
      out->set_number_value(j.get<double>());
      return absl::OkStatus();
    case json::value_t::object:
      return JsonToStruct(j, depth, name, out->mutable_struct_value());
    case json::value_t::array: {
      if (depth > kMaxJsonDepth) return TooDeep(name);
      ListValue* list = out->mutable_list_value();
      list->mutable_values()->Reserve(static_cast<int>(j.size()));
      for (const json& element : j) {
        absl::Status s = JsonToValue(element, depth + 1, name, list->add_values());
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    }
    case json::value_t::binary:     // never produced by the text parser
    case json::value_t::discarded:  // a failed parse
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("metadata \"", name, "\" holds a value that is not JSON"));
}

absl::Status JsonToStruct(const json& j, int depth, absl::string_view name, Struct* out) {
  if (depth > kMaxJsonDepth) return TooDeep(name);
  auto* fields = out->mutable_fields();
  for (auto it = j.begin(); it != j.end(); ++it) {
    absl::Status s = JsonToValue(it.value(), depth + 1, name, &(*fields)[it.key()]);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Typed fields.

// The typed field's JSON value into `out` when set. Returns false when unset.
absl::StatusOr<bool> TypedToJson(const v1::ClientMetadata& m, const Reflection* r,
                                 const FieldPlan& p, json* out) {
  const FieldDescriptor* f = p.field;
  switch (p.kind) {
    case Kind::kRepeatedString: {
      const int n = r->FieldSize(m, f);
      if (n == 0) return false;
      *out = json::array();
      auto& array = out->get_ref<json::array_t&>();
      array.reserve(static_cast<size_t>(n));
      std::string scratch;
      for (int i = 0; i < n; ++i) {
        array.emplace_back(r->GetRepeatedStringReference(m, f, i, &scratch));
      }
      return true;
    }
    case Kind::kEnum: {
      const int number = r->GetEnumValue(m, f);
      if (number == 0) return false;
      for (const EnumWire& w : p.enum_values) {
        if (w.number == number) {
          *out = w.wire;
          return true;
        }
      }
      return absl::InvalidArgumentError(
          absl::StrCat(f->name(), " holds ", number, ", not a value of ", f->enum_type()->name()));
    }
    case Kind::kUnsupported:
      if (f->is_repeated() ? r->FieldSize(m, f) == 0 : !r->HasField(m, f)) return false;
      return absl::InternalError(
          absl::StrCat("metadata field ", f->name(), " has a type the gateway cannot convert"));
    default:
      break;
  }
  if (!r->HasField(m, f)) return false;
  switch (p.kind) {
    case Kind::kString: {
      std::string scratch;
      *out = r->GetStringReference(m, f, &scratch);
      return true;
    }
    case Kind::kBool:
      *out = r->GetBool(m, f);
      return true;
    case Kind::kInt:
      *out = f->cpp_type() == FieldDescriptor::CPPTYPE_INT32
                 ? static_cast<int64_t>(r->GetInt32(m, f))
                 : r->GetInt64(m, f);
      return true;
    case Kind::kUint:
      *out = f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32
                 ? static_cast<uint64_t>(r->GetUInt32(m, f))
                 : r->GetUInt64(m, f);
      return true;
    case Kind::kStruct: {
      absl::Status s =
          StructToJson(static_cast<const Struct&>(r->GetMessage(m, f)), 2, f->name(), out);
      if (!s.ok()) return s;
      return true;
    }
    default:
      return false;  // handled above
  }
}

// Fills the typed field from `j` when its JSON type fits. Returns false when
// it does not (the caller then keeps the value in additional_metadata).
absl::StatusOr<bool> JsonToTyped(const json& j, const FieldPlan& p, const Reflection* r,
                                 v1::ClientMetadata* m) {
  const FieldDescriptor* f = p.field;
  switch (p.kind) {
    case Kind::kString:
      if (!j.is_string()) return false;
      r->SetString(m, f, j.get_ref<const std::string&>());
      return true;
    case Kind::kBool:
      if (!j.is_boolean()) return false;
      r->SetBool(m, f, j.get<bool>());
      return true;
    case Kind::kInt: {
      const bool is32 = f->cpp_type() == FieldDescriptor::CPPTYPE_INT32;
      const int64_t max =
          is32 ? std::numeric_limits<int32_t>::max() : std::numeric_limits<int64_t>::max();
      const int64_t min =
          is32 ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int64_t>::min();
      int64_t v;
      if (j.is_number_unsigned()) {
        const uint64_t u = j.get<uint64_t>();
        if (u > static_cast<uint64_t>(max)) return false;
        v = static_cast<int64_t>(u);
      } else if (j.is_number_integer()) {
        v = j.get<int64_t>();
        if (v < min || v > max) return false;
      } else {
        return false;
      }
      if (is32) {
        r->SetInt32(m, f, static_cast<int32_t>(v));
      } else {
        r->SetInt64(m, f, v);
      }
      return true;
    }
    case Kind::kUint: {
      const bool is32 = f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32;
      if (!j.is_number_unsigned()) return false;  // negative integers are number_integer
      const uint64_t u = j.get<uint64_t>();
      if (is32) {
        if (u > std::numeric_limits<uint32_t>::max()) return false;
        r->SetUInt32(m, f, static_cast<uint32_t>(u));
      } else {
        r->SetUInt64(m, f, u);
      }
      return true;
    }
    case Kind::kEnum: {
      if (!j.is_string()) return false;
      const std::string& s = j.get_ref<const std::string&>();
      for (const EnumWire& w : p.enum_values) {
        if (w.wire == s) {
          r->SetEnumValue(m, f, w.number);
          return true;
        }
      }
      return false;
    }
    case Kind::kStruct: {
      if (!j.is_object()) return false;
      absl::Status s = JsonToStruct(j, 2, f->name(), static_cast<Struct*>(r->MutableMessage(m, f)));
      if (!s.ok()) return s;
      return true;
    }
    case Kind::kRepeatedString: {
      if (!j.is_array() || j.empty()) return false;  // [] kept verbatim
      for (const json& e : j) {
        if (!e.is_string()) return false;
      }
      for (const json& e : j) r->AddString(m, f, e.get_ref<const std::string&>());
      return true;
    }
    case Kind::kUnsupported:
      break;
  }
  return false;
}

// Parses `text`; on failure, a status of `code` naming only the byte offset
// (the text may hold secrets and is not quoted).
absl::StatusOr<json> Parse(absl::string_view text, absl::StatusCode code, absl::string_view what) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return absl::Status(code,
                        absl::StrCat(what, " is not valid JSON (error near byte ", e.byte, ")"));
  } catch (const json::exception& e) {  // e.g. out_of_range 406: number overflow
    return absl::Status(code, absl::StrCat(what, " is not valid JSON (error ", e.id, ")"));
  }
}

// Whole seconds from a JSON number within google.protobuf.Timestamp's range.
absl::optional<int64_t> TimestampSeconds(const json& j) {
  int64_t seconds;
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(kMaxTimestampSeconds)) return absl::nullopt;
    seconds = static_cast<int64_t>(u);
  } else if (j.is_number_integer()) {
    seconds = j.get<int64_t>();
  } else if (j.is_number_float()) {
    const double d = j.get<double>();
    if (std::trunc(d) != d || std::fabs(d) > kMaxExactInteger) return absl::nullopt;
    seconds = static_cast<int64_t>(d);
  } else {
    return absl::nullopt;
  }
  if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds) return absl::nullopt;
  return seconds;
}

const json* Find(const json& object, const char* name) {
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

}  // namespace

absl::StatusOr<json> MetadataToJson(const v1::ClientMetadata& metadata,
                                    absl::string_view extra_client_id) {
  const Plan& plan = GetPlan();
  const Reflection* r = metadata.GetReflection();
  json out = json::object();
  auto& object = out.get_ref<json::object_t&>();
  json value;
  for (const FieldPlan& p : plan.fields) {
    if (p.field == plan.additional) continue;
    absl::StatusOr<bool> set = TypedToJson(metadata, r, p, &value);
    if (!set.ok()) return set.status();
    if (*set) object.emplace(p.field->name(), std::move(value));
  }
  for (const auto& [name, v] : metadata.additional_metadata()) {
    if (object.find(name) != object.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metadata \"", name, "\" is set both as a typed field and in additional_metadata"));
    }
    absl::Status s = ValueToJson(v, 2, name, &value);
    if (!s.ok()) return s;
    object.emplace(name, std::move(value));
  }
  if (!extra_client_id.empty()) {
    object.emplace("client_id", std::string(extra_client_id));  // no-op when present
  }
  return out;
}

absl::StatusOr<std::string> MetadataToJsonString(const v1::ClientMetadata& metadata,
                                                 absl::string_view extra_client_id) {
  absl::StatusOr<json> j = MetadataToJson(metadata, extra_client_id);
  if (!j.ok()) return j.status();
  try {
    return j->dump();
  } catch (const json::type_error&) {  // 316: a string that is not UTF-8
    return absl::InvalidArgumentError("client metadata holds a string that is not valid UTF-8");
  }
}

absl::StatusOr<v1::ClientMetadata> MetadataFromJson(const json& object) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("client metadata must be a JSON object, not ", object.type_name()));
  }
  const Plan& plan = GetPlan();
  v1::ClientMetadata m;
  const Reflection* r = m.GetReflection();
  auto* additional = m.mutable_additional_metadata();
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& name = it.key();
    if (IsResponseOnly(name)) continue;
    const FieldDescriptor* f = plan.descriptor->FindFieldByName(name);
    if (f != nullptr && f != plan.additional) {
      absl::StatusOr<bool> filled = JsonToTyped(it.value(), plan.fields[f->index()], r, &m);
      if (!filled.ok()) return filled.status();
      if (*filled) continue;
    }
    absl::Status s = JsonToValue(it.value(), 2, name, &(*additional)[name]);
    if (!s.ok()) return s;
  }
  return m;
}

absl::StatusOr<v1::ClientMetadata> MetadataFromJsonString(absl::string_view json_text) {
  absl::StatusOr<json> j = Parse(json_text, absl::StatusCode::kInvalidArgument, "client metadata");
  if (!j.ok()) return j.status();
  return MetadataFromJson(*j);
}

absl::StatusOr<v1::ClientInformation> ClientInformationFromJson(
    absl::string_view response_content) {
  absl::StatusOr<json> j =
      Parse(response_content, absl::StatusCode::kInternal, "Authlete's responseContent");
  if (!j.ok()) return j.status();
  if (!j->is_object()) {
    return absl::InternalError(
        absl::StrCat("Authlete's responseContent is a JSON ", j->type_name(), ", not an object"));
  }
  v1::ClientInformation info;
  if (const json* v = Find(*j, "client_id")) {
    if (v->is_string()) {
      info.set_client_id(v->get_ref<const std::string&>());
    } else if (v->is_number_unsigned()) {
      info.set_client_id(std::to_string(v->get<uint64_t>()));
    } else if (v->is_number_integer()) {
      info.set_client_id(std::to_string(v->get<int64_t>()));
    } else if (v->is_number_float()) {
      const double d = v->get<double>();
      if (std::trunc(d) == d && std::fabs(d) <= kMaxExactInteger) {
        info.set_client_id(std::to_string(static_cast<int64_t>(d)));
      }
    }
  }
  if (const json* v = Find(*j, "client_secret"); v != nullptr && v->is_string()) {
    info.set_client_secret(v->get_ref<const std::string&>());
  }
  if (const json* v = Find(*j, "client_id_issued_at")) {
    if (absl::optional<int64_t> s = TimestampSeconds(*v)) {
      info.mutable_client_id_issued_at()->set_seconds(*s);
    }
  }
  if (const json* v = Find(*j, "client_secret_expires_at")) {
    if (absl::optional<int64_t> s = TimestampSeconds(*v); s.has_value() && *s != 0) {
      info.mutable_client_secret_expires_at()->set_seconds(*s);
    }
  }
  if (const json* v = Find(*j, "registration_access_token"); v != nullptr && v->is_string()) {
    info.set_registration_access_token(v->get_ref<const std::string&>());
  }
  if (const json* v = Find(*j, "registration_client_uri"); v != nullptr && v->is_string()) {
    info.set_registration_client_uri(v->get_ref<const std::string&>());
  }
  absl::StatusOr<v1::ClientMetadata> metadata = MetadataFromJson(*j);
  if (!metadata.ok()) {
    return absl::InternalError(
        absl::StrCat("Authlete's responseContent: ", metadata.status().message()));
  }
  *info.mutable_metadata() = *std::move(metadata);
  return info;
}

}  // namespace dcr::metadata
