// Leadership transfer (thesis 3.10), for controlled shutdown and leader
// balancing: stop taking proposals, bring the target up to date, then tell
// it to campaign. Abandoned after an election timeout.

#include "raft/node.hpp"

namespace herald::raft {

errc node::transfer_leadership(node_id to) {
  wake();
  if (role_ != role::leader) return errc::not_leader;
  if (to == opts_.id) return errc::ok;
  if (!config().is_voter(to)) return errc::invalid_argument;
  if (transferee_ == to) return errc::ok;
  transferee_ = to;
  transfer_elapsed_ = 0;
  progress& pr = progress_.at(to);
  maybe_send_timeout_now(to, pr);
  send_appends(to, pr);
  return errc::ok;
}

void node::maybe_send_timeout_now(node_id to, const progress& pr) {
  // Only a target with our whole log can win (5.4.1); proposals are refused
  // meanwhile, so "whole" stays put once reached.
  if (pr.match_index == log_.last_index()) send(to, timeout_now{log_.last_index()});
}

void node::abort_transfer() {
  transferee_ = no_node;
  transfer_elapsed_ = 0;
}

}  // namespace herald::raft
