// AppendEntries replies at the leader: advance match/next, switch the
// follower's flow-control state, commit, and keep the pipeline full.

#include <algorithm>

#include "raft/node.hpp"

namespace herald::raft {

void node::handle(const message& m, const append_entries_response& r) {
  if (role_ != role::leader) return;
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  progress& pr = it->second;
  pr.recent_active = true;
  pr.confirmed = true;

  if (!r.success && r.last_log_index < pr.match_index && r.rejected_index <= pr.match_index &&
      pr.st != progress::state::snapshot) {
    // The follower holds less than it once acknowledged: it lost its data
    // and came back empty (durable_state::vote_unknown). Start over from
    // what it has. Lowering match_index never moves the commit index (it
    // only grows), and if this was merely a delayed rejection the probe's
    // answer puts match_index back.
    pr.match_index = r.last_log_index;
    pr.become_probe();
    send_appends(m.from, pr);
    return;
  }
  if (!r.success) {
    // Drop stale rejections: of something already matched, of an earlier
    // probe, or of appends sent before a snapshot started.
    if (pr.st == progress::state::snapshot || r.rejected_index <= pr.match_index) return;
    if (pr.st == progress::state::probe && r.rejected_index != pr.next_index - 1) return;
    // Fast backtracking: the last index <= hint_index whose term is <= the
    // follower's hint_term. If it falls into our snapshot, the next
    // send_append finds no term for prev and switches to snapshot state.
    index_t j = std::min(r.hint_index, log_.last_index());
    while (j > log_.snapshot().index && *log_.term_at(j) > r.hint_term) --j;
    pr.become_probe();
    pr.next_index = std::clamp<index_t>(j + 1, pr.match_index + 1, r.rejected_index);
    send_appends(m.from, pr);
    return;
  }

  if (pr.maybe_update(r.match_index)) {
    if (pr.st == progress::state::probe)
      pr.become_replicate();
    else if (pr.st == progress::state::snapshot && pr.match_index >= pr.snapshot_index)
      pr.become_probe();
    maybe_commit();
    if (role_ != role::leader) return;  // committed our own removal
    if (m.from == transferee_) maybe_send_timeout_now(m.from, pr);
  } else if (pr.st == progress::state::probe) {
    // An answer that moved nothing (a heartbeat's, a duplicate): the probe
    // may have been lost, allow another.
    pr.probe_sent = false;
  }
  send_appends(m.from, pr);
}

}  // namespace herald::raft
