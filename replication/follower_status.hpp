#pragma once
// What a partition's leader knows of the other members of its Raft group,
// for operators (`herald cluster status`, describeTopic's followers): how
// far each one's log matches the leader's, in records and in Raft entries,
// and how long ago it last matched the leader's log end.
//
// "Caught up" follows Kafka's in-sync notion: a follower is caught up when a
// reply from it shows its log matching the leader's last entry. The time
// since that last happened (behind_ms) grows for a follower that is dead,
// cut off or too slow, also while nothing is written (heartbeat replies keep
// it at zero for a live one). No actors, no clock: time is counted in the
// replica's Raft ticks and reported as ticks x tick_ms.
//
// Quiescence: a quiet group is not ticked and exchanges no heartbeats. It
// went quiet only with every follower it believed alive at its log end, and
// the loss of a member's node wakes it, so while quiet a connected follower
// at the leader's last entry counts as caught up now (behind_ms 0). A
// follower whose node the host reported lost (on_node_link) is reported
// `connected = false` until a message from it arrives.

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "raft/node.hpp"
#include "raft/progress.hpp"

namespace herald::replication {

class raft_store;

struct follower_status {
  raft::node_id node = raft::no_node;
  std::uint64_t match_index = 0;  // Raft entries the follower is known to hold
  // Offset after the last record it is known to hold. When its match lies
  // before the leader's log start (it needs a snapshot): the log start.
  std::int64_t match_offset = 0;
  // Records (offsets, control batches included) between match_offset and the
  // leader's log end; a lower bound when the match is before the log start.
  std::int64_t lag = 0;
  // Since a reply last showed it matching the leader's last entry, in this
  // leadership; -1: not yet.
  std::int64_t behind_ms = -1;
  bool learner = false;
  bool connected = true;  // false: the host lost its connection to the follower's node
  raft::progress::state state = raft::progress::state::probe;
};

class follower_tracker {
public:
  void tick() { ++ticks_; }
  // The host's connection to `node` was lost (up = false) or is back.
  void link(raft::node_id node, bool up) {
    if (up)
      down_.erase(node);
    else
      down_.insert(node);
  }
  // After `node` stepped a message from `from`: notes whether it is caught up.
  void heard(const raft::node& node, raft::node_id from);
  // The leader's view of every other member; empty unless `node` leads.
  std::vector<follower_status> report(const raft::node& node, const raft_store& store,
                                      std::uint32_t tick_ms) const;

private:
  std::uint64_t ticks_ = 0;
  raft::term_t term_ = 0;                             // the leadership caught_up_ belongs to
  std::map<raft::node_id, std::uint64_t> caught_up_;  // tick of the last caught-up reply
  std::set<raft::node_id> down_;                       // nodes the host reported unreachable
};

}  // namespace herald::replication
