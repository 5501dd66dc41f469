#pragma once
// Who a session acts for: set by the framed listener's connection actor once
// the handshake (and authentication, when on) is done, and handed to the
// session actor it spawns through the node (hello_atom). Authorization
// decides on `principal`; logs and connection quotas name `client_address`.

#include <string>

namespace herald::actors {

struct session_identity {
  std::string principal = "User:ANONYMOUS";  // "User:<name>" (SCRAM user or certificate CN)
  std::string client_address;                // "HOST:PORT" of the client's socket; empty for BASP clients
};

} // namespace herald::actors
