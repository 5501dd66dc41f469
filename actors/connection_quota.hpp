#pragma once
// What a client connection charges to its principal's quotas
// (security/quota.hpp), without CAF: a produce is charged its request's
// bytes, a fetch its response's bytes (what crossed the network for it),
// nothing else is charged. The connection actor asks for the kind before it
// forwards a request (the payload moves on) and for the throttle when the
// response comes back.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "security/quota.hpp"

namespace herald::actors {

// produce or fetch, or nullopt (any other request, or one that does not
// decode: the session refuses that itself, nothing is charged). Reads only
// the root's union tag, so it costs the same for a 64 MiB batch as for 1 byte.
std::optional<security::quota_kind> quota_kind_of(std::span<const char> request);

// The throttle_ms for the response frame: 0 without quotas or for requests
// that are not charged.
std::uint32_t quota_throttle_ms(security::quota_registry* quotas, const std::string& principal,
                                std::optional<security::quota_kind> kind, std::size_t request_bytes,
                                std::size_t response_bytes, security::quota_registry::clock::time_point now);

} // namespace herald::actors
