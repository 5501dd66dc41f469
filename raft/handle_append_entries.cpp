// AppendEntries, receiver side (5.3): the consistency check, conflict
// truncation, and the hints for fast backtracking.

#include <algorithm>

#include "raft/node.hpp"

namespace herald::raft {

namespace {

// Bad input is dropped, never trusted: entries must be contiguous after
// prev_log_index, with terms that never decrease and never exceed the
// sender's, and configuration entries must decode.
bool well_formed(const message& m, const append_entries& r) {
  term_t prev_term = r.prev_log_term;
  if (prev_term > m.term) return false;
  for (std::size_t k = 0; k < r.entries.size(); ++k) {
    const entry& e = r.entries[k];
    if (e.index != r.prev_log_index + 1 + k || e.term < prev_term || e.term > m.term) return false;
    if (e.kind == entry_kind::configuration && (!e.data || !decode_configuration(*e.data))) return false;
    if (e.kind != entry_kind::normal && e.kind != entry_kind::configuration) return false;
    prev_term = e.term;
  }
  return true;
}

}  // namespace

void node::handle(const message& m, const append_entries& r) {
  if (role_ == role::leader) throw invariant_violation("two leaders in one term");
  if (!well_formed(m, r)) return;
  if (role_ != role::follower) become_follower(term_, m.from);
  leader_ = m.from;
  election_elapsed_ = 0;

  append_entries_response resp;
  resp.rejected_index = r.prev_log_index;
  index_t prev = r.prev_log_index;
  term_t prev_term = r.prev_log_term;
  std::size_t start = 0;

  if (prev < commit_) {
    // Our log through commit_ is committed, so it already matches the
    // leader's (leader completeness): skip what it covers. This is also how a
    // heartbeat reaches a follower whose log starts after prev_log_index.
    const std::size_t n = r.entries.size();
    start = static_cast<std::size_t>(std::min<index_t>(n, commit_ - prev));
    if (start == n) {
      resp.success = true;
      resp.match_index = commit_;
      resp.last_log_index = log_.last_index();
      send(m.from, resp);
      if (r.quiesce) quiesced_ = true;  // the leader went quiet; so do we
      return;
    }
    prev = r.entries[start - 1].index;
    prev_term = r.entries[start - 1].term;
    if (log_.term_at(prev) != prev_term) throw invariant_violation("leader's log differs at a committed index");
  }

  if (log_.term_at(prev) != prev_term) {
    // Hint: the last index <= prev whose term is <= prev_log_term. Every index
    // between it and prev has a term the leader's entry at prev cannot match,
    // so the leader may skip them all in one round trip.
    index_t hint = std::min(prev, log_.last_index());
    const index_t floor = std::max(commit_, log_.snapshot().index);
    while (hint > floor && *log_.term_at(hint) > prev_term) --hint;
    resp.hint_index = hint;
    resp.hint_term = *log_.term_at(hint);
    resp.last_log_index = log_.last_index();
    send(m.from, resp);
    return;
  }

  // The logs match through prev. Append what we lack; truncate only at a real
  // conflict, never because this message is shorter than our log (it may be
  // an old, delayed one).
  for (std::size_t k = start; k < r.entries.size(); ++k) {
    const entry& e = r.entries[k];
    const auto mine = log_.term_at(e.index);
    if (mine && *mine == e.term) continue;
    if (mine) {
      if (e.index <= commit_) throw invariant_violation("conflict at a committed index");
      log_.truncate_from(e.index);
      forget_configs_from(e.index);
    }
    for (; k < r.entries.size(); ++k) {
      log_.append(r.entries[k]);
      track_config_entry(r.entries[k]);
    }
    break;
  }

  const index_t last_new = prev + (r.entries.size() - start);
  if (r.leader_commit > commit_) {
    // Only what this message proved to match may be committed here.
    const index_t to = std::min(r.leader_commit, last_new);
    if (to > commit_) commit_to(to);
  }
  resp.success = true;
  resp.match_index = last_new;
  resp.last_log_index = log_.last_index();
  send(m.from, resp);
  if (r.quiesce) quiesced_ = true;  // the leader went quiet; so do we
}

}  // namespace herald::raft
