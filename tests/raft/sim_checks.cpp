// The simulation's checks: liveness once the faults stop, and the safety
// invariants after every step (sim_internal.hpp lists the files).

#include "tests/raft/sim_internal.hpp"

namespace herald::raft::sim::detail {

// --- liveness ------------------------------------------------------------

bool simulation::live() {
  sim_node* l = find_leader();
  if (!l) return false;
  if (liveness_term_ != l->core->term() || liveness_leader_ != l->id) {
    // A new leader since the last probe write: probe again.
    auto payload = std::make_shared<bytes>(8, 'L');
    auto res = l->core->propose(payload);
    if (!res) return false;
    liveness_term_ = l->core->term();
    liveness_leader_ = l->id;
    liveness_index_ = res.index;
    return false;
  }
  const configuration& cfg = l->core->config();
  for (const auto& list : {cfg.voters, cfg.learners})
    for (node_id id : list)
      if (!liveness_applied_.count({id, liveness_index_}) && nodes_[id - 1]->applied < liveness_index_) return false;
  return true;
}

std::uint64_t simulation::fingerprint() const {
  std::uint64_t h = 0;
  for (const auto& sn : nodes_) {
    if (!sn->up) continue;
    const node& c = *sn->core;
    for (std::uint64_t v : {c.commit_index(), c.log().last_index(), c.log().snapshot().index, sn->applied})
      h = mix(h, v);
  }
  return h;
}

std::string simulation::leaders_summary() {
  std::string s = "; nodes:";
  for (auto& sn : nodes_) {
    s += " " + std::to_string(sn->id) + "=";
    if (!sn->up) {
      s += "down";
      continue;
    }
    s += std::string(to_string(sn->core->state())) + "/t" + std::to_string(sn->core->term()) + "/c" +
         std::to_string(sn->core->commit_index()) + "/l" + std::to_string(sn->core->log().last_index()) +
         "/a" + std::to_string(sn->applied) + to_string(sn->core->config());
  }
  return s;
}

// --- invariants ----------------------------------------------------------

void simulation::record_committed(const sim_node& sn, index_t i, term_t term, std::uint64_t hash) {
  if (committed_.size() <= i) committed_.resize(i + 1);
  committed_entry& c = committed_[i];
  if (!c.known) {
    c = {true, term, hash, sn.up && sn.core ? sn.core->term() : term};
    stats_.committed = std::max<std::uint64_t>(stats_.committed, i);
    return;
  }
  if (c.term != term || c.hash != hash)
    throw failure("committed entry " + std::to_string(i) + " changed: was term " + std::to_string(c.term) +
                  ", node " + std::to_string(sn.id) + " has term " + std::to_string(term));
}

void simulation::record_digest(const sim_node& sn, index_t i, std::uint64_t digest) {
  if (digests_.size() <= i) digests_.resize(i + 1);
  if (!digests_[i].first) {
    digests_[i] = {true, digest};
  } else if (digests_[i].second != digest) {
    throw failure("node " + std::to_string(sn.id) + " state machine differs after applying index " +
                  std::to_string(i));
  }
}

// Every entry any node persists: one payload and one predecessor term per
// (index, term). By induction this is log matching for everything on disk.
// Checked when entries become durable: an entry that never reached a disk
// (nor, therefore, another node) may be reused after a crash.
void simulation::check_new_entries(const sim_node& sn, const std::vector<entry>& entries) {
  const mem_store& d = *sn.disk;
  for (const entry& e : entries) {
    const index_t p = e.index - 1;
    const std::optional<term_t> prev = p == d.snapshot().index ? d.snapshot().term
                                       : p > d.snapshot().index ? std::optional<term_t>(d.term_at(p))
                                                                : std::nullopt;
    if (!prev) throw failure("entry without a predecessor in the node's log");
    const auto key = std::make_pair(e.index, e.term);
    const auto val = std::make_pair(hash_entry(e), *prev);
    auto [it, fresh] = entries_.emplace(key, val);
    if (!fresh && it->second != val)
      throw failure("log matching: node " + std::to_string(sn.id) + " has a different entry (or predecessor) at " +
                    std::to_string(e.index) + "/t" + std::to_string(e.term));
  }
}

void simulation::check() {
  for (auto& snp : nodes_) {
    sim_node& sn = *snp;
    if (!sn.up) continue;
    node& c = *sn.core;
    // Election safety.
    if (c.state() == role::leader) {
      auto [it, fresh] = leader_of_term_.emplace(c.term(), sn.id);
      if (fresh) {
        ++stats_.leaders;
        trace("leader " + std::to_string(sn.id) + " term " + std::to_string(c.term()) + " " +
              to_string(c.config()));
      }
      if (it->second != sn.id)
        throw failure("two leaders in term " + std::to_string(c.term()) + ": " + std::to_string(it->second) +
                      " and " + std::to_string(sn.id));
      check_leader_completeness(sn);
    }
    // Commit index: monotonic, and what it covers is the committed log.
    if (c.commit_index() < sn.seen_commit)
      throw failure("node " + std::to_string(sn.id) + " commit index went back from " +
                    std::to_string(sn.seen_commit) + " to " + std::to_string(c.commit_index()));
    for (index_t i = std::max(sn.seen_commit, c.log().snapshot().index) + 1; i <= c.commit_index(); ++i) {
      const auto e = c.log().entry_at(i);
      if (!e) throw failure("committed index beyond the log");
      record_committed(sn, i, e->term, hash_entry(*e));
    }
    sn.seen_commit = c.commit_index();
  }
  if (now_ % 256 == 0) check_logs_pairwise();
}

void simulation::check_leader_completeness(const sim_node& sn) {
  const node& c = *sn.core;
  auto& v = verified_[sn.id];
  if (v.first != c.term()) v = {c.term(), 0};
  for (index_t i = std::max(v.second, c.log().snapshot().index) + 1; i < committed_.size(); ++i) {
    const committed_entry& ce = committed_[i];
    if (!ce.known || ce.committed_in >= c.term()) continue;
    const auto e = c.log().entry_at(i);
    if (!e || e->term != ce.term || hash_entry(*e) != ce.hash)
      throw failure("leader completeness: leader " + std::to_string(sn.id) + " of term " +
                    std::to_string(c.term()) + " lacks committed entry " + std::to_string(i));
  }
  if (committed_.size() > 0) v.second = std::max<index_t>(v.second, committed_.size() - 1);
}

void simulation::check_logs_pairwise() {
  for (std::size_t a = 0; a < nodes_.size(); ++a)
    for (std::size_t b = a + 1; b < nodes_.size(); ++b) {
      if (!nodes_[a]->up || !nodes_[b]->up) continue;
      const raft_log& x = nodes_[a]->core->log();
      const raft_log& y = nodes_[b]->core->log();
      const index_t lo = std::max(x.first_index(), y.first_index());
      index_t hi = std::min(x.last_index(), y.last_index());
      while (hi >= lo && x.term_at(hi) != y.term_at(hi)) --hi;
      for (index_t i = lo; i <= hi && hi >= lo; ++i) {
        const auto ex = x.entry_at(i), ey = y.entry_at(i);
        if (ex->term != ey->term || hash_entry(*ex) != hash_entry(*ey))
          throw failure("log matching: nodes " + std::to_string(a + 1) + " and " + std::to_string(b + 1) +
                        " agree at " + std::to_string(hi) + " but differ at " + std::to_string(i));
      }
    }
}

}  // namespace herald::raft::sim::detail
