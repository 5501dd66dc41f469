#pragma once
// The broker's CAF settings: the client protocol's (protocol/client_system.hpp)
// plus scheduler tuning for a broker process. Not for client code: it would
// retune an embedding application's scheduler.

namespace caf {
class actor_system_config;
}

namespace herald {

void configure_actor_system(caf::actor_system_config& cfg);

} // namespace herald
