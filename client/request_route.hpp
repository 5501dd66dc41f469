#pragma once
// Where a client request goes: a produce, fetch or listOffsets to the leader
// of its partition; everything else (metadata, admin) to any broker. No CAF.

#include <cstdint>
#include <span>
#include <string>

namespace herald::client {

struct request_route {
  bool to_leader = false;   // false: any broker will do
  std::string topic;        // with to_leader
  std::uint32_t partition = 0;
  bool metadata = false;    // a metadata request (its answer names the brokers)
  // How long the broker may take to answer it: the produce's timeoutMs, the
  // fetch's maxWaitMs (0 for the rest); the caller adds its margin.
  std::uint32_t broker_wait_ms = 0;
};

// Reads just enough of a schema/client.capnp Request to route it. A request
// that does not parse goes to any broker, which answers invalidRequest.
request_route route_of(std::span<const char> request);

} // namespace herald::client
