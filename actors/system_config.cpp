#include "actors/system_config.hpp"

#include <caf/actor_system_config.hpp>

#include "protocol/client_system.hpp"

namespace herald {

void configure_actor_system(caf::actor_system_config& cfg) {
  configure_client_system(cfg);
  // CAF's idle workers first spin, then poll with 50 us sleeps for 500
  // rounds, then wait on a condition variable that an enqueue signals.
  // The sleeping polls burnt a quarter of a broker's CPU under load
  // (perf: clock_nanosleep), and brokers share cores with their peers and
  // clients; a short spin and then the condition variable wakes as fast.
  cfg.set("work-stealing.moderate-poll-attempts", std::size_t{8});
}

} // namespace herald
