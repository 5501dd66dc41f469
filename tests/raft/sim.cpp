#include "tests/raft/sim.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <queue>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "raft/node.hpp"
#include "tests/raft/mem_store.hpp"
#include "tests/raft/sim_params.hpp"

namespace herald::raft::sim {

namespace {

using test::mem_store;

constexpr std::uint64_t units_per_tick = 10;

struct failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct sim_node {
  node_id id = no_node;
  bool up = true;
  std::uint64_t phase = 0;  // tick offset within a tick's units
  std::uint64_t period = 0;  // units between its ticks (clock drift: not all equal)
  std::uint64_t incarnation = 0;
  std::uint64_t restart_at = 0;
  bool reported_down = false;  // quiescence: its crash broke the others' connections
  std::unique_ptr<mem_store> disk;
  std::unique_ptr<node> core;
  std::optional<ready> persisting;
  std::uint64_t persist_done_at = 0;
  // Volatile state machine, rebuilt from the disk's snapshot on restart.
  index_t applied = 0;
  std::uint64_t digest = 0;
  // Checker bookkeeping, per incarnation.
  index_t seen_commit = 0;
};

struct committed_entry {
  bool known = false;
  term_t term = 0;
  std::uint64_t hash = 0;
  term_t committed_in = 0;  // term of the node that first reported it committed
};

struct in_flight {
  std::uint64_t at;
  std::uint64_t seq;
  message m;
  bool operator>(const in_flight& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

class simulation {
public:
  explicit simulation(const sim_options& opts) : opts_(opts), rng_(mix(opts.seed, 0x5eed)) {
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

  sim_result run() {
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

private:
  // --- one time unit -------------------------------------------------------

  void step(bool faults) {
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

  void inject(bool faults) {
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

  void end_faults() {
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

  // --- nodes ---------------------------------------------------------------

  void start_node(sim_node& sn) {
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

  void crash(sim_node& sn, std::uint64_t restart_at) {
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
  void report_heal() {
    if (!opts_.quiescence) return;
    for (std::size_t a = 1; a < group_.size(); ++a)
      for (std::size_t b = a + 1; b < group_.size(); ++b)
        if (group_[a] != group_[b]) report_link_up(static_cast<node_id>(a), static_cast<node_id>(b));
    for (const auto& [from, to] : oneway_) report_link_up(from, to);
  }
  void report_link_up(node_id a, node_id b) {
    sim_node& x = *nodes_[a - 1];
    sim_node& y = *nodes_[b - 1];
    if (x.up) x.core->on_node_up(b);
    if (y.up) y.core->on_node_up(a);
  }

  // Quiescence runs: the host's connection liveness.
  void report_down(sim_node& at, node_id gone) {
    ++stats_.downs_reported;
    if (opts_.trace_messages) trace("node " + std::to_string(at.id) + " lost node " + std::to_string(gone));
    at.core->on_node_down(gone);
  }
  void report_link_down(node_id a, node_id b) {
    if (!opts_.quiescence) return;
    if (nodes_[a - 1]->up) report_down(*nodes_[a - 1], b);
    if (nodes_[b - 1]->up) report_down(*nodes_[b - 1], a);
  }

  void tear_log(sim_node& sn, const ready& r) {
    if (r.truncate_from) sn.disk->truncate_from(*r.truncate_from);
    const std::size_t keep = rng_.below(r.entries.size() + 1);
    const std::vector<entry> kept(r.entries.begin(), r.entries.begin() + static_cast<std::ptrdiff_t>(keep));
    sn.disk->append(kept);
    check_new_entries(sn, kept);
  }

  void restart(sim_node& sn) {
    trace("restart " + std::to_string(sn.id));
    start_node(sn);
    if (std::exchange(sn.reported_down, false))
      for (auto& other : nodes_)
        if (other->up && other.get() != &sn) other->core->on_node_up(sn.id);
  }

  void persist_hard(sim_node& sn, const hard_state& hs) {
    if (hs.term < sn.disk->hard().term) throw failure("node " + std::to_string(sn.id) + " persisted a lower term");
    if (hs.voted_for != no_node) {
      auto [it, fresh] = votes_.emplace(std::make_pair(sn.id, hs.term), hs.voted_for);
      if (!fresh && it->second != hs.voted_for)
        throw failure("node " + std::to_string(sn.id) + " voted for " + std::to_string(it->second) + " and " +
                      std::to_string(hs.voted_for) + " in term " + std::to_string(hs.term));
    }
    sn.disk->set_hard_state(hs);
  }

  void drain(sim_node& sn) {
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

  void trace_ready(const sim_node& sn, const ready& r) {
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

  void finish_persist(sim_node& sn) {
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

  void apply(sim_node& sn, index_t commit) {
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

  void maybe_compact(sim_node& sn) {
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

  // --- network -------------------------------------------------------------

  // Persist before send, checked from outside: whatever a message claims
  // about its sender must already be on the sender's disk.
  void check_durable(const sim_node& sn, const message& m) {
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

  void send(const sim_node& from, const message& m) {
    check_durable(from, m);
    if (rng_.ppm(p_.drop_ppm)) return;
    const int copies = rng_.ppm(p_.dup_ppm) ? 2 : 1;
    for (int c = 0; c < copies; ++c) net_.push({now_ + 1 + rng_.below(p_.max_delay), seq_++, m});
  }

  void deliver() {
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

  sim_node* find_leader() {
    sim_node* best = nullptr;
    for (auto& sn : nodes_)
      if (sn->up && sn->core->state() == role::leader && (!best || sn->core->term() > best->core->term()))
        best = sn.get();
    return best;
  }

  void client_write() {
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

  void transfer() {
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

  void change_membership() {
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

  // --- liveness ------------------------------------------------------------

  bool live() {
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

  std::uint64_t fingerprint() const {
    std::uint64_t h = 0;
    for (const auto& sn : nodes_) {
      if (!sn->up) continue;
      const node& c = *sn->core;
      for (std::uint64_t v : {c.commit_index(), c.log().last_index(), c.log().snapshot().index, sn->applied})
        h = mix(h, v);
    }
    return h;
  }

  std::string leaders_summary() {
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

  void record_committed(const sim_node& sn, index_t i, term_t term, std::uint64_t hash) {
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

  void record_digest(const sim_node& sn, index_t i, std::uint64_t digest) {
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
  void check_new_entries(const sim_node& sn, const std::vector<entry>& entries) {
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

  void check() {
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

  void check_leader_completeness(const sim_node& sn) {
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

  void check_logs_pairwise() {
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

  void trace(const std::string& s) {
    if (opts_.trace) *opts_.trace << "[" << now_ << "] " << s << "\n";
  }

  sim_options opts_;
  prng rng_;
  params p_;
  std::uint64_t now_ = 0;
  std::vector<std::unique_ptr<sim_node>> nodes_;
  std::priority_queue<in_flight, std::vector<in_flight>, std::greater<>> net_;
  std::uint64_t seq_ = 0;
  std::vector<int> group_;
  std::set<std::pair<node_id, node_id>> oneway_;  // widened: (from, to) links that drop
  bool partitioned_ = false;
  std::uint64_t write_id_ = 0;

  std::map<term_t, node_id> leader_of_term_;
  std::map<std::pair<node_id, term_t>, node_id> votes_;
  std::vector<committed_entry> committed_;
  std::vector<std::pair<bool, std::uint64_t>> digests_;  // state machine digest after each index
  std::map<std::pair<index_t, term_t>, std::pair<std::uint64_t, term_t>> entries_;
  std::map<node_id, std::pair<term_t, index_t>> verified_;

  term_t liveness_term_ = 0;
  node_id liveness_leader_ = no_node;
  index_t liveness_index_ = 0;
  std::set<std::pair<node_id, index_t>> liveness_applied_;

  sim_stats stats_;
};

}  // namespace

sim_result run(const sim_options& opts) { return simulation(opts).run(); }

std::string replay_command(const sim_options& opts) {
  return "raft_sim --first " + std::to_string(opts.seed) + " --seeds 1 --ticks " + std::to_string(opts.ticks) +
         " --liveness-ticks " + std::to_string(opts.liveness_ticks) + (opts.widened ? " --widened" : "") +
         (opts.quiescence ? " --quiescence" : "") + " --trace";
}

}  // namespace herald::raft::sim
