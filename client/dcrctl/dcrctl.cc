// dcrctl: a command-line client of dcr-gateway.
//
// Flags are absl flags, parsed by a small parser of our own (ParseArgs) rather
// than absl::ParseCommandLine, because absl exits with status 1 on a bad flag
// and on --help, while dcrctl promises 64 (EX_USAGE) for usage errors, 0 for
// --help, and rejects flags that do not apply to the command.
//
// The registration access token never travels as a flag value (ps would show
// it): it comes from --token_file or $DCR_REGISTRATION_ACCESS_TOKEN, and it
// is scrubbed from everything written to stderr.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "client/registration_client.h"

// Global flags.
ABSL_FLAG(std::string, address, "localhost:50051",
          "dcr-gateway address, host:port; $DCR_ADDRESS, when set, replaces the default.");
ABSL_FLAG(bool, tls, false,
          "Connect with TLS (implied by any other --tls_* flag).");
ABSL_FLAG(std::string, tls_ca_file, "", "CA bundle (PEM) that signed the gateway's certificate.");
ABSL_FLAG(std::string, tls_cert_file, "", "Client certificate (PEM), for mutual TLS.");
ABSL_FLAG(std::string, tls_key_file, "", "Client key (PEM), for mutual TLS.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to verify in the gateway's certificate, when not the address's host.");
ABSL_FLAG(std::string, api_key_file, "",
          "File holding this caller's API key for the gateway; otherwise $DCR_API_KEY.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10),
          "Deadline of the whole command, retries included, e.g. 10s, 500ms.");
ABSL_FLAG(std::string, output, "text",
          "Output format on stdout: text (a summary) or json (the response message as one JSON "
          "document, proto field names).");
ABSL_FLAG(std::string, service_id, "",
          "Authlete service id (numeric API key). Empty: the gateway's default service.");

// get / update / delete.
ABSL_FLAG(std::string, client_id, "",
          "The client identifier (get, update, delete, rotate-secret, lock, unlock).");
ABSL_FLAG(std::string, token_file, "",
          "File holding the registration access token (get, update, delete); - reads stdin. "
          "Default: $DCR_REGISTRATION_ACCESS_TOKEN.");

// list.
ABSL_FLAG(int32_t, page_size, 0, "Clients per page (list): 0 is the gateway's default (100), "
          "larger values are clamped to 100.");
ABSL_FLAG(std::string, page_token, "", "next_page_token of the previous page (list).");
ABSL_FLAG(std::string, developer, "", "Only the clients of this developer (list).");
// rotate-secret.
ABSL_FLAG(std::string, new_secret_file, "",
          "File holding the client secret to set (rotate-secret); - reads stdin. Without it, "
          "Authlete generates the new secret.");
// register: the request_id that makes a retry safe.
ABSL_FLAG(std::string, request_id, "",
          "A UUID naming this registration (register): run dcrctl again with the same "
          "value to retry it without creating a second client. Default: a new one per "
          "run, reused by dcrctl's own retries.");

// register / update: metadata as a JSON document...
ABSL_FLAG(std::string, metadata_file, "",
          "RFC 7591 metadata JSON document (register, update), sent verbatim; - reads stdin. "
          "Not together with the typed metadata flags.");
// ...or typed.
ABSL_FLAG(std::string, client_name, "", "Metadata client_name.");
ABSL_FLAG(std::string, redirect_uris, "", "Metadata redirect_uris, comma separated.");
ABSL_FLAG(std::string, grant_types, "", "Metadata grant_types, comma separated.");
ABSL_FLAG(std::string, response_types, "",
          "Metadata response_types, comma separated (e.g. \"code,code id_token\").");
ABSL_FLAG(std::string, scope, "", "Metadata scope, space separated.");
ABSL_FLAG(std::string, token_endpoint_auth_method, "", "Metadata token_endpoint_auth_method.");
ABSL_FLAG(std::string, application_type, "", "Metadata application_type: web or native.");
ABSL_FLAG(std::string, contacts, "", "Metadata contacts, comma separated.");
ABSL_FLAG(std::string, jwks_uri, "", "Metadata jwks_uri.");
ABSL_FLAG(std::string, software_id, "", "Metadata software_id.");
ABSL_FLAG(std::string, software_version, "", "Metadata software_version.");

namespace {

namespace v1 = ::dcr::v1;
using ::dcr::client::RegistrationClient;

constexpr int kExitUsage = 64;  // sysexits.h EX_USAGE
constexpr char kTokenEnv[] = "DCR_REGISTRATION_ACCESS_TOKEN";
constexpr char kAddressEnv[] = "DCR_ADDRESS";
constexpr char kApiKeyEnv[] = "DCR_API_KEY";
// A bound on what is read from a file or stdin, so a wrong path (a device,
// a huge log) cannot exhaust memory; far above any real metadata document.
constexpr std::size_t kMaxInputBytes = 8 << 20;

constexpr char kUsage[] = R"(dcrctl: register and manage OAuth clients through dcr-gateway.

Usage: dcrctl <command> [flags]

Commands:
  register  Register a client (RFC 7591). Metadata comes from
            --metadata_file=PATH (or - for stdin), a JSON document sent
            verbatim, or from the typed metadata flags (--client_name,
            --redirect_uris, ...), not both. --request_id=UUID names the
            registration: a retry with the same value gets the same client.
  get       Read a client's registration (RFC 7592). Needs --client_id and
            the registration access token.
  update    Replace a client's metadata (RFC 7592; fields left out are
            removed). Needs --client_id, the token, and metadata as for
            register.
  delete    Delete a client (RFC 7592). Needs --client_id and the token.

Administrative commands (the caller's policy must name their RPCs; no
registration access token, the gateway's own Authlete credential is used):
  list           List the service's clients, a page at a time (--page_size,
                 --page_token, --developer). Secrets are never listed.
  rotate-secret  Give --client_id a new secret, generated by Authlete, or
                 the one in --new_secret_file. Prints the new secret.
  lock           Lock --client_id (it stops working; no deletion).
  unlock         Unlock --client_id.

The registration access token is a secret: dcrctl reads it from
--token_file=PATH (- for stdin) or from $DCR_REGISTRATION_ACCESS_TOKEN, never
from a command-line value.

Output: the response on stdout (--output=text or json). Errors on stderr:
status code, message and the gateway's RegistrationError fields.
Exit status: 0 on success; on failure the gRPC status code (3
INVALID_ARGUMENT, 4 DEADLINE_EXCEEDED, 7 PERMISSION_DENIED, 13 INTERNAL,
14 UNAVAILABLE, 16 UNAUTHENTICATED, ...); 64 on a usage error.

Examples:
  dcrctl register --client_name=Demo --redirect_uris=https://app.example.com/cb
  dcrctl register --metadata_file=client.json --output=json | jq -r .client.client_id
  DCR_REGISTRATION_ACCESS_TOKEN=... dcrctl get --client_id=26837717140341
  dcrctl delete --client_id=26837717140341 --token_file=token.txt
  dcrctl list --page_size=50
  dcrctl rotate-secret --client_id=26837717140341 --output=json | jq -r .new_client_secret
  dcrctl lock --client_id=26837717140341
)";

const std::set<std::string>& GlobalFlags() {
  static const auto* flags = new std::set<std::string>{
      "address", "timeout", "output", "service_id", "tls", "tls_ca_file", "tls_cert_file",
      "tls_key_file", "tls_server_name", "api_key_file"};
  return *flags;
}
const std::set<std::string>& TypedMetadataFlags() {
  static const auto* flags = new std::set<std::string>{
      "client_name", "redirect_uris", "grant_types", "response_types",
      "scope", "token_endpoint_auth_method", "application_type", "contacts",
      "jwks_uri", "software_id", "software_version"};
  return *flags;
}

// The flags a command accepts besides the global ones.
std::set<std::string> CommandFlags(const std::string& command) {
  std::set<std::string> flags;
  const bool targets_client = command == "get" || command == "update" || command == "delete";
  const bool has_metadata = command == "register" || command == "update";
  if (targets_client) flags.insert({"client_id", "token_file"});
  if (command == "list") flags.insert({"page_size", "page_token", "developer"});
  if (command == "rotate-secret") flags.insert({"client_id", "new_secret_file"});
  if (command == "lock" || command == "unlock") flags.insert("client_id");
  if (command == "register") flags.insert("request_id");
  if (has_metadata) {
    flags.insert("metadata_file");
    flags.insert(TypedMetadataFlags().begin(), TypedMetadataFlags().end());
  }
  return flags;
}

struct Args {
  std::vector<std::string> positional;
  std::set<std::string> specified;  // flag names given on the command line
  bool help = false;
};

bool IsDcrctlFlag(const absl::CommandLineFlag& flag) {
  return absl::EndsWith(flag.Filename(), "dcrctl.cc");
}

// Parses argv into the absl flags defined in this file; see the file comment.
absl::StatusOr<Args> ParseArgs(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) args.positional.emplace_back(argv[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      args.positional.emplace_back(arg);
      continue;
    }
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    absl::string_view name = arg;
    absl::optional<absl::string_view> value;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (name == "help" || name == "helpfull" || name == "h" || name == "?") {
      args.help = true;
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr || !IsDcrctlFlag(*flag)) {
      if (name == "token" || name == "registration_access_token") {
        return absl::InvalidArgumentError(absl::StrCat(
            "--", name, " is not accepted: a token on the command line is visible to other "
            "users (ps). Use --token_file=PATH or $", kTokenEnv));
      }
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!value.has_value()) {
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = absl::string_view(argv[++i]);
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("bad value for --", name, ": ", error));
    }
    args.specified.insert(std::string(name));
  }
  return args;
}

void PrintHelp(std::ostream& out) {
  out << kUsage << "\nFlags:\n";
  std::map<std::string, absl::CommandLineFlag*> flags;  // sorted by name
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (IsDcrctlFlag(*flag)) flags.emplace(std::string(name), flag);
  }
  auto print_group = [&](const std::string& title, auto&& keep) {
    out << "  " << title << ":\n";
    for (const auto& [name, flag] : flags) {
      if (!keep(name)) continue;
      out << "    --" << name << "  " << flag->Help();
      if (!flag->DefaultValue().empty()) out << " (default: " << flag->DefaultValue() << ")";
      out << "\n";
    }
  };
  print_group("global", [](const std::string& n) { return GlobalFlags().count(n) > 0; });
  print_group("get, update, delete", [](const std::string& n) {
    return n == "client_id" || n == "token_file";
  });
  print_group("register", [](const std::string& n) { return n == "request_id"; });
  print_group("register, update", [](const std::string& n) {
    return n == "metadata_file" || TypedMetadataFlags().count(n) > 0;
  });
  print_group("list", [](const std::string& n) {
    return n == "page_size" || n == "page_token" || n == "developer";
  });
  print_group("rotate-secret", [](const std::string& n) { return n == "new_secret_file"; });
  out << "  other:\n    --help  Show this help.\n";
}

// Reads all of `path` ("-": stdin), up to kMaxInputBytes.
absl::StatusOr<std::string> ReadInput(const std::string& path, const std::string& what) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " ", path));
    in = &file;
  }
  std::string data;
  char buffer[64 * 1024];
  while (in->read(buffer, sizeof buffer) || in->gcount() > 0) {
    data.append(buffer, static_cast<size_t>(in->gcount()));
    if (data.size() > kMaxInputBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", path, " is larger than ", kMaxInputBytes, " bytes"));
    }
  }
  if (in->bad()) return absl::InvalidArgumentError(absl::StrCat("error reading ", what, " ", path));
  return data;
}

std::vector<std::string> SplitList(const std::string& value) {
  std::vector<std::string> items;
  for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    items.emplace_back(absl::StripAsciiWhitespace(item));
  }
  return items;
}

// The metadata of register/update, as one of the request's oneof members.
struct Metadata {
  absl::optional<std::string> json;
  v1::ClientMetadata typed;
};

absl::StatusOr<Metadata> LoadMetadata(const Args& args) {
  std::vector<std::string> typed_given;
  for (const std::string& name : TypedMetadataFlags()) {
    if (args.specified.count(name)) typed_given.push_back("--" + name);
  }
  const bool file_given = args.specified.count("metadata_file") > 0;
  if (file_given && !typed_given.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metadata_file and typed metadata flags (", absl::StrJoin(typed_given, ", "),
        ") are mutually exclusive"));
  }
  Metadata metadata;
  if (file_given) {
    // Sent verbatim: the gateway and Authlete judge the document.
    absl::StatusOr<std::string> json =
        ReadInput(absl::GetFlag(FLAGS_metadata_file), "metadata file");
    if (!json.ok()) return json.status();
    metadata.json = *std::move(json);
    return metadata;
  }
  if (typed_given.empty()) {
    return absl::InvalidArgumentError(
        "metadata needed: --metadata_file=PATH|- or typed flags such as --client_name, "
        "--redirect_uris");
  }
  v1::ClientMetadata& m = metadata.typed;
  auto given = [&](const char* name) { return args.specified.count(name) > 0; };
  if (given("client_name")) m.set_client_name(absl::GetFlag(FLAGS_client_name));
  if (given("scope")) m.set_scope(absl::GetFlag(FLAGS_scope));
  if (given("token_endpoint_auth_method")) {
    m.set_token_endpoint_auth_method(absl::GetFlag(FLAGS_token_endpoint_auth_method));
  }
  if (given("jwks_uri")) m.set_jwks_uri(absl::GetFlag(FLAGS_jwks_uri));
  if (given("software_id")) m.set_software_id(absl::GetFlag(FLAGS_software_id));
  if (given("software_version")) m.set_software_version(absl::GetFlag(FLAGS_software_version));
  for (auto& uri : SplitList(absl::GetFlag(FLAGS_redirect_uris))) m.add_redirect_uris(uri);
  for (auto& g : SplitList(absl::GetFlag(FLAGS_grant_types))) m.add_grant_types(g);
  for (auto& r : SplitList(absl::GetFlag(FLAGS_response_types))) m.add_response_types(r);
  for (auto& c : SplitList(absl::GetFlag(FLAGS_contacts))) m.add_contacts(c);
  if (given("application_type")) {
    const std::string type = absl::GetFlag(FLAGS_application_type);
    if (type == "web") {
      m.set_application_type(v1::APPLICATION_TYPE_WEB);
    } else if (type == "native") {
      m.set_application_type(v1::APPLICATION_TYPE_NATIVE);
    } else {
      return absl::InvalidArgumentError("--application_type must be web or native");
    }
  }
  return metadata;
}

absl::StatusOr<std::string> LoadToken(const Args& args) {
  std::string token;
  if (args.specified.count("token_file")) {
    const std::string path = absl::GetFlag(FLAGS_token_file);
    if (path == "-" && absl::GetFlag(FLAGS_metadata_file) == "-") {
      return absl::InvalidArgumentError("--token_file and --metadata_file cannot both read stdin");
    }
    absl::StatusOr<std::string> data = ReadInput(path, "token file");
    if (!data.ok()) return data.status();
    token = std::string(absl::StripAsciiWhitespace(*data));  // editors add a newline
    if (token.empty()) return absl::InvalidArgumentError("token file " + path + " is empty");
  } else if (const char* env = std::getenv(kTokenEnv); env != nullptr && *env != '\0') {
    token = std::string(absl::StripAsciiWhitespace(env));
  }
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "registration access token needed: --token_file=PATH or $", kTokenEnv));
  }
  return token;
}

// ---- output ----

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = false;
  options.add_whitespace = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    return "{}\n";  // cannot happen for a parsed message; stay valid JSON
  }
  return json;
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime(absl::RFC3339_sec,
                          absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos()),
                          absl::UTCTimeZone());
}

// One "name: value" line per set metadata field, in field order.
void PrintMetadataText(const v1::ClientMetadata& metadata, std::ostream& out) {
  const google::protobuf::Reflection* reflection = metadata.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(metadata, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    using FD = google::protobuf::FieldDescriptor;
    if (field->is_map()) continue;  // additional_metadata, below
    std::string value;
    if (field->is_repeated()) {
      std::vector<std::string> items;
      for (int i = 0; i < reflection->FieldSize(metadata, field); ++i) {
        if (field->cpp_type() == FD::CPPTYPE_STRING) {
          items.push_back(reflection->GetRepeatedString(metadata, field, i));
        }
      }
      value = absl::StrJoin(items, ", ");
    } else {
      switch (field->cpp_type()) {
        case FD::CPPTYPE_STRING: value = reflection->GetString(metadata, field); break;
        case FD::CPPTYPE_BOOL: value = reflection->GetBool(metadata, field) ? "true" : "false"; break;
        case FD::CPPTYPE_INT64: value = absl::StrCat(reflection->GetInt64(metadata, field)); break;
        case FD::CPPTYPE_ENUM: value = reflection->GetEnum(metadata, field)->name(); break;
        case FD::CPPTYPE_MESSAGE: {
          google::protobuf::util::JsonPrintOptions options;
          options.preserve_proto_field_names = true;
          (void)google::protobuf::util::MessageToJsonString(
              reflection->GetMessage(metadata, field), &value, options);
          break;
        }
        default: value = "(unprintable)"; break;
      }
    }
    out << "  " << field->name() << ": " << value << "\n";
  }
  std::map<std::string, std::string> extra;  // sorted for stable output
  for (const auto& [name, json_value] : metadata.additional_metadata()) {
    google::protobuf::util::JsonPrintOptions options;
    std::string value;
    (void)google::protobuf::util::MessageToJsonString(json_value, &value, options);
    extra.emplace(name, value);
  }
  for (const auto& [name, value] : extra) out << "  " << name << ": " << value << "\n";
}

// Text output shows a secret only when the caller cannot have it yet: a new
// client's secret and token, or a token an update rotated. Terminals and
// scrollback are logs too. --output=json always carries everything.
void PrintClientText(const v1::ClientInformation& client, bool new_client,
                     absl::string_view presented_token, std::ostream& out) {
  constexpr char kHidden[] = "(hidden; --output=json shows it)";
  out << "client_id: " << client.client_id() << "\n";
  if (!client.client_secret().empty()) {
    out << "client_secret: " << (new_client ? client.client_secret() : kHidden) << "\n";
  }
  if (!client.registration_access_token().empty()) {
    const bool rotated = client.registration_access_token() != presented_token;
    out << "registration_access_token: "
        << (new_client || rotated ? client.registration_access_token() : kHidden)
        << (!new_client && rotated ? "  (rotated: the old token no longer works)" : "")
        << "\n";
  }
  if (!client.registration_client_uri().empty()) {
    out << "registration_client_uri: " << client.registration_client_uri() << "\n";
  }
  if (client.has_client_id_issued_at()) {
    out << "client_id_issued_at: " << FormatTimestamp(client.client_id_issued_at()) << "\n";
  }
  out << "client_secret_expires_at: "
      << (client.has_client_secret_expires_at()
              ? FormatTimestamp(client.client_secret_expires_at())
              : std::string("never"))
      << "\n";
  out << "metadata:\n";
  PrintMetadataText(client.metadata(), out);
}

template <typename Response>
void PrintSummaryLine(const std::string& what, const Response& response, std::ostream& out) {
  out << what << " (" << v1::Action_Name(response.action()) << ", HTTP " << response.http_status();
  if (!response.result_code().empty()) out << ", " << response.result_code();
  out << ")\n";
}

// ---- errors ----

// Removes the token from text bound for stderr, should any layer echo it.
std::string Scrub(std::string text, const std::string& token) {
  if (token.size() >= 4) absl::StrReplaceAll({{token, "[REDACTED]"}}, &text);
  return text;
}

int ReportError(const std::string& command, const absl::Status& status, const std::string& token) {
  std::ostringstream err;
  err << "dcrctl: " << command << " failed: " << absl::StatusCodeToString(status.code()) << " ("
      << static_cast<int>(status.code()) << "): " << status.message() << "\n";
  if (absl::optional<v1::RegistrationError> detail = dcr::client::GetRegistrationError(status)) {
    err << "  reason: " << v1::ErrorReason_Name(detail->reason()) << "\n";
    if (detail->action() != v1::ACTION_UNSPECIFIED) {
      err << "  action: " << v1::Action_Name(detail->action()) << "\n";
    }
    if (detail->http_status() != 0) err << "  http_status: " << detail->http_status() << "\n";
    if (!detail->error().empty()) err << "  error: " << detail->error() << "\n";
    if (!detail->error_description().empty()) {
      err << "  error_description: " << detail->error_description() << "\n";
    }
    if (!detail->result_code().empty()) err << "  result_code: " << detail->result_code() << "\n";
    if (detail->upstream_http_status() != 0) {
      err << "  upstream_http_status: " << detail->upstream_http_status() << "\n";
    }
    if (detail->has_retry_after()) {
      err << "  retry_after: " << detail->retry_after().seconds() << "s\n";
    }
    if (detail->may_have_been_processed()) {
      err << "  may_have_been_processed: true\n";
      if (command == "register") {
        err << "  note: the client may have been registered although no answer arrived; "
               "check before registering again\n";
      }
    }
  }
  std::cerr << Scrub(err.str(), token) << std::flush;
  return static_cast<int>(status.code());
}

int UsageError(const std::string& message) {
  std::cerr << "dcrctl: " << message << "\nRun 'dcrctl --help' for usage.\n";
  return kExitUsage;
}

// ---- commands ----

struct Context {
  RegistrationClient client;
  dcr::client::CallOptions call_options;
  bool json = false;
};

// A request to the --service_id service.
template <typename Request>
Request ServiceRequest() {
  Request request;
  request.set_service_id(absl::GetFlag(FLAGS_service_id));
  return request;
}

// A request naming the --client_id client, with its token.
template <typename Request>
Request ClientRequest(const std::string& token) {
  Request request = ServiceRequest<Request>();
  request.set_client_id(absl::GetFlag(FLAGS_client_id));
  request.set_registration_access_token(token);
  return request;
}

// The metadata, verbatim JSON or typed, into a Register or Update request.
template <typename Request>
void SetMetadata(const Metadata& metadata, Request& request) {
  if (metadata.json) {
    request.set_metadata_json(*metadata.json);
  } else {
    *request.mutable_metadata() = metadata.typed;
  }
}

// The command's end: the error on stderr, or the response on stdout as JSON
// or as `print_text` writes it. The exit status.
template <typename Response, typename PrintText>
int Report(const Context& ctx, const std::string& command,
           const absl::StatusOr<Response>& response, const std::string& token,
           PrintText print_text) {
  if (!response.ok()) return ReportError(command, response.status(), token);
  if (ctx.json) {
    std::cout << ToJson(*response);
  } else {
    print_text(*response);
  }
  return 0;
}

// A summary line "<what> <client id> (...)" and the client.
template <typename Response>
void PrintClientResponse(const std::string& what, const Response& response, bool new_client,
                         const std::string& token) {
  PrintSummaryLine(what + " " + response.client().client_id(), response, std::cout);
  PrintClientText(response.client(), new_client, token, std::cout);
}

int RunRegister(Context& ctx, const Args& args) {
  absl::StatusOr<Metadata> metadata = LoadMetadata(args);
  if (!metadata.ok()) return UsageError(std::string(metadata.status().message()));
  auto request = ServiceRequest<v1::RegisterClientRequest>();
  SetMetadata(*metadata, request);
  request.set_request_id(absl::GetFlag(FLAGS_request_id));
  return Report(ctx, "register", ctx.client.RegisterClient(request, ctx.call_options), "",
                [](const v1::RegisterClientResponse& response) {
                  PrintClientResponse("Registered client", response, /*new_client=*/true, "");
                });
}

int RunGet(Context& ctx, const std::string& token) {
  const auto request = ClientRequest<v1::GetClientRequest>(token);
  return Report(ctx, "get", ctx.client.GetClient(request, ctx.call_options), token,
                [&](const v1::GetClientResponse& response) {
                  PrintClientResponse("Client", response, /*new_client=*/false, token);
                });
}

int RunUpdate(Context& ctx, const Args& args, const std::string& token) {
  absl::StatusOr<Metadata> metadata = LoadMetadata(args);
  if (!metadata.ok()) return UsageError(std::string(metadata.status().message()));
  auto request = ClientRequest<v1::UpdateClientRequest>(token);
  SetMetadata(*metadata, request);
  return Report(ctx, "update", ctx.client.UpdateClient(request, ctx.call_options), token,
                [&](const v1::UpdateClientResponse& response) {
                  PrintClientResponse("Updated client", response, /*new_client=*/false, token);
                });
}

int RunDelete(Context& ctx, const std::string& token) {
  const auto request = ClientRequest<v1::DeleteClientRequest>(token);
  return Report(ctx, "delete", ctx.client.DeleteClient(request, ctx.call_options), token,
                [](const v1::DeleteClientResponse& response) {
                  PrintSummaryLine("Deleted client " + absl::GetFlag(FLAGS_client_id), response,
                                   std::cout);
                });
}

// A table of one page of clients: a header, one row per client, and where
// the listing goes on.
void PrintClientTable(const v1::ListClientsResponse& response, std::ostream& out) {
  const std::vector<std::string> header = {"CLIENT_ID", "CLIENT_NAME", "TYPE",
                                           "DEVELOPER", "LOCKED",      "CREATED"};
  std::vector<std::vector<std::string>> rows = {header};
  for (const v1::ClientRecord& c : response.clients()) {
    const std::string type_name = v1::ClientType_Name(c.client_type());
    absl::string_view type = type_name;
    absl::ConsumePrefix(&type, "CLIENT_TYPE_");
    rows.push_back({c.client_id(), c.client_name().empty() ? "-" : c.client_name(),
                    std::string(type),
                    c.developer().empty() ? "-" : c.developer(), c.locked() ? "yes" : "no",
                    c.has_created_at() ? FormatTimestamp(c.created_at()) : "-"});
  }
  std::vector<size_t> widths(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
  out << response.clients_size() << " of " << response.total_count() << " clients";
  if (!response.next_page_token().empty()) {
    out << "; next page: --page_token=" << response.next_page_token();
  }
  out << "\n";
}

int RunList(Context& ctx) {
  auto request = ServiceRequest<v1::ListClientsRequest>();
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  request.set_page_token(absl::GetFlag(FLAGS_page_token));
  request.set_developer(absl::GetFlag(FLAGS_developer));
  return Report(ctx, "list", ctx.client.ListClients(request, ctx.call_options), "",
                [](const v1::ListClientsResponse& response) {
                  PrintClientTable(response, std::cout);
                });
}

// `secret`: the one to set, or empty for Authlete's. Scrubbed from errors.
int RunRotateSecret(Context& ctx, const std::string& secret) {
  auto request = ServiceRequest<v1::RotateClientSecretRequest>();
  request.set_client_id(absl::GetFlag(FLAGS_client_id));
  if (!secret.empty()) request.set_new_client_secret(secret);
  return Report(ctx, "rotate-secret", ctx.client.RotateClientSecret(request, ctx.call_options),
                secret, [](const v1::RotateClientSecretResponse& response) {
                  std::cout << "Rotated the secret of client " << absl::GetFlag(FLAGS_client_id);
                  if (!response.result_code().empty()) {
                    std::cout << " (" << response.result_code() << ")";
                  }
                  // The caller cannot have it yet: shown, as a new client's is.
                  std::cout << "\nclient_secret: " << response.new_client_secret()
                            << "\nThe old secret no longer works.\n";
                });
}

int RunSetLocked(Context& ctx, bool locked) {
  auto request = ServiceRequest<v1::SetClientLockedRequest>();
  request.set_client_id(absl::GetFlag(FLAGS_client_id));
  request.set_locked(locked);
  return Report(ctx, locked ? "lock" : "unlock",
                ctx.client.SetClientLocked(request, ctx.call_options), "",
                [locked](const v1::SetClientLockedResponse& response) {
                  std::cout << (locked ? "Locked" : "Unlocked") << " client "
                            << absl::GetFlag(FLAGS_client_id);
                  if (!response.result_code().empty()) {
                    std::cout << " (" << response.result_code() << ")";
                  }
                  std::cout << "\n";
                });
}

bool IsCommand(const std::string& command) {
  static const auto* commands = new std::set<std::string>{
      "register", "get", "update", "delete", "list", "rotate-secret", "lock", "unlock"};
  return commands->count(command) > 0;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  absl::StatusOr<Args> args = ParseArgs(argc, argv);
  if (!args.ok()) return UsageError(std::string(args.status().message()));
  if (args->help || (args->positional.size() == 1 && args->positional[0] == "help")) {
    PrintHelp(std::cout);
    return 0;
  }
  if (args->positional.empty()) {
    return UsageError(
        "missing command (register, get, update, delete, list, rotate-secret, lock, unlock)");
  }
  if (args->positional.size() > 1) {
    return UsageError("unexpected argument '" + args->positional[1] + "'");
  }
  const std::string command = args->positional[0];
  if (!IsCommand(command)) return UsageError("unknown command '" + command + "'");
  const std::set<std::string> allowed = CommandFlags(command);
  for (const std::string& name : args->specified) {
    if (!GlobalFlags().count(name) && !allowed.count(name)) {
      return UsageError("--" + name + " does not apply to " + command);
    }
  }

  const std::string output = absl::GetFlag(FLAGS_output);
  if (output != "text" && output != "json") return UsageError("--output must be text or json");
  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  if (timeout <= absl::ZeroDuration()) return UsageError("--timeout must be positive");

  if (absl::GetFlag(FLAGS_page_size) < 0) return UsageError("--page_size must not be negative");
  std::string token;
  if (command != "register" && command != "list") {
    if (!args->specified.count("client_id") || absl::GetFlag(FLAGS_client_id).empty()) {
      return UsageError(command + " needs --client_id");
    }
  }
  // The secret to set is a secret too: from a file, never argv.
  std::string new_secret;
  if (args->specified.count("new_secret_file")) {
    absl::StatusOr<std::string> data =
        ReadInput(absl::GetFlag(FLAGS_new_secret_file), "secret file");
    if (!data.ok()) return UsageError(std::string(data.status().message()));
    new_secret = std::string(absl::StripAsciiWhitespace(*data));
    if (new_secret.empty()) return UsageError("the secret file is empty");
  }
  if (command == "get" || command == "update" || command == "delete") {
    absl::StatusOr<std::string> loaded = LoadToken(*args);
    if (!loaded.ok()) return UsageError(std::string(loaded.status().message()));
    token = *std::move(loaded);
  }

  std::string address = absl::GetFlag(FLAGS_address);
  if (!args->specified.count("address")) {
    if (const char* env = std::getenv(kAddressEnv); env != nullptr && *env != '\0') address = env;
  }
  dcr::client::ChannelOptions channel_options;
  channel_options.user_agent_prefix = "dcrctl/0.1";
  channel_options.health_check = false;  // one call: nothing to balance
  if (absl::GetFlag(FLAGS_tls) || args->specified.count("tls_ca_file") ||
      args->specified.count("tls_cert_file") || args->specified.count("tls_server_name")) {
    channel_options.tls = dcr::client::TlsOptions{
        absl::GetFlag(FLAGS_tls_ca_file), absl::GetFlag(FLAGS_tls_cert_file),
        absl::GetFlag(FLAGS_tls_key_file), absl::GetFlag(FLAGS_tls_server_name)};
  }
  // The API key is a secret: from a file or the environment, never argv.
  if (args->specified.count("api_key_file")) {
    absl::StatusOr<std::string> key = ReadInput(absl::GetFlag(FLAGS_api_key_file), "API key file");
    if (!key.ok()) return UsageError(std::string(key.status().message()));
    channel_options.api_key = std::string(absl::StripAsciiWhitespace(*key));
    if (channel_options.api_key.empty()) return UsageError("the API key file is empty");
  } else if (const char* env = std::getenv(kApiKeyEnv); env != nullptr && *env != '\0') {
    channel_options.api_key = std::string(absl::StripAsciiWhitespace(env));
  }
  auto channel = dcr::client::MakeChannel(address, channel_options);
  if (!channel.ok()) return UsageError(std::string(channel.status().message()));

  Context ctx{RegistrationClient(dcr::client::MakeGrpcRegistrationConnection(*channel)), {},
              output == "json"};
  ctx.call_options.timeout = timeout;

  if (command == "register") return RunRegister(ctx, *args);
  if (command == "get") return RunGet(ctx, token);
  if (command == "update") return RunUpdate(ctx, *args, token);
  if (command == "delete") return RunDelete(ctx, token);
  if (command == "list") return RunList(ctx);
  if (command == "rotate-secret") return RunRotateSecret(ctx, new_secret);
  return RunSetLocked(ctx, command == "lock");
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
