#pragma once
// The leader's view of one follower (or learner): how much of the log it
// matches and how replication to it is paced. The states are etcd's:
//
//   probe      next_index is a guess: one AppendEntries at a time until a
//              reply says where the logs match (after election, rejection,
//              stall or restart of the follower).
//   replicate  the logs match through match_index: AppendEntries are
//              pipelined, next_index advances as they are sent, bounded by an
//              in-flight window in messages and bytes (CAF has no flow
//              control, so this is what bounds the follower's mailbox).
//   snapshot   the follower needs entries the leader has compacted away:
//              InstallSnapshot chunks are pipelined within the byte window.
//
// Invariant: match_index < next_index.

#include <cstdint>
#include <deque>

#include "raft/types.hpp"

namespace herald::raft {

struct progress {
  enum class state { probe, replicate, snapshot };

  index_t match_index = 0;
  index_t next_index = 1;
  state st = state::probe;

  // Heard from this peer since the last check-quorum round.
  bool recent_active = true;
  // Quiescence: false from the host's report that the peer's node is back
  // (raft::node::on_node_up) until the peer answers: it may have restarted
  // without the replica this progress describes, and a leader that went
  // quiet at once would never tell the new one who leads.
  bool confirmed = true;

  // probe: an AppendEntries is out and unanswered (cleared by any reply or
  // the next heartbeat, so a lost probe is retried).
  bool probe_sent = false;

  // replicate: one record per AppendEntries in flight (its last index and
  // bytes); freed as match_index passes them.
  struct inflight {
    index_t last_index;
    std::uint64_t bytes;
  };
  std::deque<inflight> inflights;
  std::uint64_t inflight_bytes = 0;
  // Heartbeat rounds without match_index moving while something is in
  // flight: a lost AppendEntries would otherwise stall the window forever.
  std::uint32_t stalled_rounds = 0;

  // snapshot: which snapshot, how far it has been sent and acknowledged.
  index_t snapshot_index = 0;
  std::uint64_t snapshot_sent = 0;
  std::uint64_t snapshot_acked = 0;
  bool snapshot_done_sent = false;
  std::uint64_t snapshot_rewind = UINT64_MAX;  // offset of the last rewind after a gap

  void become_probe() {
    st = state::probe;
    next_index = match_index + 1;
    probe_sent = false;
    clear_inflights();
  }
  void become_replicate() {
    st = state::replicate;
    next_index = match_index + 1;
    clear_inflights();
  }
  void become_snapshot(index_t index) {
    st = state::snapshot;
    snapshot_index = index;
    snapshot_sent = snapshot_acked = 0;
    snapshot_done_sent = false;
    snapshot_rewind = UINT64_MAX;
    clear_inflights();
  }
  void clear_inflights() {
    inflights.clear();
    inflight_bytes = 0;
    stalled_rounds = 0;
  }

  // A success reply: the follower matches through `index`. True if that is
  // news (match_index moved).
  bool maybe_update(index_t index) {
    if (index <= match_index) return false;
    match_index = index;
    if (next_index <= match_index) next_index = match_index + 1;
    while (!inflights.empty() && inflights.front().last_index <= match_index) {
      inflight_bytes -= inflights.front().bytes;
      inflights.pop_front();
    }
    stalled_rounds = 0;
    return true;
  }

  void sent(index_t last_index, std::uint64_t bytes) {
    inflights.push_back({last_index, bytes});
    inflight_bytes += bytes;
    next_index = last_index + 1;
  }

  bool window_full(std::size_t max_msgs, std::uint64_t max_bytes) const {
    return inflights.size() >= max_msgs || inflight_bytes >= max_bytes;
  }
};

const char* to_string(progress::state s);

}  // namespace herald::raft
