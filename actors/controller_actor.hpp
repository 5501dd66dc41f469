#pragma once
// The controller actor: the shell around cluster/controller_logic (which
// holds every decision). Every broker in ZooKeeper mode runs one, as a child
// of its node actor, which forwards each cluster view to it; it acts only
// while the view names its broker as the elected controller
// (/herald/controller). Running everywhere means a newly elected controller
// has been tracking broker liveness all along, and picks up unfinished work
// by reading the view: a partition with settled = false is a change under
// way, carried out by the partition's leader, not by the controller.
//
// Every `interval` it plans (controller::plan_replicas: replicas of brokers
// gone past the grace re-placed, new brokers given their share) and writes
// each rewritten topic through the ZooKeeper actor as a read-modify-write
// (zk_update_atom, CAS on the znode version). The write only applies the
// partitions that still hold what the plan started from, so a plan made
// from a stale view changes nothing and is made again from the next one.
//
// Protocol:
//   (zk_view_atom, zk_view_ptr) from the node actor: the latest view.
// Timers: (tick_atom) every interval.

#include <chrono>
#include <cstdint>

#include <caf/fwd.hpp>

namespace herald::actors {

struct controller_args {
  std::int32_t self_id = 0;
  std::chrono::milliseconds replica_grace{60'000};
  std::chrono::milliseconds interval{500};
};

// Spawned linked to `parent` (the node actor), writing through `zk`.
caf::actor spawn_controller(caf::event_based_actor* parent, caf::actor zk, controller_args args);

}  // namespace herald::actors
