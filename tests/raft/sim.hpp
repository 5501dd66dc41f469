#pragma once
// Deterministic simulation of a Raft group: many raft::node replicas under a
// simulated clock and network, with faults, checked after every step.
//
// Injected (rates drawn per seed): message loss, duplication, delay (hence
// reordering), network partitions (random splits, and heals), node crashes
// that lose everything not yet fsynced (an in-flight persist is lost, or
// torn: a prefix of its log writes and, independently, its hard state
// survive) and restarts from what is on "disk", random client writes,
// leadership transfers, membership changes (learner add/promote/demote/remove)
// and log compaction (so lagging followers need chunked snapshots).
//
// Checked after every step: at most one leader per term; no node votes twice
// in a term (from what it made durable); log matching (every (index, term)
// ever persisted anywhere has one payload and one predecessor term, plus a
// periodic pairwise comparison of whole logs); leader completeness (every
// leader holds every entry committed in an earlier term); no committed entry
// is ever lost or changed (committed entries and state machine digests agree
// across nodes and time); commit index never decreases within a node's life.
// Then liveness: the network heals, nodes restart, faults stop, and a leader
// must be elected and commit a write on every member within a bounded time.
//
// Everything is a function of the seed: a failure names its seed and the
// command that replays it with a trace.

#include <cstdint>
#include <iosfwd>
#include <string>

namespace herald::raft::sim {

struct sim_options {
  std::uint64_t seed = 1;
  std::uint64_t ticks = 600;           // ticks with faults; a tick is 10 time units
  std::uint64_t liveness_ticks = 5000;  // budget to recover once faults stop
  std::uint64_t stall_ticks = 200;      // ... with some progress at least this often
  std::ostream* trace = nullptr;       // events; with trace_messages every delivery too
  bool trace_messages = false;
  // Draws more (sim_params.hpp's draw_widened_params): up to 7 voters,
  // one-way cuts, delays longer than an election timeout, clock drift
  // between nodes, check-quorum off. Without it a seed runs exactly as before.
  bool widened = false;
  // Every node runs with options::quiesce, and the network plays the host's
  // connection liveness: a crash is reported to the other nodes as
  // on_node_down (3 times in 4; the fourth is a replica that died while its
  // process lived on), and so is every link a partition or one-way cut
  // breaks (to both ends); restarts and heals of those report on_node_up. Draws extra randomness, so a seed runs
  // differently with it than without.
  bool quiescence = false;
};

struct sim_stats {
  std::uint64_t proposals = 0;
  std::uint64_t committed = 0;  // highest committed index
  std::uint64_t leaders = 0;    // distinct (term, leader) pairs
  std::uint64_t crashes = 0;
  std::uint64_t torn_persists = 0;
  std::uint64_t partitions = 0;
  std::uint64_t snapshots_installed = 0;
  std::uint64_t membership_changes = 0;
  std::uint64_t transfers = 0;
  std::uint64_t messages = 0;
  std::uint64_t recovery_ticks = 0;  // ticks the liveness phase needed
  std::uint64_t quiet_ticks = 0;     // node ticks spent quiesced (quiescence runs)
  std::uint64_t downs_reported = 0;  // on_node_down calls (quiescence runs)
};

struct sim_result {
  bool ok = true;
  std::string failure;
  sim_stats stats;
};

sim_result run(const sim_options& opts);

// "raft_sim --first S --seeds 1 --ticks T --trace"
std::string replay_command(const sim_options& opts);

}  // namespace herald::raft::sim
