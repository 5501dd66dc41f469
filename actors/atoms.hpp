#pragma once
// CAF atoms of the broker's own actor protocols (the client protocol's are
// in protocol/atoms.hpp). Included only by actor translation units: CAF
// headers are heavy.

#include <caf/atom.hpp>

#include "protocol/atoms.hpp"

namespace herald {

// inside a broker
using routing_atom = caf::atom_constant<caf::atom("hr_routes")>;   // (routing_ptr)
using stats_atom = caf::atom_constant<caf::atom("hr_stats")>;      // () -> (log start, high watermark, leader, followers)
using sync_atom = caf::atom_constant<caf::atom("hr_sync")>;        // group commit trigger
using sync_tick_atom = caf::atom_constant<caf::atom("hr_synctk")>; // fsync=interval timer
using retention_atom = caf::atom_constant<caf::atom("hr_retain")>;  // retention timer
using fetch_timeout_atom = caf::atom_constant<caf::atom("hr_fetchto")>;
using address_atom = caf::atom_constant<caf::atom("hr_addr")>;     // (host, port) the node listens on
using lookup_atom = caf::atom_constant<caf::atom("hr_lookup")>;   // (topic, partition) -> actor
using shutdown_atom = caf::atom_constant<caf::atom("hr_shutdn")>;
using restart_atom = caf::atom_constant<caf::atom("hr_restart")>;  // (topic, partition, incarnation) back-off timer
using cluster_wait_atom = caf::atom_constant<caf::atom("hr_clwait")>; // admin answers waiting on the view
using disk_check_atom = caf::atom_constant<caf::atom("hr_diskchk")>; // free-space sampling timer

// Raft between replicas (actors/partition_actor.hpp)
using raft_atom = caf::atom_constant<caf::atom("hr_raft")>;        // (topic, partition, bytes) peer -> replica
using raft_out_atom = caf::atom_constant<caf::atom("hr_raftout")>; // (to, topic, partition, bytes) replica -> node
using ready_atom = caf::atom_constant<caf::atom("hr_ready")>;      // take the Raft node's readies
using tick_atom = caf::atom_constant<caf::atom("hr_tick")>;        // Raft clock
using produce_timeout_atom = caf::atom_constant<caf::atom("hr_prodto")>;
using peer_atom = caf::atom_constant<caf::atom("hr_peer")>;        // peer connection bookkeeping
using cleaner_atom = caf::atom_constant<caf::atom("hr_clean")>;    // cleaner timer
using cleaned_atom = caf::atom_constant<caf::atom("hr_cleaned")>;  // (cleaner_outcome) from a cleaner worker
// Raft at scale (actors/node_raft_transport.cpp)
using raft_batch_atom = caf::atom_constant<caf::atom("hr_raftb")>;   // (bytes: schema/raft_batch.hpp) peer -> node
using raft_flush_atom = caf::atom_constant<caf::atom("hr_rflush")>;  // node to self: send the coalesced batches
using raft_clock_atom = caf::atom_constant<caf::atom("hr_rclock")>;  // node's Raft clock: tick the awake replicas
using quiet_atom = caf::atom_constant<caf::atom("hr_quiet")>;        // (bool) replica -> node: its group went quiet / woke
using link_atom = caf::atom_constant<caf::atom("hr_link")>;          // (uint64 node, bool up) node -> replicas

// Replica-set changes (replication/membership_driver.hpp)
using target_atom = caf::atom_constant<caf::atom("hr_target")>;    // (vector<uint64> voters, uint64 epoch) node -> replica
using settled_atom = caf::atom_constant<caf::atom("hr_settled")>;  // (topic, partition, uint64 epoch) replica -> node

} // namespace herald
