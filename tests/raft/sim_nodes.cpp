// The simulation's nodes: start, crash (a torn persist), restart, persisting,
// applying, compaction, and the link reports of quiescence runs
// (sim_internal.hpp lists the files).

#include "tests/raft/sim_internal.hpp"

namespace herald::raft::sim::detail {

// --- nodes ---------------------------------------------------------------

void simulation::start_node(sim_node& sn) {
  options o = p_.node_opts;
  o.id = sn.id;
  o.seed = mix(mix(opts_.seed, sn.id), sn.incarnation);
  sn.core = std::make_unique<node>(o, *sn.disk, sn.disk->durable());
  const auto [index, digest] = decode_state(sn.disk->snapshot_data());
  if (index != sn.disk->snapshot().index) throw failure("snapshot data does not match its meta");
  sn.applied = index;
  sn.digest = digest;
  sn.seen_commit = sn.core->commit_index();
  sn.up = true;
}

void simulation::crash(sim_node& sn, std::uint64_t restart_at) {
  ++stats_.crashes;
  std::string what = "crash " + std::to_string(sn.id);
  if (sn.persisting && rng_.below(2) == 0) {
    // A torn persist: the log writes are ordered, so a prefix of them
    // survives; the hard state is its own atomically replaced file.
    ++stats_.torn_persists;
    const ready& r = *sn.persisting;
    if (r.snapshot) {
      if (rng_.below(2) == 0) {
        sn.disk->install_snapshot(*r.snapshot, r.snapshot_data);
        tear_log(sn, r);
      }
    } else {
      tear_log(sn, r);
    }
    if (r.hard && rng_.below(2) == 0) persist_hard(sn, *r.hard);
    what += " (torn fsync)";
  }
  sn.up = false;
  sn.core.reset();
  sn.persisting.reset();
  sn.restart_at = restart_at;
  ++sn.incarnation;
  trace(what);
  // The other nodes' connections to this one break, unless only the
  // replica died and its process (and connections) lived on.
  sn.reported_down = opts_.quiescence && rng_.below(4) != 0;
  if (sn.reported_down)
    for (auto& other : nodes_)
      if (other->up) report_down(*other, sn.id);
}

// Links a partition or one-way cut broke come back (before they are cleared).
void simulation::report_heal() {
  if (!opts_.quiescence) return;
  for (std::size_t a = 1; a < group_.size(); ++a)
    for (std::size_t b = a + 1; b < group_.size(); ++b)
      if (group_[a] != group_[b]) report_link_up(static_cast<node_id>(a), static_cast<node_id>(b));
  for (const auto& [from, to] : oneway_) report_link_up(from, to);
}

void simulation::report_link_up(node_id a, node_id b) {
  sim_node& x = *nodes_[a - 1];
  sim_node& y = *nodes_[b - 1];
  if (x.up) x.core->on_node_up(b);
  if (y.up) y.core->on_node_up(a);
}

// Quiescence runs: the host's connection liveness.
void simulation::report_down(sim_node& at, node_id gone) {
  ++stats_.downs_reported;
  if (opts_.trace_messages) trace("node " + std::to_string(at.id) + " lost node " + std::to_string(gone));
  at.core->on_node_down(gone);
}

void simulation::report_link_down(node_id a, node_id b) {
  if (!opts_.quiescence) return;
  if (nodes_[a - 1]->up) report_down(*nodes_[a - 1], b);
  if (nodes_[b - 1]->up) report_down(*nodes_[b - 1], a);
}

void simulation::tear_log(sim_node& sn, const ready& r) {
  if (r.truncate_from) sn.disk->truncate_from(*r.truncate_from);
  const std::size_t keep = rng_.below(r.entries.size() + 1);
  const std::vector<entry> kept(r.entries.begin(), r.entries.begin() + static_cast<std::ptrdiff_t>(keep));
  sn.disk->append(kept);
  check_new_entries(sn, kept);
}

void simulation::restart(sim_node& sn) {
  trace("restart " + std::to_string(sn.id));
  start_node(sn);
  if (std::exchange(sn.reported_down, false))
    for (auto& other : nodes_)
      if (other->up && other.get() != &sn) other->core->on_node_up(sn.id);
}

void simulation::persist_hard(sim_node& sn, const hard_state& hs) {
  if (hs.term < sn.disk->hard().term) throw failure("node " + std::to_string(sn.id) + " persisted a lower term");
  if (hs.voted_for != no_node) {
    auto [it, fresh] = votes_.emplace(std::make_pair(sn.id, hs.term), hs.voted_for);
    if (!fresh && it->second != hs.voted_for)
      throw failure("node " + std::to_string(sn.id) + " voted for " + std::to_string(it->second) + " and " +
                    std::to_string(hs.voted_for) + " in term " + std::to_string(hs.term));
  }
  sn.disk->set_hard_state(hs);
}

void simulation::drain(sim_node& sn) {
  while (sn.up && sn.core->has_ready()) {
    ready r = sn.core->take_ready();
    if (opts_.trace_messages) trace_ready(sn, r);
    for (auto& m : r.messages) send(sn, m);
    if (r.needs_persist()) {
      if (sn.persisting) throw failure("a second ready needs persisting while one is outstanding");
      sn.persisting = std::move(r);
      sn.persist_done_at = now_ + rng_.below(p_.max_persist + 1);
      if (sn.persist_done_at <= now_) finish_persist(sn);
    } else {
      for (auto& m : r.messages_after_persist) send(sn, m);
      if (r.commit_index) apply(sn, *r.commit_index);
    }
  }
}

void simulation::trace_ready(const sim_node& sn, const ready& r) {
  std::string t = "ready " + std::to_string(sn.id) + ":";
  if (r.snapshot) t += " snapshot=" + std::to_string(r.snapshot->index);
  if (r.truncate_from) t += " truncate_from=" + std::to_string(*r.truncate_from);
  if (!r.entries.empty())
    t += " entries=" + std::to_string(r.entries.front().index) + ".." + std::to_string(r.entries.back().index);
  if (r.hard) t += " hard=t" + std::to_string(r.hard->term) + "/v" + std::to_string(r.hard->voted_for);
  if (r.commit_index) t += " commit=" + std::to_string(*r.commit_index);
  for (const auto& m : r.messages) t += "\n    now:   " + to_string(m);
  for (const auto& m : r.messages_after_persist) t += "\n    after: " + to_string(m);
  trace(t);
}

void simulation::finish_persist(sim_node& sn) {
  if (opts_.trace_messages) trace("persisted " + std::to_string(sn.id));
  ready r = std::move(*sn.persisting);
  sn.persisting.reset();
  if (r.snapshot) sn.disk->install_snapshot(*r.snapshot, r.snapshot_data);
  if (r.truncate_from) sn.disk->truncate_from(*r.truncate_from);
  sn.disk->append(r.entries);
  check_new_entries(sn, r.entries);
  if (r.hard) persist_hard(sn, *r.hard);
  sn.core->on_persisted();
  if (r.snapshot) {
    ++stats_.snapshots_installed;
    const auto [index, digest] = decode_state(r.snapshot_data);
    if (index != r.snapshot->index) throw failure("installed snapshot data does not match its meta");
    if (index < sn.applied) throw failure("snapshot installed behind the applied index");
    sn.applied = index;
    sn.digest = digest;
    record_digest(sn, index, digest);
  }
  for (auto& m : r.messages_after_persist) send(sn, m);
  if (r.commit_index) apply(sn, *r.commit_index);
}

void simulation::apply(sim_node& sn, index_t commit) {
  for (index_t i = sn.applied + 1; i <= commit; ++i) {
    if (i > sn.disk->last_index()) throw failure("node " + std::to_string(sn.id) + " told to apply index " +
                                                 std::to_string(i) + " that is not on its disk");
    const entry& e = sn.disk->at(i);
    record_committed(sn, i, e.term, hash_entry(e));
    sn.digest = fold(sn.digest, i, hash_entry(e));
    sn.applied = i;
    record_digest(sn, i, sn.digest);
    if (e.kind == entry_kind::normal && e.data && e.data->size() >= 8 && (*e.data)[0] == 'L')
      liveness_applied_.insert({sn.id, i});
  }
  maybe_compact(sn);
}

void simulation::maybe_compact(sim_node& sn) {
  if (p_.compact_every == 0 || sn.persisting) return;
  // Like a real host, keep a trailing log behind the snapshot: a follower
  // that just installed a snapshot then catches up from the log instead of
  // needing the next snapshot (with no trail, a leader that compacts faster
  // than a transfer completes would starve it).
  if (sn.applied < sn.disk->snapshot().index + p_.compact_every + p_.compact_trail) return;
  const index_t at = sn.applied - p_.compact_trail;
  std::uint64_t digest = sn.digest;
  if (at != sn.applied) {
    if (digests_.size() <= at || !digests_[at].first) return;
    digest = digests_[at].second;
  }
  const auto meta = sn.core->snapshot_meta_at(at);
  if (!meta) return;
  sn.disk->compact(*meta, encode_state(at, digest, p_.snapshot_pad));
  sn.core->on_log_compacted(*meta);
}

}  // namespace herald::raft::sim::detail
