#include "service/core/call.h"

namespace dcr::core {

int HttpStatusForAction(v1::Action action) {
  switch (action) {
    case v1::ACTION_CREATED:
      return 201;
    case v1::ACTION_OK:
    case v1::ACTION_UPDATED:
      return 200;
    case v1::ACTION_DELETED:
      return 204;
    case v1::ACTION_BAD_REQUEST:
      return 400;
    case v1::ACTION_UNAUTHORIZED:
      return 401;
    default:
      return 500;
  }
}

}  // namespace dcr::core
