#include "replication/follower_status.hpp"

#include <algorithm>

#include "replication/raft_store.hpp"

namespace herald::replication {

void follower_tracker::heard(const raft::node& node, raft::node_id from) {
  down_.erase(from);  // as the core does: a message proves the node reachable
  if (node.state() != raft::role::leader) return;
  if (node.term() != term_) {  // a new leadership: nothing known of anyone yet
    caught_up_.clear();
    term_ = node.term();
  }
  const auto* pr = node.progress_of(from);
  if (pr != nullptr && pr->match_index >= node.log().last_index()) caught_up_[from] = ticks_;
}

std::vector<follower_status> follower_tracker::report(const raft::node& node, const raft_store& store,
                                                      std::uint32_t tick_ms) const {
  std::vector<follower_status> out;
  if (node.state() != raft::role::leader) return out;
  const auto& cfg = node.config();
  std::vector<raft::node_id> members = cfg.voters;
  members.insert(members.end(), cfg.learners.begin(), cfg.learners.end());
  std::sort(members.begin(), members.end());
  // The leader's records as stored: entries it has not persisted yet have no
  // offsets, so a follower matching past them counts as caught up (lag 0).
  const auto end = static_cast<std::int64_t>(store.log().log_end_offset());
  const auto first = store.snapshot().index;
  for (auto id : members) {
    if (id == node.id()) continue;
    const auto* pr = node.progress_of(id);
    if (pr == nullptr) continue;
    follower_status s;
    s.node = id;
    s.match_index = pr->match_index;
    s.learner = cfg.is_learner(id);
    s.state = pr->st;
    s.connected = down_.count(id) == 0;
    const auto match = std::min(pr->match_index, store.last_index());
    s.match_offset = match >= first ? static_cast<std::int64_t>(store.end_offset_of(match))
                                    : static_cast<std::int64_t>(store.log().log_start_offset());
    s.lag = std::max<std::int64_t>(0, end - s.match_offset);
    if (node.quiesced() && s.connected && pr->match_index >= node.log().last_index())
      s.behind_ms = 0;  // a quiet group is caught up, and its ticks (our clock) stopped
    else if (term_ == node.term())
      if (auto at = caught_up_.find(id); at != caught_up_.end())
        s.behind_ms = static_cast<std::int64_t>((ticks_ - at->second) * tick_ms);
    out.push_back(s);
  }
  return out;
}

}  // namespace herald::replication
