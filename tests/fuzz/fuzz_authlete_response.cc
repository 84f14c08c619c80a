// Whatever comes back from Authlete, or from whatever answers in its place:
// an HTTP status, a Retry-After, a transport outcome and a body. The first
// four bytes choose the first three; the rest is the body.
#include <cstddef>
#include <cstdint>

#include "service/authlete/authlete_response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  dcr::http::HttpResult result;
  result.status = (data[0] << 8 | data[1]) % 1000;
  const auto operation = static_cast<dcr::api::Operation>(data[2] % dcr::api::kOperationCount);
  switch (data[3] % 8) {
    case 0: result.transport = absl::UnavailableError("reset"); break;
    case 1: result.transport = absl::DeadlineExceededError("slow"); break;
    case 2: result.transport = absl::DataLossError("truncated"); break;
    case 3: result.transport = absl::CancelledError("shutdown"); break;
    default: break;  // a complete HTTP answer
  }
  result.request_sent = (data[3] & 0x10) != 0;
  if (data[3] & 0x20) result.retry_after = absl::Seconds(data[1]);
  result.body.assign(reinterpret_cast<const char*>(data + 4), size - 4);
  (void)dcr::authlete::InterpretHttpResult(operation, std::move(result));
  return 0;
}
