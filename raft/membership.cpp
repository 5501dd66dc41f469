// Membership changes, one server at a time (thesis 4.1): a configuration is
// in force from the moment its entry is in the log, and stops being so if
// that entry is truncated.

#include "raft/node.hpp"

namespace herald::raft {

const configuration& node::config() const {
  return log_configs_.empty() ? snapshot_config_ : log_configs_.back().second;
}

index_t node::config_index() const {
  return log_configs_.empty() ? log_.snapshot().index : log_configs_.back().first;
}

propose_result node::change_membership(const membership_change& change) {
  wake();
  if (role_ != role::leader) return {errc::not_leader, 0, 0, leader_};
  if (transferee_ != no_node) return {errc::transfer_in_progress, 0, 0, transferee_};
  // One change at a time, and not before this term has committed an entry:
  // without the second rule a new leader could append a change that does not
  // overlap with an uncommitted one from an earlier term (the thesis's
  // published fix).
  if (config_index() > commit_ || commit_ < term_start_index_) return {errc::change_in_progress, 0, 0, opts_.id};
  auto next = apply_change(config(), change);
  if (!next) return {errc::invalid_change, 0, 0, opts_.id};
  append_to_log(entry_kind::configuration, std::make_shared<const bytes>(encode_configuration(*next)));
  return {errc::ok, log_.last_index(), term_, opts_.id};
}

void node::track_config_entry(const entry& e) {
  if (e.kind != entry_kind::configuration) return;
  auto config = e.data ? decode_configuration(*e.data) : std::nullopt;
  if (!config) throw invariant_violation("undecodable configuration entry in the log");
  log_configs_.emplace_back(e.index, std::move(*config));
  on_config_changed();
}

void node::forget_configs_from(index_t index) {
  bool changed = false;
  while (!log_configs_.empty() && log_configs_.back().first >= index) {
    log_configs_.pop_back();
    changed = true;
  }
  if (changed) on_config_changed();
}

void node::on_config_changed() {
  if (role_ != role::leader) return;
  const configuration& cfg = config();
  std::erase_if(progress_, [&](const auto& p) { return !cfg.contains(p.first); });
  for (const auto& list : {cfg.voters, cfg.learners})
    for (node_id peer : list)
      if (peer != opts_.id && !progress_.count(peer)) {
        progress& pr = progress_[peer];
        pr.next_index = log_.last_index() + 1;
      }
  if (transferee_ != no_node && !cfg.is_voter(transferee_)) abort_transfer();
  appends_pending_ = true;
  // A smaller quorum may commit what a larger one had not.
  maybe_commit();
}

void node::maybe_step_down_removed() {
  // A leader that is no longer a voter keeps leading until the change that
  // removed it commits (thesis 4.2.2), then hands over to the most
  // up-to-date voter so the group need not wait for an election timeout.
  if (role_ != role::leader || config().is_voter(opts_.id) || commit_ < config_index()) return;
  node_id best = no_node;
  index_t best_match = 0;
  for (const auto& [peer, pr] : progress_)
    if (config().is_voter(peer) && (best == no_node || pr.match_index > best_match)) {
      best = peer;
      best_match = pr.match_index;
    }
  if (best != no_node && best_match == log_.last_index()) send(best, timeout_now{});
  become_follower(term_, no_node);
}

}  // namespace herald::raft
