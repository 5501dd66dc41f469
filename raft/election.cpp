// Elections (5.2), with the pre-vote round of thesis 9.6.

#include "raft/node.hpp"

namespace herald::raft {

void node::campaign(bool pre_vote, bool transfer) {
  if (pre_vote)
    become_pre_candidate();
  else
    become_candidate(transfer);
  // A pre-vote asks about the term we would campaign in; the real vote is in
  // the term we just moved to (and persist before asking: the request goes
  // out after the ready that carries term and vote is durable).
  const term_t term = pre_vote ? term_ + 1 : term_;
  const request_vote rv{log_.last_index(), log_.last_term(), pre_vote, transfer};
  for (node_id peer : config().voters)
    if (peer != opts_.id) send_with_term(peer, term, rv);
  poll(opts_.id, true);
}

void node::poll(node_id from, bool granted) {
  const configuration& cfg = config();
  if (!cfg.is_voter(from)) return;
  votes_.emplace(from, granted);  // the first answer counts; duplicates don't
  std::size_t yes = 0;
  std::size_t no = 0;
  for (const auto& [voter, vote] : votes_)
    if (cfg.is_voter(voter)) ++(vote ? yes : no);
  if (yes >= cfg.quorum()) {
    if (role_ == role::pre_candidate)
      campaign(false, false);
    else
      become_leader();
  } else if (no > cfg.voters.size() - cfg.quorum()) {
    // A quorum said no: this round cannot succeed. Wait for a leader or the
    // next timeout (randomized, so rounds don't keep colliding).
    become_follower(term_, no_node);
  }
}

}  // namespace herald::raft
