#include <caf/all.hpp>

#include "client/actors.hpp"
#include "client/wire_connection.hpp"
#include "protocol/atoms.hpp"

namespace herald::client {

caf::expected<caf::actor> open_session(caf::actor_system& system, const std::string& host, std::uint16_t port,
                                       const caf::actor& owner) {
  wire_connection_options options;
  options.host = host;
  options.port = port;
  auto connection = spawn_wire_connection(system, options, owner);
  caf::scoped_actor self{system};
  caf::expected<caf::actor> session{caf::sec::runtime_error};
  self->request(connection, std::chrono::milliseconds{2 * options.connect_timeout_ms} + std::chrono::seconds{5},
                caf::connect_atom::value)
    .receive([&](std::int32_t) { session = connection; }, [&](caf::error& err) { session = std::move(err); });
  if (!session)
    caf::anon_send_exit(connection, caf::exit_reason::user_shutdown);
  return session;
}

} // namespace herald::client
