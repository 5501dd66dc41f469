#include "tests/raft/sim_internal.hpp"

namespace herald::raft::sim {

namespace detail {

simulation::simulation(const sim_options& opts) : opts_(opts), rng_(mix(opts.seed, 0x5eed)) {
  p_ = opts.widened ? draw_widened_params(rng_) : draw_params(rng_);
  p_.node_opts.quiesce = opts.quiescence;
  trace("params: " + p_.describe());
  const int n = p_.voters + p_.spares;
  configuration initial;
  for (int i = 1; i <= p_.voters; ++i) initial.voters.push_back(static_cast<node_id>(i));
  for (int i = 1; i <= n; ++i) {
    auto sn = std::make_unique<sim_node>();
    sn->id = static_cast<node_id>(i);
    sn->phase = rng_.below(units_per_tick);
    sn->period = units_per_tick;
    if (p_.max_drift_units > 0)
      sn->period = units_per_tick - p_.max_drift_units + rng_.below(2 * p_.max_drift_units + 1);
    // Founders start with the bootstrap entry; spares join later, knowing nothing.
    sn->disk = std::make_unique<mem_store>();
    if (i <= p_.voters) {
      sn->disk->append({bootstrap_entry(initial)});
      sn->disk->set_hard_state({1, no_node});
    }
    nodes_.push_back(std::move(sn));
  }
  for (auto& sn : nodes_) start_node(*sn);
  group_.assign(n + 1, 0);
}

sim_result simulation::run() {
  sim_result res;
  try {
    const std::uint64_t fault_end = opts_.ticks * units_per_tick;
    for (now_ = 0; now_ < fault_end; ++now_) step(true);
    end_faults();
    // Liveness: a leader gets elected and a fresh write is applied by every
    // member. Catching up a backlog through small windows can take long, so
    // the bound is on progress: something (a commit, an append, a snapshot,
    // an applied entry) must move at least every stall_ticks, and all of it
    // must be done within liveness_ticks.
    const std::uint64_t start = now_;
    const std::uint64_t cap = now_ + opts_.liveness_ticks * units_per_tick;
    std::uint64_t last_change = now_;
    std::uint64_t fp = fingerprint();
    while (!live()) {
      if (now_ >= cap)
        throw failure("liveness: no write applied on every member " + std::to_string(opts_.liveness_ticks) +
                      " ticks after the faults stopped" + leaders_summary());
      if (now_ - last_change > opts_.stall_ticks * units_per_tick)
        throw failure("liveness: no progress for " + std::to_string(opts_.stall_ticks) +
                      " ticks after the faults stopped" + leaders_summary());
      step(false);
      ++now_;
      if (const std::uint64_t f = fingerprint(); f != fp) {
        fp = f;
        last_change = now_;
      }
    }
    stats_.recovery_ticks = (now_ - start) / units_per_tick;
    check_logs_pairwise();
  } catch (const failure& f) {
    res.ok = false;
    res.failure = std::string(f.what()) + " (t=" + std::to_string(now_) + ")";
  } catch (const std::exception& e) {
    res.ok = false;
    res.failure = std::string("exception: ") + e.what() + " (t=" + std::to_string(now_) + ")";
  }
  if (!res.ok) res.failure += "\n  params: " + p_.describe();
  res.stats = stats_;
  return res;
}

// --- one time unit -------------------------------------------------------

void simulation::step(bool faults) {
  if (now_ % units_per_tick == 0) inject(faults);
  deliver();
  for (auto& sn : nodes_)
    if (sn->up && (now_ + sn->phase) % sn->period == 0) {
      if (sn->core->quiesced()) ++stats_.quiet_ticks;
      sn->core->tick();
    }
  for (auto& sn : nodes_)
    if (sn->up && sn->persisting && sn->persist_done_at <= now_) finish_persist(*sn);
  if (faults && rng_.ppm(p_.propose_ppm)) client_write();
  for (auto& sn : nodes_)
    if (sn->up) drain(*sn);
  check();
}

void simulation::inject(bool faults) {
  for (auto& sn : nodes_)
    if (!sn->up && sn->restart_at <= now_) restart(*sn);
  if (!faults) return;
  // Half the crashes come back at once (before an election timeout, while
  // the term they crashed in is still running), half after a while.
  auto downtime = [&] { return (rng_.below(2) ? rng_.range(0, 3) : rng_.range(5, 200)) * units_per_tick; };
  if (rng_.ppm(p_.crash_ppm)) {
    auto& sn = *nodes_[rng_.below(nodes_.size())];
    if (sn.up) crash(sn, now_ + downtime());
  }
  if (rng_.ppm(p_.leader_crash_ppm))
    if (sim_node* l = find_leader()) crash(*l, now_ + downtime());
  if (partitioned_ ? rng_.ppm(p_.heal_ppm) : rng_.ppm(p_.partition_ppm)) {
    if (partitioned_) {
      report_heal();
      std::fill(group_.begin(), group_.end(), 0);
      partitioned_ = false;
      trace("heal");
    } else {
      std::string desc;
      for (std::size_t i = 1; i < group_.size(); ++i) {
        group_[i] = static_cast<int>(rng_.below(2));
        desc += " " + std::to_string(i) + ":" + std::to_string(group_[i]);
      }
      partitioned_ = true;
      ++stats_.partitions;
      trace("partition" + desc);
      for (std::size_t a = 1; a < group_.size(); ++a)
        for (std::size_t b = a + 1; b < group_.size(); ++b)
          if (group_[a] != group_[b]) report_link_down(static_cast<node_id>(a), static_cast<node_id>(b));
    }
  }
  if (p_.widened && (oneway_.empty() ? rng_.ppm(p_.oneway_ppm) : rng_.ppm(p_.heal_ppm))) {
    if (!oneway_.empty()) {
      report_heal();
      oneway_.clear();
      trace("heal one-way cuts");
    } else {
      const auto from = static_cast<node_id>(1 + rng_.below(nodes_.size()));
      const auto to = static_cast<node_id>(1 + rng_.below(nodes_.size()));
      if (from != to) {
        oneway_.insert({from, to});
        trace("cut " + std::to_string(from) + " -> " + std::to_string(to));
        report_link_down(from, to);
      }
    }
  }
  if (rng_.ppm(p_.transfer_ppm)) transfer();
  if (rng_.ppm(p_.member_ppm)) change_membership();
}

void simulation::end_faults() {
  trace("faults stop: heal, restart everyone, no loss or duplication");
  report_heal();
  std::fill(group_.begin(), group_.end(), 0);
  partitioned_ = false;
  oneway_.clear();
  p_.drop_ppm = p_.dup_ppm = 0;
  p_.max_delay = std::min<std::uint64_t>(p_.max_delay, 20);
  for (auto& sn : nodes_)
    if (!sn->up) restart(*sn);
}

// --- network -------------------------------------------------------------

// Persist before send, checked from outside: whatever a message claims
// about its sender must already be on the sender's disk.
void simulation::check_durable(const sim_node& sn, const message& m) {
  const mem_store& d = *sn.disk;
  auto fail = [&](const char* what) {
    throw failure("node " + std::to_string(sn.id) + " sent before persisting " + what + ": " + to_string(m));
  };
  const auto* rv = std::get_if<request_vote>(&m.body);
  const auto* vr = std::get_if<request_vote_response>(&m.body);
  const bool pre = (rv && rv->pre_vote) || (vr && vr->pre_vote);
  if (!pre && d.hard().term < m.term) fail("its term");
  // The vote must have been durable (it may since have moved to a later
  // term), or the node must be durably past that term: then it can never
  // vote in it again, which is all a durable vote is for.
  auto durable_vote = [&](node_id for_whom) {
    if (d.hard().term > m.term) return true;
    auto it = votes_.find({sn.id, m.term});
    return it != votes_.end() && it->second == for_whom;
  };
  if (vr && !vr->pre_vote && vr->vote_granted && !durable_vote(m.to)) fail("its vote");
  if (rv && !rv->pre_vote && !durable_vote(sn.id)) fail("its own vote");
  // An ack generated in term T and sent after the node durably moved past T
  // is like one delayed in the network: entries it covered may have been
  // truncated since by a later leader (which means they never committed).
  if (const auto* ar = std::get_if<append_entries_response>(&m.body); ar && ar->success && d.hard().term == m.term) {
    const index_t i = ar->match_index;
    // The ack was true when generated; since then the core may have cut the
    // entry (a newer leader's conflicting entry, or a newer snapshot, still
    // to be persisted). The disk must hold the entry either way, and the
    // same one the core has wherever the core still considers it durable.
    const raft_log& l = sn.core->log();
    if (i > d.snapshot().index &&
        (i > d.last_index() || (i <= l.durable_last_index() && i > l.snapshot().index &&
                                d.term_at(i) != l.term_at(i))))
      fail("the entries it acknowledges");
  }
  if (const auto* sr = std::get_if<install_snapshot_response>(&m.body); sr && sr->done) {
    const index_t i = sr->snapshot_index;
    if (d.snapshot().index < i && d.last_index() < i) fail("the snapshot it acknowledges");
  }
}

void simulation::send(const sim_node& from, const message& m) {
  check_durable(from, m);
  if (rng_.ppm(p_.drop_ppm)) return;
  const int copies = rng_.ppm(p_.dup_ppm) ? 2 : 1;
  for (int c = 0; c < copies; ++c) net_.push({now_ + 1 + rng_.below(p_.max_delay), seq_++, m});
}

void simulation::deliver() {
  while (!net_.empty() && net_.top().at <= now_) {
    in_flight f = net_.top();
    net_.pop();
    const message& m = f.m;
    if (m.to == no_node || m.to > nodes_.size()) throw failure("message to unknown node: " + to_string(m));
    if (group_[m.from] != group_[m.to] || oneway_.count({m.from, m.to}) != 0) continue;
    sim_node& sn = *nodes_[m.to - 1];
    if (!sn.up) continue;
    ++stats_.messages;
    if (opts_.trace_messages) trace("deliver " + to_string(m));
    sn.core->step(m);
  }
}

// --- clients and operators ----------------------------------------------

sim_node* simulation::find_leader() {
  sim_node* best = nullptr;
  for (auto& sn : nodes_)
    if (sn->up && sn->core->state() == role::leader && (!best || sn->core->term() > best->core->term()))
      best = sn.get();
  return best;
}

void simulation::client_write() {
  // A client asks a random node and follows its leader hint once.
  sim_node* sn = nodes_[rng_.below(nodes_.size())].get();
  if (!sn->up) return;
  if (sn->core->state() != role::leader) {
    const node_id hint = sn->core->leader();
    if (hint == no_node || hint > nodes_.size() || !nodes_[hint - 1]->up) return;
    sn = nodes_[hint - 1].get();
  }
  auto payload = std::make_shared<bytes>(8 + rng_.below(40), 'x');
  const std::uint64_t id = ++write_id_;
  (*payload)[0] = 'W';
  for (int i = 1; i < 8; ++i) (*payload)[i] = static_cast<char>((id >> (8 * i)) & 0xff);
  auto res = sn->core->propose(payload);
  if (res) ++stats_.proposals;
}

void simulation::transfer() {
  sim_node* l = find_leader();
  if (!l) return;
  const auto& voters = l->core->config().voters;
  const node_id to = voters[rng_.below(voters.size())];
  if (to == l->id) return;
  if (l->core->transfer_leadership(to) == errc::ok) {
    ++stats_.transfers;
    trace("transfer " + std::to_string(l->id) + " -> " + std::to_string(to));
  }
}

void simulation::change_membership() {
  sim_node* l = find_leader();
  if (!l) return;
  const configuration cfg = l->core->config();
  std::vector<membership_change> options;
  for (auto& sn : nodes_) {
    const node_id id = sn->id;
    if (!cfg.contains(id)) {
      options.push_back({change_kind::add_learner, id});
      if (cfg.voters.size() < 5 && rng_.below(4) == 0) options.push_back({change_kind::add_voter, id});
    } else if (cfg.is_learner(id)) {
      if (cfg.voters.size() < 5) options.push_back({change_kind::promote, id});
      options.push_back({change_kind::remove, id});
    } else if (cfg.voters.size() > 2) {
      options.push_back({change_kind::remove, id});
      options.push_back({change_kind::demote, id});
    }
  }
  if (options.empty()) return;
  const membership_change c = options[rng_.below(options.size())];
  auto res = l->core->change_membership(c);
  if (res) {
    ++stats_.membership_changes;
    static const char* names[] = {"add_learner", "add_voter", "promote", "demote", "remove"};
    trace(std::string("membership ") + names[static_cast<int>(c.kind)] + " " + std::to_string(c.node) +
          " at index " + std::to_string(res.index) + " by " + std::to_string(l->id));
  }
}

void simulation::trace(const std::string& s) {
  if (opts_.trace) *opts_.trace << "[" << now_ << "] " << s << "\n";
}

}  // namespace detail

sim_result run(const sim_options& opts) { return detail::simulation(opts).run(); }

std::string replay_command(const sim_options& opts) {
  return "raft_sim --first " + std::to_string(opts.seed) + " --seeds 1 --ticks " + std::to_string(opts.ticks) +
         " --liveness-ticks " + std::to_string(opts.liveness_ticks) + (opts.widened ? " --widened" : "") +
         (opts.quiescence ? " --quiescence" : "") + " --trace";
}

}  // namespace herald::raft::sim
