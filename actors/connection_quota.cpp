#include "actors/connection_quota.hpp"

#include <algorithm>
#include <limits>

#include <kj/exception.h>

#include "schema/wire.hpp"

namespace herald::actors {

std::optional<security::quota_kind> quota_kind_of(std::span<const char> request) {
  try {
    wire::message_reader reader(request);
    switch (reader.root<schema::Request>().which()) {
      case schema::Request::PRODUCE:
        return security::quota_kind::produce;
      case schema::Request::FETCH:
        return security::quota_kind::fetch;
      default:
        return std::nullopt;
    }
  } catch (const kj::Exception&) {
    return std::nullopt;
  }
}

std::uint32_t quota_throttle_ms(security::quota_registry* quotas, const std::string& principal,
                                std::optional<security::quota_kind> kind, std::size_t request_bytes,
                                std::size_t response_bytes, security::quota_registry::clock::time_point now) {
  if (quotas == nullptr || !kind || !quotas->enabled())
    return 0;
  const auto bytes = *kind == security::quota_kind::produce ? request_bytes : response_bytes;
  const auto pause = quotas->record(principal, *kind, bytes, now).count();
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(pause, 0, std::numeric_limits<std::uint32_t>::max()));
}

} // namespace herald::actors
