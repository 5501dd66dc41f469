#include "actors/client_listener.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/client_connection_fork.hpp"
#include "schema/client.capnp.h"
#include "security/connection_limits.hpp"

namespace herald::actors {

namespace {

struct listener_state {
  client_listener_args args;
  static inline const char* name = "herald.client_listener";
};

using self_ptr = caf::stateful_actor<listener_state, caf::io::broker>*;

caf::behavior client_listener_actor(self_ptr self, caf::io::doorman_ptr doorman, client_listener_args args) {
  self->add_doorman(std::move(doorman));
  self->state.args = std::move(args);
  self->monitor(self->state.args.connection.node);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == self->state.args.connection.node)
      self->quit();  // the broker is stopping: accept nothing more
  });
  return {
    [=](const caf::io::new_connection_msg& msg) {
      auto& st = self->state;
      if (!st.args.connection_caps) {
        fork_client_connection(self, msg.handle, st.args.connection);
        return;
      }
      auto admission = st.args.connection_caps->acquire(security::normalize_client_ip(self->remote_addr(msg.handle)));
      if (!admission) {
        spdlog::warn("client {}:{} refused: {}", self->remote_addr(msg.handle), self->remote_port(msg.handle),
                     admission.reason);
        auto bye = goodbye_frame(static_cast<std::uint16_t>(schema::ErrorCode::THROTTLED), admission.reason);
        self->write(msg.handle, bye.size(), bye.data());
        self->flush(msg.handle);
        self->close(msg.handle);  // after the goodbye, which fits any socket buffer
        return;
      }
      auto args = st.args.connection;
      args.slot = std::make_shared<security::connection_limits::ticket>(std::move(admission.slot));
      fork_client_connection(self, msg.handle, args);
    },
    [=](const caf::io::acceptor_closed_msg&) {
      spdlog::error("client listener closed");
      self->quit();
    },
  };
}

} // namespace

caf::expected<client_listener> spawn_client_listener(caf::actor_system& system, client_listener_args args) {
  auto& mm = system.middleman();
  auto doorman = mm.backend().new_tcp_doorman(args.port, args.host.c_str(), true);
  if (!doorman)
    return doorman.error();
  client_listener result;
  result.port = (*doorman)->port();
  if (!args.connection.budget)
    args.connection.budget = std::make_shared<queued_bytes_budget>(args.max_queued_request_bytes);
  result.actor = mm.spawn_broker(client_listener_actor, std::move(*doorman), std::move(args));
  return result;
}

} // namespace herald::actors
