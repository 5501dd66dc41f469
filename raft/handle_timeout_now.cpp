// TimeoutNow (thesis 3.10): the leader hands over. Campaign at once, without
// pre-vote, flagged as a transfer so voters in the old leader's lease grant.

#include "raft/node.hpp"

namespace herald::raft {

void node::handle(const message& m, const timeout_now& r) {
  if (role_ == role::leader || m.from != leader_ || !promotable()) return;
  // A leader under transfer takes no proposals, so its log still ends where
  // it did when it sent this. If ours does not, the transfer was abandoned
  // (the leader went on) or we are not the caught-up target it chose: a
  // campaign now would only bypass a healthy leader's lease.
  if (r.last_index != log_.last_index()) return;
  campaign(false, true);
}

}  // namespace herald::raft
