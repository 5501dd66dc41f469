// Quiescence (options::quiesce): an idle group stops heartbeating, so
// thousands of idle groups on a broker cost next to nothing. Only timers are
// affected (tick() of a quiet node does nothing); every message is handled
// exactly as without it, so quiescence cannot break safety, only liveness,
// which the rules below keep:
//  - a leader goes quiet only when nothing is left to do: its whole log is
//    committed and durable, no transfer runs, and every follower it believes
//    alive has matched the whole log in replicate state with nothing in
//    flight (followers the host reported down are left out, as long as the
//    caught-up voters still form a quorum). Its last heartbeat carries
//    `quiesce` (and the commit index), so followers go quiet with it.
//  - anything that needs the clock wakes the node: proposals, membership
//    changes, transfers, wake(), any message but the two that keep a group
//    quiet, and the loss of a member's node (on_node_down), after which the
//    usual election timeout applies. A lost quiesce heartbeat leaves a
//    follower awake: it times out, its pre-vote wakes the leader, which
//    quiesces the group again.

#include "raft/node.hpp"

namespace herald::raft {

bool node::can_quiesce() const {
  if (!opts_.quiesce || role_ != role::leader || transferee_ != no_node) return false;
  const index_t last = log_.last_index();
  if (commit_ != last || log_.durable_last_index() != last || persist_outstanding_ || appends_pending_) return false;
  const configuration& cfg = config();
  std::size_t caught_up = cfg.is_voter(opts_.id) ? 1 : 0;
  for (const auto& [peer, pr] : progress_) {
    if (down_nodes_.count(peer) != 0) continue;  // counts for nothing: neither blocks nor helps
    const bool current = pr.confirmed && pr.st == progress::state::replicate && pr.match_index == last &&
                         pr.inflights.empty();
    if (!current) return false;  // alive and behind: keep replicating
    if (cfg.is_voter(peer)) ++caught_up;
  }
  // Without a quorum it believes alive, a leader keeps its clock so that
  // check-quorum can step it down.
  return caught_up >= cfg.quorum();
}

void node::quiesce_group() {
  for (auto& [peer, pr] : progress_) {
    if (down_nodes_.count(peer) != 0) continue;
    append_entries hb;
    hb.prev_log_index = pr.match_index;
    hb.prev_log_term = *log_.term_at(pr.match_index);
    hb.leader_commit = commit_;
    hb.quiesce = true;
    send(peer, std::move(hb));
  }
  quiesced_ = true;
}

bool node::keeps_quiet(const message& m) const {
  if (m.term != term_) return false;
  if (const auto* ae = std::get_if<append_entries>(&m.body))
    return ae->quiesce && role_ == role::follower && m.from == leader_;
  if (const auto* ar = std::get_if<append_entries_response>(&m.body)) {
    if (role_ != role::leader || !ar->success) return false;
    const progress* pr = progress_of(m.from);
    return pr != nullptr && ar->match_index <= pr->match_index;
  }
  return false;
}

void node::wake() {
  if (!quiesced_) return;
  quiesced_ = false;
  // A fresh start of the clocks: a follower gives its leader a whole election
  // timeout, and a leader's check-quorum counts everyone active until the
  // next round (nobody was expected to speak while the group was quiet).
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  for (auto& [peer, pr] : progress_) pr.recent_active = true;
}

void node::on_node_down(node_id n) {
  if (n == opts_.id || n == no_node) return;
  down_nodes_.insert(n);
  if (config().contains(n)) wake();
}

void node::on_node_up(node_id n) {
  if (n == opts_.id || n == no_node) return;
  down_nodes_.erase(n);
  if (auto it = progress_.find(n); it != progress_.end()) it->second.confirmed = false;
  if (config().contains(n)) wake();
}

}  // namespace herald::raft
