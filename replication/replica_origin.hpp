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
// joiner      added to an existing group by a membership change (the
//             partition's epoch is above 0) and holding no data: an empty
//             directory is expected. It never bootstraps (the group exists;
//             a second entry 1 would fork it) and its vote is not unknown
//             (it never voted): it starts with no configuration, so it
//             neither votes nor campaigns, and waits for the leader, which
//             added it as a learner, to send it the log or a snapshot; the
//             configuration it receives makes it a member.
enum class replica_origin { founder, must_exist, joiner };

}  // namespace herald::replication
