#pragma once
// The partition actor's behavior while its replica is damaged
// (replication/damaged_replica.hpp decides what it answers): it stays up,
// so the supervisor does not crash-loop it, drops every Raft message (no
// vote, no acknowledgement: it counts for no quorum), answers clients
// partitionDamaged and describe "partition damaged: why".

#include <string>

#include <caf/behavior.hpp>

#include "actors/partition_state.hpp"

namespace herald::actors {

caf::behavior damaged_partition(partition_ptr self, std::string why);

} // namespace herald::actors
