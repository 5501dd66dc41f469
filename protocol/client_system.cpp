#include "protocol/client_system.hpp"

#include <chrono>

#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>

#include "protocol/errors.hpp"

namespace herald {

void configure_client_system(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman>();
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds{500}});
  cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds{5}});
  cfg.add_error_category(herald_error_category, render_herald_error);
}

} // namespace herald
