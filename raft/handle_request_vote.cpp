// RequestVote and PreVote, receiver side (5.2, 5.4.1, thesis 9.6).
// step() has already dealt with terms: m.term >= term_ here, and a
// higher-term real vote has made us a follower of that term.

#include "raft/node.hpp"

namespace herald::raft {

void node::handle(const message& m, const request_vote& r) {
  // At most one vote per term: only for the candidate we already voted for,
  // or for anyone if we have neither voted nor seen a leader this term. A
  // pre-vote for a later term promises nothing, so it can always be granted.
  // A node that may have voted in a term it forgot grants nothing
  // (durable_state::vote_unknown).
  const bool can_vote = !vote_unknown_ && (voted_for_ == m.from || (voted_for_ == no_node && leader_ == no_node) ||
                                           (r.pre_vote && m.term > term_));
  // Leader completeness rests on this check (5.4.1).
  const bool granted = can_vote && log_.is_up_to_date(r.last_log_index, r.last_log_term);

  if (r.pre_vote) {
    // A granted pre-vote answers in the term it was asked about.
    send_with_term(m.from, granted ? m.term : term_, request_vote_response{granted, true});
    return;
  }
  if (granted) {
    voted_for_ = m.from;  // persisted before the reply leaves (after-persist)
    // Granting a vote is hearing from a likely leader: don't campaign against it.
    election_elapsed_ = 0;
  }
  send(m.from, request_vote_response{granted, false});
}

}  // namespace herald::raft
