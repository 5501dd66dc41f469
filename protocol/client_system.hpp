#pragma once
// The CAF settings any process that talks Herald's client protocol needs
// (the CLI, an embedding application, the broker too): the middleman loaded,
// failure detection on (CAF 0.17 has it off by default, so a paused peer
// would never be noticed), and Herald's error category registered so errors
// render readably. Nothing else: an embedding application's scheduler is its
// own business (the broker tunes its own in actors/system_config.hpp).

namespace caf {
class actor_system_config;
}

namespace herald {

void configure_client_system(caf::actor_system_config& cfg);

} // namespace herald
