#pragma once
// The CAF settings any process that talks Herald's client protocol needs
// (the CLI, an embedding application, the broker too): the middleman loaded
// (the client's wire connections are io::brokers on it), BASP failure
// detection on for the broker's cluster listener (CAF 0.17 has it off by
// default, so a paused peer would never be noticed; clients have their own
// liveness, client/wire_conversation.hpp), and Herald's error category
// registered so errors render readably. Nothing else: an embedding application's scheduler is its
// own business (the broker tunes its own in actors/system_config.hpp).

namespace caf {
class actor_system_config;
}

namespace herald {

void configure_client_system(caf::actor_system_config& cfg);

} // namespace herald
