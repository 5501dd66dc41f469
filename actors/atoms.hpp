#pragma once
// CAF atoms of Herald's actor protocols. Included only by actor translation
// units: CAF headers are heavy.

#include <caf/atom.hpp>

namespace herald {

// client <-> broker
using hello_atom = caf::atom_constant<caf::atom("hr_hello")>;      // (owner actor) -> session actor
using request_atom = caf::atom_constant<caf::atom("hr_request")>;  // (bytes) -> bytes

// inside a broker
using routing_atom = caf::atom_constant<caf::atom("hr_routes")>;   // (routing_ptr)
using stats_atom = caf::atom_constant<caf::atom("hr_stats")>;      // () -> (log start, high watermark, leader)
using sync_atom = caf::atom_constant<caf::atom("hr_sync")>;        // group commit trigger
using sync_tick_atom = caf::atom_constant<caf::atom("hr_synctk")>; // fsync=interval timer
using retention_atom = caf::atom_constant<caf::atom("hr_retain")>;  // retention timer
using fetch_timeout_atom = caf::atom_constant<caf::atom("hr_fetchto")>;
using address_atom = caf::atom_constant<caf::atom("hr_addr")>;     // (host, port) the node listens on
using lookup_atom = caf::atom_constant<caf::atom("hr_lookup")>;   // (topic, partition) -> actor
using shutdown_atom = caf::atom_constant<caf::atom("hr_shutdn")>;
using restart_atom = caf::atom_constant<caf::atom("hr_restart")>;  // (topic, partition, incarnation) back-off timer
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

// client-side actors
using send_atom = caf::atom_constant<caf::atom("hr_send")>;
using flush_atom = caf::atom_constant<caf::atom("hr_flush")>;
using linger_atom = caf::atom_constant<caf::atom("hr_linger")>;
using poll_atom = caf::atom_constant<caf::atom("hr_poll")>;
using poll_timeout_atom = caf::atom_constant<caf::atom("hr_polltm")>;
using retry_atom = caf::atom_constant<caf::atom("hr_retry")>;
using tombstone_atom = caf::atom_constant<caf::atom("hr_tomb")>;
using consumer_status_atom = caf::atom_constant<caf::atom("hr_cstat")>;  // -> vector<consumer_partition_status>

} // namespace herald
