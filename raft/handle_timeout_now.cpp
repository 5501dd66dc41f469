// TimeoutNow (thesis 3.10): the leader hands over. Campaign at once, without
// pre-vote, flagged as a transfer so voters in the old leader's lease grant.

#include "raft/node.hpp"

namespace herald::raft {

void node::handle(const message& m, const timeout_now&) {
  if (role_ == role::leader || m.from != leader_ || !promotable()) return;
  campaign(false, true);
}

}  // namespace herald::raft
