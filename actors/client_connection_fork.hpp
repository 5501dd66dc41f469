#pragma once
// For the listener only: hands an accepted connection to a new connection actor.

#include <caf/io/fwd.hpp>

#include "actors/client_connection.hpp"

namespace herald::actors {

caf::actor fork_client_connection(caf::io::broker* listener, caf::io::connection_handle hdl,
                                  const client_connection_args& args);

} // namespace herald::actors
