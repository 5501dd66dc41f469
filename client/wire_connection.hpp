#pragma once
// One framed connection to one broker (protocol/frame.hpp), as an actor: a
// CAF io::broker that owns the socket. It stands in for the broker's session
// actor of the old BASP protocol, with the same interface:
//   (caf::connect_atom) -> int32_t       once connected and the hello answered: the broker's node id
//   (request_atom, std::vector<char> request) -> std::vector<char> response
// Several requests go out at once, each with its correlation id; responses
// come back in any order and are matched by it. The TCP connect runs on a
// detached helper (client/connector.hpp), so neither this actor nor the
// middleman ever blocks on it; requests sent meanwhile wait for the hello.
//
// When the connection is lost (refused, closed, goodbye, malformed frames,
// no hello reply within the connect timeout, silence past the liveness
// timeout while requests are in flight: client/wire_conversation.hpp), every
// pending request fails with a "herald" error (partitionUnavailable unless
// the broker named another code in its goodbye), the socket is closed, and
// the actor exits with that error two seconds later, failing at once
// whatever reaches it meanwhile (CAF 0.17 does not bounce a request sent to
// an exited io::broker: it would wait out its timeout). With notify_owner,
// the owner is told at once: (wire_lost_atom, caf::error). It also exits
// when `owner` does.
//
// All socket bytes pass through two functions (on_socket_bytes and
// write_socket in wire_connection.cpp): a TLS channel goes between them and
// the socket without touching the frame logic.

#include <cstdint>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "client/wire_conversation.hpp"
#include "security/tls_context.hpp"

namespace herald::client {

struct wire_connection_options {
  std::string host;
  std::uint16_t port = 0;
  std::uint32_t connect_timeout_ms = 5'000;  // the TCP connect, then again for the hello
  wire_settings conversation;                // (its broker field is set from host and port)
  bool notify_owner = false;                 // send the owner (wire_lost_atom, caf::error) when lost
  // TLS between the socket and the frames when set (a client context); the
  // broker's certificate must name `host` unless the context names a server.
  std::shared_ptr<const security::tls_context> tls;
};

caf::actor spawn_wire_connection(caf::actor_system& system, wire_connection_options options, caf::actor owner);

} // namespace herald::client
