#pragma once
// The framed client listener (heraldd --listen): an io::broker that accepts
// TCP connections and forks one connection actor (actors/client_connection)
// per client, within the connection caps. Speaks only Herald's framing
// (protocol/frame.hpp); never BASP.

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "actors/client_connection.hpp"

namespace herald::security {
class connection_limits;
}

namespace herald::actors {

struct client_listener_args {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port
  client_connection_args connection;  // node, limits, budget for every connection
  std::uint64_t max_queued_request_bytes = 96ull << 20;  // broker-wide, all connections (queued_bytes_budget)
  // Total and per-IP connection caps (security/connection_limits); none when null.
  // Over a cap a connection gets a goodbye (throttled, saying which cap) and is closed at once.
  std::shared_ptr<security::connection_limits> connection_caps;
};

struct client_listener {
  caf::actor actor;
  std::uint16_t port = 0;  // the port actually bound
};

// Binds host:port (blocking until bound) and starts accepting. The listener
// dies with the node actor.
caf::expected<client_listener> spawn_client_listener(caf::actor_system& system, client_listener_args args);

} // namespace herald::actors
