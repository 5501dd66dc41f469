#pragma once
// The partition actor: one replica of one partition. It is the thin CAF
// shell around a Raft node (raft/node.hpp) whose log is the partition log
// (replication/raft_store.hpp over storage::partition_log). It runs on its
// own thread (CAF `detached`) because fsync blocks.
//
// Every partition is a Raft group, a single-node one included: one code
// path, and a group of one is simply a group whose quorum is itself.
//
// Protocol:
//   (request_atom, bytes request) -> bytes response   (schema/client.capnp)
//       produce on the leader: propose the batch; answer acks=0 at once,
//       acks=1 once the leader's log holds it (fsynced under fsync=always),
//       acks=all once it is committed. Elsewhere: notLeader + leaderId.
//       fetch / listOffsets on any replica, up to its high watermark.
//   (raft_atom, string topic, uint32 partition, bytes) a Raft message from a
//       peer replica (schema/raft.capnp)
//   (stats_atom) -> (uint64 log_start_offset, uint64 high_watermark, uint64 leader,
//                    replica_followers)
//       leader 0: none known; followers: filled by the leader only (actors/replica_stats.hpp)
//   (target_atom, vector<uint64> voters, uint64 epoch) the replica set the
//       controller assigned; the leader moves the group there
//       (replication/membership_driver.hpp). A stale epoch is ignored; the
//       same epoch again asks for the settled report again.
//   (tick_atom)                  the Raft clock, sent by the node every tick_ms
//       while this replica's group is awake
//   (link_atom, uint64 node, bool up)  the node lost (or regained) its
//       connection to that node: wakes a quiet group (raft::node::on_node_down)
// It sends its parent (the node actor):
//   (raft_out_atom, uint64 to, string topic, uint32 partition, bytes)
//   (settled_atom, string topic, uint32 partition, uint64 epoch) as leader,
//       the committed configuration equals the target of that epoch
//   (quiet_atom, bool)  its group went quiet (stop ticking me) or woke
//
// Driving the core: the node's clock (tick_atom every tick_ms, while awake) calls tick();
// messages call step(); produce calls propose(). Each of them schedules one
// ready_atom to self, so every request already queued in the mailbox is
// proposed before the ready is taken: one append and one fdatasync cover all
// of them (group commit), and AppendEntries carrying them leave before that
// fsync starts.
//
// High watermark: the end of the committed prefix this replica holds, so a
// consumer never sees a record that a leader change could take back.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "cluster/topic.hpp"
#include "replication/replica_origin.hpp"

namespace herald::actors {

struct partition_args {
  std::string topic;
  std::uint32_t partition = 0;
  std::filesystem::path dir;
  cluster::topic_config config;
  std::uint64_t node_id = 1;             // this replica's Raft id
  std::vector<std::uint64_t> replicas;   // the founding voters; empty: {node_id}
  std::uint32_t tick_ms = 50;            // Raft clock: heartbeat every tick,
  std::uint32_t election_ticks = 10;     // elections after 10-20 ticks of silence
  bool quiesce = false;                  // idle groups go quiet (raft::options::quiesce)
  std::uint32_t cleaner_interval_ms = 30'000;  // how often the cleaner looks for work
  // founder only at topic creation; must_exist whenever the broker's
  // metadata already knew the partition (start-up, restarts).
  replication::replica_origin origin = replication::replica_origin::founder;
  // ZooKeeper mode: the partition's first replica, which should lead
  // (replica_settings::preferred_leader). 0: none (static cluster).
  std::uint64_t preferred_leader = 0;
};

// Spawned detached and monitored by `parent`, which supervises it and
// carries its Raft messages to the other replicas.
caf::actor spawn_partition(caf::event_based_actor* parent, partition_args args);

} // namespace herald::actors
