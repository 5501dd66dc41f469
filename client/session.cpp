#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "protocol/atoms.hpp"
#include "client/actors.hpp"

namespace herald::client {

caf::expected<caf::actor> open_session(caf::actor_system& system, const std::string& host, std::uint16_t port,
                                       const caf::actor& owner) {
  auto node = system.middleman().remote_actor(host, port);
  if (!node)
    return node.error();
  caf::scoped_actor self{system};
  caf::expected<caf::actor> session{caf::sec::runtime_error};
  self->request(*node, std::chrono::seconds{10}, hello_atom::value, owner)
    .receive([&](caf::actor& s) { session = std::move(s); }, [&](caf::error& err) { session = std::move(err); });
  return session;
}

} // namespace herald::client
