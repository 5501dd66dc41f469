#pragma once
// Whether a partition replica is new or was known to the broker before.

namespace herald::replication {

// founder     created with its topic: an empty directory is a new group
//             member and bootstraps the group (entry 1, term 1).
// must_exist  the broker's metadata says this replica held data (start-up
//             of a known partition, a restart): an empty or missing
//             directory means its data was lost. It must not bootstrap, and
//             as its vote may be lost too it comes back with
//             raft::durable_state::vote_unknown (raft_store.hpp's
//             vote_unknown marker) and catches up from the group.
enum class replica_origin { founder, must_exist };

}  // namespace herald::replication
