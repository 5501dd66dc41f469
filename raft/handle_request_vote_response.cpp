// Votes and pre-votes coming back to a (pre-)candidate.

#include "raft/node.hpp"

namespace herald::raft {

void node::handle(const message& m, const request_vote_response& r) {
  if (r.pre_vote) {
    if (role_ != role::pre_candidate) return;
    // Granted answers carry the term we asked about; refusals our own term
    // (a higher one already made us a follower in step()).
    if (m.term != (r.vote_granted ? term_ + 1 : term_)) return;
  } else {
    if (role_ != role::candidate || m.term != term_) return;
  }
  poll(m.from, r.vote_granted);
}

}  // namespace herald::raft
