#include "service/metadata/metadata_json.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "service/json/json_text.h"
#include "simdjson.h"

namespace dcr::metadata {
namespace {

namespace text = ::dcr::json;

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

constexpr int kResponseOnlyCount = sizeof(kResponseOnlyNames) / sizeof(kResponseOnlyNames[0]);

// The index of `name` in kResponseOnlyNames, or -1.
int ResponseOnlyIndex(absl::string_view name) {
  for (int i = 0; i < kResponseOnlyCount; ++i) {
    if (kResponseOnlyNames[i] == name) return i;
  }
  return -1;
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
  // JSON name -> index in `fields`, for every typed field (additional_metadata
  // excluded): looked up with the document's names, no copy of them.
  absl::flat_hash_map<std::string, int> typed_by_name;
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
      if (p->descriptor->field(i) != p->additional) {
        p->typed_by_name.emplace(p->descriptor->field(i)->name(), i);
      }
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

// The JSON text is written straight into a string (service/json), in the
// form nlohmann's dump() of its DOM used to give: an object's names sorted,
// an integral number within +-2^53 as an integer. `utf8_ok` turns false when
// a string is not valid UTF-8; the caller reports it once the whole document
// has been checked, as dump() did.
struct TextWriter {
  std::string* out;
  bool utf8_ok = true;
  void String(absl::string_view text) { utf8_ok &= text::AppendStringChecked(text, out); }
};

absl::Status StructToText(const Struct& s, int depth, absl::string_view name, TextWriter& w);

absl::Status ValueToText(const Value& v, int depth, absl::string_view name, TextWriter& w) {
  switch (v.kind_case()) {
    case Value::kNullValue:
      w.out->append("null");
      return absl::OkStatus();
    case Value::kBoolValue:
      text::AppendBool(v.bool_value(), w.out);
      return absl::OkStatus();
    case Value::kStringValue:
      w.String(v.string_value());
      return absl::OkStatus();
    case Value::kNumberValue: {
      const double d = v.number_value();
      if (!std::isfinite(d)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "metadata \"", name, "\" holds a number JSON cannot represent (NaN or infinity)"));
      }
      if (std::trunc(d) == d && std::fabs(d) <= kMaxExactInteger) {
        text::AppendNumber(static_cast<int64_t>(d), w.out);
      } else {
        text::AppendNumber(d, w.out);
      }
      return absl::OkStatus();
    }
    case Value::kStructValue:
      return StructToText(v.struct_value(), depth, name, w);
    case Value::kListValue: {
      if (depth > kMaxJsonDepth) return TooDeep(name);
      const ListValue& list = v.list_value();
      w.out->push_back('[');
      for (int i = 0; i < list.values_size(); ++i) {
        if (i > 0) w.out->push_back(',');
        absl::Status s = ValueToText(list.values(i), depth + 1, name, w);
        if (!s.ok()) return s;
      }
      w.out->push_back(']');
      return absl::OkStatus();
    }
    case Value::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("metadata \"", name, "\" holds a google.protobuf.Value with no kind set"));
}

absl::Status StructToText(const Struct& s, int depth, absl::string_view name, TextWriter& w) {
  if (depth > kMaxJsonDepth) return TooDeep(name);
  // A protobuf map has no order; the text has its names sorted.
  absl::InlinedVector<const google::protobuf::MapPair<std::string, Value>*, 16> fields;
  for (const auto& field : s.fields()) fields.push_back(&field);
  std::sort(fields.begin(), fields.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  w.out->push_back('{');
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) w.out->push_back(',');
    w.String(fields[i]->first);
    w.out->push_back(':');
    absl::Status st = ValueToText(fields[i]->second, depth + 1, name, w);
    if (!st.ok()) return st;
  }
  w.out->push_back('}');
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Reading JSON. The conversions from JSON are written once, against a view of
// one parsed value (JsonView below), and run over either parser's document:
// simdjson's, which reads a client document several times faster than
// nlohmann's DOM (a profile showed nlohmann's parse and its std::map at
// about a tenth of a call's CPU), or nlohmann's, which decides every input
// simdjson refuses (integers beyond 64 bits, documents nested past
// simdjson's limit) or reads differently (a repeated name, whose last value
// nlohmann keeps), and serves callers that hold a nlohmann::json already.

// A JSON value's type, with numbers told apart as nlohmann does: an integer
// written with a minus sign is kSigned, any other integer kUnsigned.
enum class JsonType { kNull, kBool, kString, kSigned, kUnsigned, kFloat, kObject, kArray, kOther };

class NlohmannView {
 public:
  explicit NlohmannView(const json& j) : j_(&j) {}
  JsonType type() const {
    switch (j_->type()) {
      case json::value_t::null: return JsonType::kNull;
      case json::value_t::boolean: return JsonType::kBool;
      case json::value_t::string: return JsonType::kString;
      case json::value_t::number_integer: return JsonType::kSigned;
      case json::value_t::number_unsigned: return JsonType::kUnsigned;
      case json::value_t::number_float: return JsonType::kFloat;
      case json::value_t::object: return JsonType::kObject;
      case json::value_t::array: return JsonType::kArray;
      default: return JsonType::kOther;  // binary, discarded: never parsed from text
    }
  }
  const char* type_name() const { return j_->type_name(); }
  bool boolean() const { return j_->get<bool>(); }
  absl::string_view string() const { return j_->get_ref<const std::string&>(); }
  int64_t signed_integer() const { return j_->get<int64_t>(); }
  uint64_t unsigned_integer() const { return j_->get<uint64_t>(); }
  double number() const { return j_->get<double>(); }
  bool empty() const { return j_->empty(); }
  std::size_t size() const { return j_->size(); }
  // `f(NlohmannView)` for each element of an array, in order, until it fails.
  template <typename F>
  absl::Status ForEachElement(F&& f) const {
    for (const json& e : *j_) {
      if (absl::Status s = f(NlohmannView(e)); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  // `f(name, NlohmannView)` for each member of an object until it fails.
  template <typename F>
  absl::Status ForEachMember(F&& f) const {
    for (auto it = j_->begin(); it != j_->end(); ++it) {
      if (absl::Status s = f(absl::string_view(it.key()), NlohmannView(it.value())); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

 private:
  const json* j_;
};

// Over a simdjson document. Unlike nlohmann, simdjson keeps every member of
// an object that repeats a name; the conversions below fail on a repeat, and
// any failure over simdjson hands the document to nlohmann (see
// ParseWithSimdjson).
class SimdjsonView {
 public:
  explicit SimdjsonView(simdjson::dom::element e) : e_(e) {}
  JsonType type() const {
    switch (e_.type()) {
      case simdjson::dom::element_type::NULL_VALUE: return JsonType::kNull;
      case simdjson::dom::element_type::BOOL: return JsonType::kBool;
      case simdjson::dom::element_type::STRING: return JsonType::kString;
      case simdjson::dom::element_type::INT64:
        return int64_t(e_) < 0 ? JsonType::kSigned : JsonType::kUnsigned;
      case simdjson::dom::element_type::UINT64: return JsonType::kUnsigned;
      case simdjson::dom::element_type::DOUBLE: return JsonType::kFloat;
      case simdjson::dom::element_type::OBJECT: return JsonType::kObject;
      case simdjson::dom::element_type::ARRAY: return JsonType::kArray;
    }
    return JsonType::kOther;
  }
  const char* type_name() const {
    switch (type()) {
      case JsonType::kNull: return "null";
      case JsonType::kBool: return "boolean";
      case JsonType::kString: return "string";
      case JsonType::kObject: return "object";
      case JsonType::kArray: return "array";
      default: return "number";
    }
  }
  // The accessors are called only for the type() they belong to, so the
  // value's own error code is never set.
  bool boolean() const { return bool(e_); }
  absl::string_view string() const {
    const std::string_view s(e_);
    return absl::string_view(s.data(), s.size());
  }
  int64_t signed_integer() const { return int64_t(e_); }
  uint64_t unsigned_integer() const {
    return e_.type() == simdjson::dom::element_type::INT64 ? uint64_t(int64_t(e_)) : uint64_t(e_);
  }
  double number() const { return double(e_); }
  bool empty() const { return size() == 0; }
  std::size_t size() const {
    if (e_.type() == simdjson::dom::element_type::ARRAY) return simdjson::dom::array(e_).size();
    return simdjson::dom::object(e_).size();
  }
  template <typename F>
  absl::Status ForEachElement(F&& f) const {
    for (simdjson::dom::element e : simdjson::dom::array(e_)) {
      if (absl::Status s = f(SimdjsonView(e)); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  template <typename F>
  absl::Status ForEachMember(F&& f) const {
    for (simdjson::dom::key_value_pair m : simdjson::dom::object(e_)) {
      if (absl::Status s = f(absl::string_view(m.key.data(), m.key.size()), SimdjsonView(m.value));
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

 private:
  simdjson::dom::element e_;
};

// Parses `text` with simdjson into the calling thread's parser, which keeps
// its buffers between calls. nullopt when simdjson refuses it.
//
// simdjson reads every document; nlohmann decides what simdjson refuses and
// every document whose conversion over simdjson fails, a repeated name
// included (nlohmann keeps a repeated name's last value, simdjson every
// value). A conversion that succeeds over simdjson has visited every object
// and met no repeat, so nlohmann would have read the document alike; a
// failure costs a second parse, on the rare bad document only.
absl::optional<SimdjsonView> ParseWithSimdjson(absl::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(text.data(), text.size()).get(document) != simdjson::SUCCESS) {
    return absl::nullopt;
  }
  return SimdjsonView(document);
}

// A name an object holds twice: only ever met over simdjson.
absl::Status RepeatedName(absl::string_view where) {
  return absl::InvalidArgumentError(absl::StrCat("metadata \"", where, "\" repeats a name"));
}

// ---------------------------------------------------------------------------
// JSON -> google.protobuf.Value/Struct, same depth convention.

template <typename View>
absl::Status JsonToStruct(View j, int depth, absl::string_view name, Struct* out);

template <typename View>
absl::Status JsonToValue(View j, int depth, absl::string_view name, Value* out) {
  switch (j.type()) {
    case JsonType::kNull:
      out->set_null_value(google::protobuf::NULL_VALUE);
      return absl::OkStatus();
    case JsonType::kBool:
      out->set_bool_value(j.boolean());
      return absl::OkStatus();
    case JsonType::kString:
      out->set_string_value(std::string(j.string()));
      return absl::OkStatus();
    case JsonType::kSigned:
      out->set_number_value(static_cast<double>(j.signed_integer()));
      return absl::OkStatus();
    case JsonType::kUnsigned:
      out->set_number_value(static_cast<double>(j.unsigned_integer()));
      return absl::OkStatus();
    case JsonType::kFloat:
      out->set_number_value(j.number());
      return absl::OkStatus();
    case JsonType::kObject:
      return JsonToStruct(j, depth, name, out->mutable_struct_value());
    case JsonType::kArray: {
      if (depth > kMaxJsonDepth) return TooDeep(name);
      ListValue* list = out->mutable_list_value();
      list->mutable_values()->Reserve(static_cast<int>(j.size()));
      return j.ForEachElement(
          [&](View element) { return JsonToValue(element, depth + 1, name, list->add_values()); });
    }
    case JsonType::kOther:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("metadata \"", name, "\" holds a value that is not JSON"));
}

template <typename View>
absl::Status JsonToStruct(View j, int depth, absl::string_view name, Struct* out) {
  if (depth > kMaxJsonDepth) return TooDeep(name);
  auto* fields = out->mutable_fields();
  return j.ForEachMember([&](absl::string_view key, View value) {
    auto [it, inserted] = fields->try_emplace(std::string(key));
    if (!inserted) return RepeatedName(name);
    return JsonToValue(value, depth + 1, name, &it->second);
  });
}

// ---------------------------------------------------------------------------
// Typed fields.

// The typed field's JSON text appended when set. Returns false when unset.
absl::StatusOr<bool> TypedToText(const v1::ClientMetadata& m, const Reflection* r,
                                 const FieldPlan& p, TextWriter& w) {
  const FieldDescriptor* f = p.field;
  switch (p.kind) {
    case Kind::kRepeatedString: {
      const int n = r->FieldSize(m, f);
      if (n == 0) return false;
      w.out->push_back('[');
      std::string scratch;
      for (int i = 0; i < n; ++i) {
        if (i > 0) w.out->push_back(',');
        w.String(r->GetRepeatedStringReference(m, f, i, &scratch));
      }
      w.out->push_back(']');
      return true;
    }
    case Kind::kEnum: {
      const int number = r->GetEnumValue(m, f);
      if (number == 0) return false;
      for (const EnumWire& e : p.enum_values) {
        if (e.number == number) {
          w.String(e.wire);
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
      w.String(r->GetStringReference(m, f, &scratch));
      return true;
    }
    case Kind::kBool:
      text::AppendBool(r->GetBool(m, f), w.out);
      return true;
    case Kind::kInt:
      text::AppendNumber(f->cpp_type() == FieldDescriptor::CPPTYPE_INT32
                             ? static_cast<int64_t>(r->GetInt32(m, f))
                             : r->GetInt64(m, f),
                         w.out);
      return true;
    case Kind::kUint:
      absl::StrAppend(w.out, f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32
                                 ? static_cast<uint64_t>(r->GetUInt32(m, f))
                                 : r->GetUInt64(m, f));
      return true;
    case Kind::kStruct: {
      absl::Status s =
          StructToText(static_cast<const Struct&>(r->GetMessage(m, f)), 2, f->name(), w);
      if (!s.ok()) return s;
      return true;
    }
    default:
      return false;  // handled above
  }
}

// Fills the typed field from `j` when its JSON type fits. Returns false when
// it does not (the caller then keeps the value in additional_metadata).
template <typename View>
absl::StatusOr<bool> JsonToTyped(View j, const FieldPlan& p, const Reflection* r,
                                 v1::ClientMetadata* m) {
  const FieldDescriptor* f = p.field;
  const JsonType type = j.type();
  switch (p.kind) {
    case Kind::kString:
      if (type != JsonType::kString) return false;
      r->SetString(m, f, std::string(j.string()));
      return true;
    case Kind::kBool:
      if (type != JsonType::kBool) return false;
      r->SetBool(m, f, j.boolean());
      return true;
    case Kind::kInt: {
      const bool is32 = f->cpp_type() == FieldDescriptor::CPPTYPE_INT32;
      const int64_t max =
          is32 ? std::numeric_limits<int32_t>::max() : std::numeric_limits<int64_t>::max();
      const int64_t min =
          is32 ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int64_t>::min();
      int64_t v;
      if (type == JsonType::kUnsigned) {
        const uint64_t u = j.unsigned_integer();
        if (u > static_cast<uint64_t>(max)) return false;
        v = static_cast<int64_t>(u);
      } else if (type == JsonType::kSigned) {
        v = j.signed_integer();
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
      if (type != JsonType::kUnsigned) return false;  // negative integers are kSigned
      const uint64_t u = j.unsigned_integer();
      if (is32) {
        if (u > std::numeric_limits<uint32_t>::max()) return false;
        r->SetUInt32(m, f, static_cast<uint32_t>(u));
      } else {
        r->SetUInt64(m, f, u);
      }
      return true;
    }
    case Kind::kEnum: {
      if (type != JsonType::kString) return false;
      const absl::string_view s = j.string();
      for (const EnumWire& w : p.enum_values) {
        if (w.wire == s) {
          r->SetEnumValue(m, f, w.number);
          return true;
        }
      }
      return false;
    }
    case Kind::kStruct: {
      if (type != JsonType::kObject) return false;
      absl::Status s = JsonToStruct(j, 2, f->name(), static_cast<Struct*>(r->MutableMessage(m, f)));
      if (!s.ok()) return s;
      return true;
    }
    case Kind::kRepeatedString: {
      if (type != JsonType::kArray || j.empty()) return false;  // [] kept verbatim
      bool all_strings = true;
      (void)j.ForEachElement([&](View e) {
        all_strings = e.type() == JsonType::kString;
        return all_strings ? absl::OkStatus() : absl::CancelledError();
      });
      if (!all_strings) return false;
      (void)j.ForEachElement([&](View e) {
        r->AddString(m, f, std::string(e.string()));
        return absl::OkStatus();
      });
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
template <typename View>
absl::optional<int64_t> TimestampSeconds(View j) {
  int64_t seconds;
  switch (j.type()) {
    case JsonType::kUnsigned: {
      const uint64_t u = j.unsigned_integer();
      if (u > static_cast<uint64_t>(kMaxTimestampSeconds)) return absl::nullopt;
      seconds = static_cast<int64_t>(u);
      break;
    }
    case JsonType::kSigned:
      seconds = j.signed_integer();
      break;
    case JsonType::kFloat: {
      const double d = j.number();
      if (std::trunc(d) != d || std::fabs(d) > kMaxExactInteger) return absl::nullopt;
      seconds = static_cast<int64_t>(d);
      break;
    }
    default:
      return absl::nullopt;
  }
  if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds) return absl::nullopt;
  return seconds;
}

// The response-only members of a client information response, as met.
template <typename View>
using ResponseOnlyValues = std::array<absl::optional<View>, kResponseOnlyCount>;

// Fills `m` (empty) from the members of `object` in one pass, and collects
// the response-only members into `response_only`.
template <typename View>
absl::Status FillMetadata(View object, v1::ClientMetadata& m,
                          ResponseOnlyValues<View>& response_only) {
  if (object.type() != JsonType::kObject) {
    return absl::InvalidArgumentError(
        absl::StrCat("client metadata must be a JSON object, not ", object.type_name()));
  }
  const Plan& plan = GetPlan();
  const Reflection* r = m.GetReflection();
  auto* additional = m.mutable_additional_metadata();
  // Which typed fields' names were met, whether or not their value fitted.
  absl::InlinedVector<bool, 64> typed_seen(plan.fields.size(), false);
  return object.ForEachMember([&](absl::string_view name, View value) -> absl::Status {
    if (const int i = ResponseOnlyIndex(name); i >= 0) {
      if (response_only[i].has_value()) return RepeatedName(name);
      response_only[i] = value;
      return absl::OkStatus();
    }
    if (auto it = plan.typed_by_name.find(name); it != plan.typed_by_name.end()) {
      if (typed_seen[it->second]) return RepeatedName(name);
      typed_seen[it->second] = true;
      absl::StatusOr<bool> filled = JsonToTyped(value, plan.fields[it->second], r, &m);
      if (!filled.ok()) return filled.status();
      if (*filled) return absl::OkStatus();
    }
    auto [entry, inserted] = additional->try_emplace(std::string(name));
    if (!inserted) return RepeatedName(name);
    return JsonToValue(value, 2, name, &entry->second);
  });
}

template <typename View>
absl::StatusOr<v1::ClientMetadata> MetadataFromView(View object) {
  v1::ClientMetadata m;
  ResponseOnlyValues<View> response_only;
  if (absl::Status s = FillMetadata(object, m, response_only); !s.ok()) return s;
  return m;
}

// Fills `info` (empty) from a client information response.
template <typename View>
absl::Status FillInformation(View j, v1::ClientInformation& info) {
  if (j.type() != JsonType::kObject) {
    return absl::InternalError(
        absl::StrCat("Authlete's responseContent is a JSON ", j.type_name(), ", not an object"));
  }
  ResponseOnlyValues<View> response_only;
  if (absl::Status s = FillMetadata(j, *info.mutable_metadata(), response_only); !s.ok()) {
    return absl::InternalError(absl::StrCat("Authlete's responseContent: ", s.message()));
  }
  auto member = [&response_only](absl::string_view name) -> absl::optional<View> {
    return response_only[ResponseOnlyIndex(name)];
  };
  if (absl::optional<View> v = member("client_id")) {
    switch (v->type()) {
      case JsonType::kString:
        info.set_client_id(std::string(v->string()));
        break;
      case JsonType::kUnsigned:
        info.set_client_id(std::to_string(v->unsigned_integer()));
        break;
      case JsonType::kSigned:
        info.set_client_id(std::to_string(v->signed_integer()));
        break;
      case JsonType::kFloat: {
        const double d = v->number();
        if (std::trunc(d) == d && std::fabs(d) <= kMaxExactInteger) {
          info.set_client_id(std::to_string(static_cast<int64_t>(d)));
        }
        break;
      }
      default:
        break;
    }
  }
  auto string_member = [&member](absl::string_view name, std::string* out) {
    if (absl::optional<View> v = member(name); v.has_value() && v->type() == JsonType::kString) {
      *out = std::string(v->string());
    }
  };
  string_member("client_secret", info.mutable_client_secret());
  if (absl::optional<View> v = member("client_id_issued_at")) {
    if (absl::optional<int64_t> s = TimestampSeconds(*v)) {
      info.mutable_client_id_issued_at()->set_seconds(*s);
    }
  }
  if (absl::optional<View> v = member("client_secret_expires_at")) {
    if (absl::optional<int64_t> s = TimestampSeconds(*v); s.has_value() && *s != 0) {
      info.mutable_client_secret_expires_at()->set_seconds(*s);
    }
  }
  string_member("registration_access_token", info.mutable_registration_access_token());
  string_member("registration_client_uri", info.mutable_registration_client_uri());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> MetadataToJsonString(const v1::ClientMetadata& metadata,
                                                 absl::string_view extra_client_id) {
  const Plan& plan = GetPlan();
  const Reflection* r = metadata.GetReflection();
  // Each member's value is written into `values` as it is met (typed fields
  // in the descriptor's order, then additional_metadata), so errors come in
  // that order; the object is then put together with its names sorted.
  struct Member {
    absl::string_view name;
    std::size_t begin, end;  // the value's text in `values`
  };
  std::string values;
  TextWriter w{&values};
  absl::InlinedVector<Member, 48> members;
  for (const FieldPlan& p : plan.fields) {
    if (p.field == plan.additional) continue;
    const std::size_t begin = values.size();
    absl::StatusOr<bool> set = TypedToText(metadata, r, p, w);
    if (!set.ok()) return set.status();
    if (*set) members.push_back({p.field->name(), begin, values.size()});
  }
  const std::size_t typed = members.size();
  auto is_typed = [&](absl::string_view name) {
    return std::any_of(members.begin(), members.begin() + typed,
                       [name](const Member& m) { return m.name == name; });
  };
  for (const auto& [name, v] : metadata.additional_metadata()) {
    if (is_typed(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metadata \"", name, "\" is set both as a typed field and in additional_metadata"));
    }
    const std::size_t begin = values.size();
    absl::Status s = ValueToText(v, 2, name, w);
    if (!s.ok()) return s;
    members.push_back({name, begin, values.size()});
  }
  if (!extra_client_id.empty() &&
      std::none_of(members.begin(), members.end(),
                   [](const Member& m) { return m.name == "client_id"; })) {
    const std::size_t begin = values.size();
    w.String(extra_client_id);
    members.push_back({"client_id", begin, values.size()});
  }
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.name < b.name; });
  std::string out;
  out.reserve(values.size() + 24 * members.size() + 2);
  TextWriter names{&out};
  out.push_back('{');
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out.push_back(',');
    names.String(members[i].name);
    out.push_back(':');
    out.append(values, members[i].begin, members[i].end - members[i].begin);
  }
  out.push_back('}');
  if (!w.utf8_ok || !names.utf8_ok) {
    return absl::InvalidArgumentError("client metadata holds a string that is not valid UTF-8");
  }
  return out;
}

absl::StatusOr<json> MetadataToJson(const v1::ClientMetadata& metadata,
                                    absl::string_view extra_client_id) {
  absl::StatusOr<std::string> text = MetadataToJsonString(metadata, extra_client_id);
  if (!text.ok()) return text.status();
  return json::parse(*text);  // valid JSON by construction
}

absl::StatusOr<v1::ClientMetadata> MetadataFromJson(const json& object) {
  return MetadataFromView(NlohmannView(object));
}

absl::StatusOr<v1::ClientMetadata> MetadataFromJsonString(absl::string_view json_text) {
  if (absl::optional<SimdjsonView> document = ParseWithSimdjson(json_text)) {
    absl::StatusOr<v1::ClientMetadata> m = MetadataFromView(*document);
    if (m.ok()) return m;
  }
  absl::StatusOr<json> j = Parse(json_text, absl::StatusCode::kInvalidArgument, "client metadata");
  if (!j.ok()) return j.status();
  return MetadataFromView(NlohmannView(*j));
}

absl::Status FillClientInformationFromJson(absl::string_view response_content,
                                          v1::ClientInformation& info) {
  info.Clear();
  if (absl::optional<SimdjsonView> document = ParseWithSimdjson(response_content)) {
    if (FillInformation(*document, info).ok()) return absl::OkStatus();
    info.Clear();
  }
  absl::StatusOr<json> j =
      Parse(response_content, absl::StatusCode::kInternal, "Authlete's responseContent");
  if (!j.ok()) return j.status();
  absl::Status s = FillInformation(NlohmannView(*j), info);
  if (!s.ok()) info.Clear();
  return s;
}

absl::StatusOr<v1::ClientInformation> ClientInformationFromJson(
    absl::string_view response_content) {
  v1::ClientInformation info;
  if (absl::Status s = FillClientInformationFromJson(response_content, info); !s.ok()) return s;
  return info;
}

}  // namespace dcr::metadata
