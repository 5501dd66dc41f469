#pragma once
// Which failed requests a client tries again, and when. No CAF here: the
// producer and consumer actors ask these for their decisions.
//
// A partition request that failed because the client asked the wrong broker
// (notLeader: leadership moved; unknownPartition: that broker holds no
// replica, e.g. after a reassignment; partitionUnavailable: a replica
// restarting, or the connection to the broker lost) goes again once the
// client refreshed its metadata. throttled and timeout are transient too.
// Everything else (unknownTopic, recordTooLarge, storageError, ...) fails.

#include <chrono>
#include <optional>

#include "client/backoff.hpp"
#include "schema/client.capnp.h"

namespace herald::client {

// The request was sent to the wrong broker or the broker could not be
// reached: refresh where the partition lives and try again.
inline bool is_routing_error(schema::ErrorCode code) {
  using E = schema::ErrorCode;
  return code == E::NOT_LEADER || code == E::UNKNOWN_PARTITION || code == E::PARTITION_UNAVAILABLE;
}

// Whether a failed partition request may succeed if sent again.
inline bool is_worth_retrying(schema::ErrorCode code) {
  using E = schema::ErrorCode;
  return is_routing_error(code) || code == E::THROTTLED || code == E::TIMEOUT;
}

// The delay before the next attempt of a request due by `deadline`, or
// nullopt when that attempt could not start before it (the request then
// fails with its last error). Advances the back-off.
inline std::optional<std::chrono::milliseconds> retry_delay(backoff& b, std::chrono::steady_clock::time_point now,
                                                            std::chrono::steady_clock::time_point deadline) {
  const auto delay = b.next();
  if (now + delay >= deadline)
    return std::nullopt;
  return delay;
}

} // namespace herald::client
