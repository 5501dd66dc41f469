#pragma once
// The CAF settings every Herald process (broker, CLI, embedding application)
// needs: the middleman loaded, failure detection on (CAF 0.17 has it off by
// default, so a paused peer would never be noticed), and Herald's error
// category registered so errors render readably.

namespace caf {
class actor_system_config;
}

namespace herald {

void configure_actor_system(caf::actor_system_config& cfg);

} // namespace herald
