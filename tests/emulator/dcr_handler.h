// The Authlete DCR API proper: routing of the eight DCR paths, the ten
// client management paths and the two introspection paths (v2 and v3 of
// each), Authlete's authentication, request checks and the operations.
#ifndef DCR_TESTS_EMULATOR_DCR_HANDLER_H_
#define DCR_TESTS_EMULATOR_DCR_HANDLER_H_

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "tests/emulator/access_token_store.h"
#include "tests/emulator/client_store.h"
#include "tests/emulator/faults.h"
#include "tests/emulator/service_config.h"

namespace dcr::emulator {

// One of the DCR paths of contract §1, the management paths of §9 or the
// introspection paths of §10.
struct ApiRoute {
  int api_version = 3;     // 2 or 3
  Operation operation = Operation::kRegister;
  std::string service_id;  // from the v3 path; empty for v2
  std::string client_identifier;  // the management paths' last segment, as sent
};

// `path` without the query string. nullopt for anything else.
absl::optional<ApiRoute> ParseApiRoute(absl::string_view path);

struct ApiRequest {
  std::string method;
  absl::optional<std::string> authorization;  // the Authorization header, if any
  std::string content_type;
  std::string body;
  std::string query;  // after '?', as sent; empty when none
};

struct ApiResponse {
  int http_status = 200;
  std::string body;         // JSON text
  std::string action;       // DCR action, empty for refusals (for the request log)
  std::string result_code;  // e.g. "A202001"
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type
};

// Authlete failing inside (the internal_server_error fault): action
// INTERNAL_SERVER_ERROR for the operations that answer an action, a 500
// A001101 refusal for the management calls, which have none.
ApiResponse InternalServerErrorAnswer(Operation op);

// Authlete's refusal: `status` with {"resultCode","resultMessage"}.
ApiResponse MakeRefusal(int status, absl::string_view code, absl::string_view message);

// Refusal codes (README "Result codes").
inline constexpr char kCodeServerError[] = "A001101";        // 500
inline constexpr char kCodeTooManyRequests[] = "A001102";    // 429
inline constexpr char kCodeMethodNotAllowed[] = "A001103";   // 405
inline constexpr char kCodeNoSuchApi[] = "A001104";          // 404
inline constexpr char kCodeBodyTooLarge[] = "A001105";       // 413
inline constexpr char kCodeMalformedHttp[] = "A001106";      // 400
inline constexpr char kCodeAuthMissing[] = "A001202";        // 401
inline constexpr char kCodeAuthMalformed[] = "A001203";      // 401
inline constexpr char kCodeBadCredentials[] = "A001204";     // 401
inline constexpr char kCodeServiceForbidden[] = "A001205";   // 403
inline constexpr char kCodeNoSuchService[] = "A001206";      // 404
inline constexpr char kCodeBodyNotJson[] = "A001301";        // 400
inline constexpr char kCodeParamMissing[] = "A001302";       // 400
inline constexpr char kCodeParamNotString[] = "A001303";     // 400
inline constexpr char kCodeNoSuchClient[] = "A001207";       // 404
inline constexpr char kCodeBadRange[] = "A001304";           // 400
// Success of the management calls that answer a result (the emulator's own
// codes: Authlete's are not published in the contract).
inline constexpr char kCodeSecretRefreshed[] = "A148001";
inline constexpr char kCodeSecretUpdated[] = "A149001";
inline constexpr char kCodeLockFlagUpdated[] = "A243001";

class DcrHandler {
 public:
  // `store` and `tokens` must outlive the handler.
  DcrHandler(EmulatorConfig config, ClientStore* store, const AccessTokenStore* tokens);

  // Thread-safe (the configuration is immutable; the store locks itself).
  ApiResponse Handle(const ApiRoute& route, const ApiRequest& request) const;

 private:
  // Returns the service or fills `refusal`.
  const ServiceConfig* Authenticate(const ApiRoute& route, const ApiRequest& request,
                                    ApiResponse* refusal) const;
  ApiResponse Register(const ServiceConfig& service, const nlohmann::json& params) const;
  ApiResponse Get(const ServiceConfig& service, const nlohmann::json& params) const;
  ApiResponse Update(const ServiceConfig& service, const nlohmann::json& params) const;
  ApiResponse Delete(const ServiceConfig& service, const nlohmann::json& params) const;
  // Contract §9.
  ApiResponse Manage(const ServiceConfig& service, const ApiRoute& route,
                     const ApiRequest& request) const;
  ApiResponse ListClients(const ServiceConfig& service, const ApiRequest& request) const;

  const EmulatorConfig config_;
  ClientStore* const store_;
  const AccessTokenStore* const tokens_;
};

// The RFC 7591 client information response (responseContent).
nlohmann::json BuildClientInformation(const StoredClient& client, const ServiceConfig& service,
                                      const std::string& registration_access_token);
// Authlete's camelCase client record (`client`).
nlohmann::json BuildClientRecord(const StoredClient& client, const ServiceConfig& service);

}  // namespace dcr::emulator

#endif  // DCR_TESTS_EMULATOR_DCR_HANDLER_H_
