#pragma once
// The connection actor of the framed client listener: one caf::io::broker
// per accepted client connection, forked by actors/client_listener. A thin
// shell around connection_logic (all decisions, CAF-free): it feeds it the
// socket's bytes, session responses, write progress and a clock tick, and
// carries out its answers (write, forward, stop or resume reading, close).
//
// Requests go to a session actor (actors/session_actor) that the node spawns
// on (hello_atom, owner, principal, client address) once the handshake is
// done; its (bytes) answers are written back as response frames with the
// request's correlation. Requests that arrive before the session exists wait
// in order.
//
// Every socket byte passes through exactly two functions of the .cpp,
// on_socket_bytes (what was read) and write_socket (what to send), so a TLS
// channel can sit between them and the socket without touching the rest.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "actors/connection_logic.hpp"
#include "security/scram_server.hpp"
#include "security/tls_context.hpp"

namespace herald::security {
class quota_registry;
}

namespace herald::actors {

struct client_connection_args {
  connection_limits limits;
  std::int32_t node_id = 0;
  caf::actor node;
  std::shared_ptr<queued_bytes_budget> budget;
  bool keepalive = true;  // TCP keepalive on the socket: half-open peers are found by the kernel too
  // Held for the connection's life (a connection-cap slot); may be empty.
  std::shared_ptr<void> slot;
  // SASL (--sasl-mechanisms): when not empty, clients authenticate with one
  // of these before any request; credentials come from sasl_lookup.
  std::vector<std::string> sasl_mechanisms;
  security::scram_credential_lookup sasl_lookup;
  // Produce/fetch byte quotas per principal (security/quota.hpp); may be empty.
  std::shared_ptr<security::quota_registry> quotas;
  // TLS on the listener (--tls-cert ...): every connection takes the holder's
  // current context when it starts (a reloaded certificate applies to new
  // connections); null: plaintext.
  std::shared_ptr<security::tls_context_holder> tls;
};

} // namespace herald::actors
