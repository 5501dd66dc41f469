// node: construction, roles, the clock, sending, and the ready hand-off.
// The message handlers live in handle_*.cpp, one file per message kind.

#include "raft/node.hpp"

#include <algorithm>
#include <utility>

namespace herald::raft {

const char* to_string(role r) {
  switch (r) {
    case role::follower: return "follower";
    case role::pre_candidate: return "pre_candidate";
    case role::candidate: return "candidate";
    case role::leader: return "leader";
  }
  return "?";
}

const char* to_string(errc e) {
  switch (e) {
    case errc::ok: return "ok";
    case errc::not_leader: return "not_leader";
    case errc::transfer_in_progress: return "transfer_in_progress";
    case errc::busy: return "busy";
    case errc::change_in_progress: return "change_in_progress";
    case errc::invalid_change: return "invalid_change";
    case errc::invalid_argument: return "invalid_argument";
  }
  return "?";
}

const char* to_string(progress::state s) {
  switch (s) {
    case progress::state::probe: return "probe";
    case progress::state::replicate: return "replicate";
    case progress::state::snapshot: return "snapshot";
  }
  return "?";
}

node::node(const options& opts, const log_store& store, const durable_state& state)
    : opts_(opts), log_(store), rng_(opts.seed) {
  if (opts_.id == no_node) throw std::invalid_argument("raft: node id 0 is reserved");
  if (opts_.heartbeat_ticks == 0 || opts_.election_ticks <= opts_.heartbeat_ticks)
    throw std::invalid_argument("raft: need 0 < heartbeat_ticks < election_ticks");
  if (opts_.max_append_entries == 0 || opts_.max_inflight_msgs == 0 || opts_.snapshot_chunk_bytes == 0 ||
      opts_.stall_rounds == 0)
    throw std::invalid_argument("raft: limits must be positive");

  term_ = state.hard.term;
  voted_for_ = state.hard.voted_for;
  // Entries and hard state are written separately, so a crash can keep
  // entries of a term the hard state never recorded. They came from that
  // term's leader, so this node was in that term - and had not voted in it,
  // or the vote would have been durable before those entries were accepted.
  if (log_.last_term() > term_) {
    term_ = log_.last_term();
    voted_for_ = no_node;
  }
  durable_hard_ = handed_hard_ = state.hard;
  vote_unknown_ = state.vote_unknown;

  snapshot_config_ = log_.snapshot().config;
  for (const auto& [index, config] : state.log_configs)
    if (index > log_.snapshot().index && index <= log_.last_index()) log_configs_.emplace_back(index, config);

  // Only what the snapshot covers is known to be committed after a restart.
  commit_ = reported_commit_ = log_.snapshot().index;
  reset_timers();
}

// --- roles -------------------------------------------------------------------

void node::reset_timers() {
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  randomized_election_timeout_ =
      opts_.election_ticks + static_cast<std::uint32_t>(rng_.below(opts_.election_ticks));
}

void node::become_follower(term_t term, node_id leader) {
  if (term > term_) {
    term_ = term;
    voted_for_ = no_node;
  }
  role_ = role::follower;
  leader_ = leader;
  quiesced_ = false;
  votes_.clear();
  progress_.clear();
  abort_transfer();
  uncommitted_.clear();
  uncommitted_bytes_ = 0;
  appends_pending_ = false;
  reset_timers();
}

void node::become_pre_candidate() {
  // Pre-vote changes neither term nor vote: nothing to persist.
  role_ = role::pre_candidate;
  leader_ = no_node;
  quiesced_ = false;
  votes_.clear();
  reset_timers();
}

void node::become_candidate(bool /*transfer*/) {
  ++term_;
  voted_for_ = opts_.id;
  role_ = role::candidate;
  leader_ = no_node;
  quiesced_ = false;
  votes_.clear();
  reset_timers();
}

void node::become_leader() {
  role_ = role::leader;
  leader_ = opts_.id;
  quiesced_ = false;
  votes_.clear();
  progress_.clear();
  abort_transfer();
  uncommitted_.clear();
  uncommitted_bytes_ = 0;
  reset_timers();
  // Every other member starts in probe at the end of our log. Treat them as
  // active so check-quorum gives them a full election timeout to answer.
  const configuration& cfg = config();
  for (const auto& list : {cfg.voters, cfg.learners})
    for (node_id peer : list)
      if (peer != opts_.id) {
        progress& pr = progress_[peer];
        pr.next_index = log_.last_index() + 1;
      }
  // A no-op entry of our own term: entries of earlier terms commit only
  // together with one of the current term (5.4.2), so this commits them.
  append_to_log(entry_kind::normal, nullptr);
  term_start_index_ = log_.last_index();
}

bool node::promotable() const { return !vote_unknown_ && config().is_voter(opts_.id); }

// durable_state::vote_unknown: leaves it once every other voter has spoken.
void node::note_heard(const message& m) {
  // A pre-vote request carries the term its sender would campaign in, one
  // above its own.
  const auto* rv = std::get_if<request_vote>(&m.body);
  const term_t told = rv != nullptr && rv->pre_vote && m.term > 0 ? m.term - 1 : m.term;
  auto& t = heard_terms_[m.from];
  t = std::max(t, told);
  const configuration& cfg = config();
  if (cfg.voters.empty()) return;  // not even the configuration is known yet
  term_t highest = term_;
  for (node_id v : cfg.voters) {
    if (v == opts_.id) continue;
    auto it = heard_terms_.find(v);
    if (it == heard_terms_.end()) return;
    highest = std::max(highest, it->second);
  }
  if (highest > term_) {
    term_ = highest;
    leader_ = no_node;
  }
  voted_for_ = opts_.id;  // whatever we did in this term, we do nothing more
  vote_unknown_ = false;
  vote_known_unhanded_ = true;
  heard_terms_.clear();
}

bool node::in_lease() const {
  return opts_.check_quorum && leader_ != no_node && election_elapsed_ < opts_.election_ticks;
}

// --- clock -------------------------------------------------------------------

void node::tick() {
  if (quiesced_) return;  // quiescence.cpp: woken by messages, proposals, wake()
  if (role_ == role::leader)
    tick_leader();
  else
    tick_election();
}

void node::tick_election() {
  if (election_elapsed_ < UINT32_MAX) ++election_elapsed_;
  if (promotable() && election_elapsed_ >= randomized_election_timeout_) campaign(opts_.pre_vote, false);
}

void node::tick_leader() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (transferee_ != no_node && ++transfer_elapsed_ >= opts_.election_ticks) abort_transfer();

  if (election_elapsed_ >= opts_.election_ticks) {
    election_elapsed_ = 0;
    if (opts_.check_quorum) {
      // A leader cut off from a majority steps down within one election
      // timeout: by then the majority may have elected someone else, and a
      // deposed leader must stop answering as if it could commit.
      const configuration& cfg = config();
      std::size_t active = cfg.is_voter(opts_.id) ? 1 : 0;
      for (auto& [peer, pr] : progress_) {
        if (pr.recent_active && cfg.is_voter(peer)) ++active;
        pr.recent_active = false;
      }
      if (active < cfg.quorum()) {
        become_follower(term_, no_node);
        return;
      }
    }
  }
  if (heartbeat_elapsed_ >= opts_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    if (can_quiesce())
      quiesce_group();
    else
      broadcast_heartbeat();
  }
}

// --- sending -----------------------------------------------------------------

namespace {

// Replies acknowledge local state (entries, a snapshot, a vote): they may
// only leave once that state is durable.
bool is_acknowledgement(const message_body& body) {
  if (std::holds_alternative<append_entries_response>(body)) return true;
  if (std::holds_alternative<install_snapshot_response>(body)) return true;
  if (const auto* v = std::get_if<request_vote_response>(&body)) return !v->pre_vote;
  return false;
}

}  // namespace

void node::send(node_id to, message_body body) { send_with_term(to, term_, std::move(body)); }

void node::send_with_term(node_id to, term_t term, message_body body) {
  const bool after_persist = hard_state{term_, voted_for_} != durable_hard_ || is_acknowledgement(body);
  message m{opts_.id, to, term, std::move(body)};
  (after_persist ? msgs_after_persist_ : msgs_now_).push_back(std::move(m));
}

// --- ready hand-off ----------------------------------------------------------

bool node::has_ready() const {
  if (!msgs_now_.empty()) return true;
  if (role_ == role::leader && appends_pending_) return true;
  if (persist_outstanding_) return false;
  return !msgs_after_persist_.empty() || pending_snapshot_ || log_.has_unhanded() || vote_known_unhanded_ ||
         hard_state{term_, voted_for_} != handed_hard_ || commit_ > reported_commit_;
}

ready node::take_ready() {
  // Pack everything proposed since the last ready into as few AppendEntries
  // as the flow-control windows allow: batching falls out of the hand-off.
  if (role_ == role::leader && appends_pending_) flush_appends();

  ready r;
  r.messages.swap(msgs_now_);
  if (persist_outstanding_) return r;

  if (pending_snapshot_) {
    r.snapshot = std::move(pending_snapshot_);
    r.snapshot_data = std::move(pending_snapshot_data_);
    pending_snapshot_.reset();
    pending_snapshot_data_.clear();
  }
  log_.take_unhanded(r.truncate_from, r.entries);
  const hard_state hs{term_, voted_for_};
  if (hs != handed_hard_) {
    r.hard = hs;
    handed_hard_ = hs;
  }
  r.vote_known = std::exchange(vote_known_unhanded_, false);
  r.messages_after_persist.swap(msgs_after_persist_);
  if (commit_ > reported_commit_) {
    r.commit_index = commit_;
    reported_commit_ = commit_;
  }
  persist_outstanding_ = r.needs_persist();
  if (!persist_outstanding_) durable_hard_ = handed_hard_;
  return r;
}

void node::on_persisted() {
  if (!persist_outstanding_) throw invariant_violation("on_persisted without an outstanding ready");
  persist_outstanding_ = false;
  durable_hard_ = handed_hard_;
  log_.on_persisted();
  // The leader counts itself for entries it has made durable.
  if (role_ == role::leader) maybe_commit();
}

void node::on_log_compacted(const snapshot_meta& meta) {
  if (meta.index > commit_) throw invariant_violation("compaction beyond the commit index");
  if (meta.index <= log_.snapshot().index) return;
  log_.compacted(meta);
  snapshot_config_ = meta.config;
  std::erase_if(log_configs_, [&](const auto& c) { return c.first <= meta.index; });
}

std::optional<snapshot_meta> node::snapshot_meta_at(index_t index) const {
  if (index > commit_) throw invariant_violation("snapshot_meta_at beyond the commit index");
  if (index <= log_.snapshot().index) return std::nullopt;
  snapshot_meta meta;
  auto term = log_.term_at(index);
  meta.index = index;
  meta.term = *term;
  meta.config = snapshot_config_;
  for (const auto& [i, c] : log_configs_)
    if (i <= index) meta.config = c;
  return meta;
}

const progress* node::progress_of(node_id peer) const {
  auto it = progress_.find(peer);
  return it == progress_.end() ? nullptr : &it->second;
}

// --- dispatch ----------------------------------------------------------------

void node::step(const message& m) {
  if (m.to != opts_.id || m.from == no_node || m.from == opts_.id) return;
  down_nodes_.erase(m.from);  // it spoke: alive
  if (quiesced_ && !keeps_quiet(m)) wake();

  if (m.term > term_) {
    if (const auto* rv = std::get_if<request_vote>(&m.body)) {
      // Thesis 4.2.3: a voter that heard from a leader within the election
      // timeout ignores a higher term's (pre-)vote, so a server that was
      // partitioned away (or removed) cannot depose a healthy leader. A
      // transfer the leader itself asked for is the exception.
      if (!rv->leadership_transfer && in_lease()) return;
      if (!rv->pre_vote) {
        // Figure 2: only hearing from a leader or granting a vote puts off our
        // own election. A higher term alone must not, or a server that keeps
        // campaigning and cannot win (a removed one, without pre-vote) resets
        // everyone's timer and no election ever completes. The simulation
        // found that one.
        const bool was_leader = role_ == role::leader;
        const std::uint32_t elapsed = election_elapsed_;
        become_follower(m.term, no_node);
        if (!was_leader) election_elapsed_ = elapsed;
      }
    } else if (const auto* vr = std::get_if<request_vote_response>(&m.body);
               vr && vr->pre_vote && vr->vote_granted) {
      // A granted pre-vote carries the term it was asked for, not the
      // voter's: not a reason to change ours.
    } else {
      const bool from_leader = std::holds_alternative<append_entries>(m.body) ||
                               std::holds_alternative<install_snapshot>(m.body) ||
                               std::holds_alternative<timeout_now>(m.body);
      become_follower(m.term, from_leader ? m.from : no_node);
    }
  } else if (m.term < term_) {
    if (vote_unknown_) note_heard(m);
    reply_stale(m);
    return;
  }
  std::visit([&](const auto& body) { handle(m, body); }, m.body);
  if (vote_unknown_) note_heard(m);
}

void node::reply_stale(const message& m) {
  // Tell a stale leader or candidate our term so it steps down. Without this
  // a node whose term moved ahead would never hear from the old leader again,
  // and with pre-vote the others would not help it catch up.
  if (std::holds_alternative<append_entries>(m.body) || std::holds_alternative<install_snapshot>(m.body)) {
    send(m.from, append_entries_response{});
  } else if (const auto* rv = std::get_if<request_vote>(&m.body)) {
    send(m.from, request_vote_response{false, rv->pre_vote});
  }
}

}  // namespace herald::raft
