#pragma once
// herald::raft::node - one replica of one Raft group, as a deterministic
// state machine with no I/O (no sockets, clocks, files, threads).
//
// Inputs:  step(message), tick(), propose(payload), change_membership(),
//          transfer_leadership(), on_persisted(), on_log_compacted().
// Outputs: take_ready() - messages to send, state to persist, commit index.
// Time exists only as tick() calls; randomness only from options::seed.
// The host (the partition actor; the simulation in tests/raft) feeds it and
// carries out its outputs (ready.hpp says how and in which order).
//
// Invariants this type keeps (Raft paper, Figure 3, plus the ones the
// implementation adds). A violation throws invariant_violation.
//
//  Election safety    at most one leader per term: a node votes at most
//                     once per term, and its vote is durable before the
//                     grant is sent.
//  Leader append-only a leader never overwrites or deletes its own entries.
//  Log matching       if two logs hold an entry with the same index and
//                     term, they are identical up to it (AppendEntries'
//                     prev_log_index/prev_log_term check).
//  Leader completeness a committed entry is in the log of every leader of
//                     a later term (votes only for up-to-date logs).
//  State machine safety no two nodes apply different entries at an index.
//  Commit rule        a leader advances commit_index only to an index whose
//                     entry has its current term (5.4.2) and that a quorum of
//                     the current voters holds durably; the leader counts
//                     itself only for entries it has persisted.
//  Commit monotonic   commit_index never decreases in a node's lifetime, and
//                     a committed entry is never truncated.
//  Persist before send every message that depends on unpersisted state is
//                     in ready::messages_after_persist: any message while the
//                     term/vote is not durable, and every reply to
//                     AppendEntries, InstallSnapshot or RequestVote (those
//                     acknowledge entries, a snapshot or a vote). A crash
//                     loses only what no one was told about.
//  Leadership lease   with check_quorum, a leader that has not heard from a
//                     quorum within an election timeout steps down, and a
//                     voter that heard from a leader within an election
//                     timeout ignores (pre-)votes for a higher term unless
//                     they come from a leadership transfer. With pre-vote, a
//                     node rejoining from a partition cannot raise terms and
//                     depose a healthy leader.
//  Membership         one voter added or removed per change; a change takes
//                     effect when appended; a leader proposes one only when the
//                     previous one is committed and it has committed an entry
//                     of its own term (thesis 4.1 and its published fix).
//
// Not thread-safe: one owner calls it.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "raft/configuration.hpp"
#include "raft/log_store.hpp"
#include "raft/messages.hpp"
#include "raft/progress.hpp"
#include "raft/raft_log.hpp"
#include "raft/ready.hpp"
#include "raft/rng.hpp"
#include "raft/types.hpp"

namespace herald::raft {

struct options {
  node_id id = no_node;
  std::uint64_t seed = 0;  // the only source of randomness

  std::uint32_t heartbeat_ticks = 1;
  // Election timeouts are drawn from [election_ticks, 2 * election_ticks).
  // Also the check-quorum period, the leader lease, and the time a
  // leadership transfer may take before it is abandoned.
  std::uint32_t election_ticks = 10;
  bool pre_vote = true;
  bool check_quorum = true;

  // One AppendEntries carries at most this much (but always one entry).
  std::uint64_t max_append_bytes = 1 << 20;
  std::size_t max_append_entries = 256;
  // In-flight window per follower.
  std::size_t max_inflight_msgs = 16;
  std::uint64_t max_inflight_bytes = 8 << 20;
  std::uint64_t snapshot_chunk_bytes = 1 << 20;
  // A replicate-state follower whose match_index has not moved for this many
  // heartbeat rounds while AppendEntries are in flight is probed again.
  std::uint32_t stall_rounds = 3;
  // propose() refuses (errc::busy) past this many uncommitted bytes.
  std::uint64_t max_uncommitted_bytes = 64 << 20;

  // Quiescence (CockroachDB's): an idle group stops heartbeating. A leader
  // whose log is wholly committed, durable and matched by every follower it
  // believes alive (see on_node_down; those must include a quorum) sends one
  // last heartbeat flagged `quiesce` instead of the next one and goes quiet;
  // a follower that accepts such a heartbeat goes quiet too. A quiet node's
  // tick() does nothing: no heartbeats, no election timer. It wakes on any
  // proposal, membership change or transfer, on any message except the two
  // that keep a group quiet (the quiesce heartbeat itself, and a follower's
  // answer to it that moves nothing), on wake(), and on on_node_down() of a
  // member: the host reports a lost connection to a node (in Herald the node
  // actor's CAF connection to its peer), so a follower of a quiet group
  // does not campaign while its leader's node is alive, and does once it is
  // gone (the normal election timeout then applies). Liveness only: no
  // handler changes, so safety does not depend on it.
  bool quiesce = false;
};

// What the host had made durable when it (re)starts the node.
struct durable_state {
  hard_state hard;
  // Configuration entries in the log after the snapshot, in index order (the
  // host keeps track of them, so a restart need not scan the log). The
  // snapshot's own configuration comes from log_store::snapshot().
  std::vector<std::pair<index_t, configuration>> log_configs;
  // The host lost this node's durable state (its vote among it) although the
  // node was a member before: it may have voted in some term it no longer
  // knows. Such a node neither votes nor campaigns until it has heard from
  // every other voter; then every term it could have voted in is at most the
  // highest term they told it, so it takes that term with its vote "spent"
  // (voted_for = itself) and votes normally in later terms. Meanwhile it
  // follows a leader and acknowledges entries like any follower.
  bool vote_unknown = false;
};

enum class role { follower, pre_candidate, candidate, leader };
const char* to_string(role r);

enum class errc {
  ok = 0,
  not_leader,            // leader_hint says who might be
  transfer_in_progress,  // leadership is moving; retry at the new leader
  busy,                  // too many uncommitted bytes: backpressure
  change_in_progress,    // a membership change is not committed yet
  invalid_change,        // the change does not apply to the configuration
  invalid_argument,
};
const char* to_string(errc e);

struct propose_result {
  errc code = errc::ok;
  index_t index = 0;
  term_t term = 0;
  node_id leader_hint = no_node;
  explicit operator bool() const { return code == errc::ok; }
};

class node {
public:
  // `store` is read on demand and must outlive the node.
  node(const options& opts, const log_store& store, const durable_state& state);

  // Inputs.
  void tick();
  void step(const message& m);
  propose_result propose(shared_bytes payload);
  propose_result change_membership(const membership_change& change);
  errc transfer_leadership(node_id to);
  // Quiescence (options::quiesce). wake(): the host wants the clock running
  // (e.g. a peer node connected again, so leaders should heartbeat it now).
  // on_node_down(n): the host lost its connection to node n; a quiet node
  // wakes if n is a member, and a leader leaves n out of its quiesce check
  // until it hears from n again. on_node_up(n): connected to n again; a
  // quiet node wakes if n is a member (a leader then heartbeats n, which
  // may have come back behind: a learner never campaigns to say so).
  void wake();
  void on_node_down(node_id n);
  void on_node_up(node_id n);

  // Output hand-off (ready.hpp).
  bool has_ready() const;
  ready take_ready();
  void on_persisted();
  // The host took a snapshot through meta.index (<= the last commit index it
  // was given and already durable) and removed the log prefix through it.
  // meta comes from snapshot_meta_at(), which says nothing if the core
  // already holds a newer snapshot (one received from the leader, still to
  // be persisted): then there is nothing to compact.
  void on_log_compacted(const snapshot_meta& meta);
  std::optional<snapshot_meta> snapshot_meta_at(index_t index) const;

  // Observers.
  node_id id() const { return opts_.id; }
  role state() const { return role_; }
  term_t term() const { return term_; }
  node_id voted_for() const { return voted_for_; }
  bool vote_unknown() const { return vote_unknown_; }
  node_id leader() const { return leader_; }
  index_t commit_index() const { return commit_; }
  const raft_log& log() const { return log_; }
  const configuration& config() const;
  index_t config_index() const;
  const progress* progress_of(node_id peer) const;
  node_id transferee() const { return transferee_; }
  // Quiet: tick() does nothing until something wakes the node. A host may
  // then stop calling tick() at all.
  bool quiesced() const { return quiesced_; }

private:
  // node.cpp: roles, ticks, sending, ready.
  void become_follower(term_t term, node_id leader);
  void become_pre_candidate();
  void become_candidate(bool transfer);
  void become_leader();
  void reset_timers();
  void tick_election();
  void tick_leader();
  bool promotable() const;
  void note_heard(const message& m);
  bool in_lease() const;
  void send(node_id to, message_body body);
  void send_with_term(node_id to, term_t term, message_body body);

  // election.cpp
  void campaign(bool pre_vote, bool transfer);
  void poll(node_id from, bool granted);

  // One handler per message kind, one file each (handle_*.cpp).
  void handle(const message& m, const request_vote& r);
  void handle(const message& m, const request_vote_response& r);
  void handle(const message& m, const append_entries& r);
  void handle(const message& m, const append_entries_response& r);
  void handle(const message& m, const install_snapshot& r);
  void handle(const message& m, const install_snapshot_response& r);
  void handle(const message& m, const timeout_now& r);
  void reply_stale(const message& m);

  // replication.cpp: leader side.
  void append_to_log(entry_kind kind, shared_bytes data);
  bool send_append(node_id to, progress& pr);
  void send_appends(node_id to, progress& pr);
  void send_snapshot_chunks(node_id to, progress& pr);
  void broadcast_heartbeat();
  void flush_appends();
  void maybe_commit();
  void commit_to(index_t index);

  // membership.cpp
  void track_config_entry(const entry& e);
  void forget_configs_from(index_t index);
  void on_config_changed();
  void maybe_step_down_removed();

  // quiescence.cpp
  bool can_quiesce() const;
  void quiesce_group();
  bool keeps_quiet(const message& m) const;

  // transfer.cpp
  void maybe_send_timeout_now(node_id to, const progress& pr);
  void abort_transfer();

  options opts_;
  raft_log log_;
  rng rng_;

  role role_ = role::follower;
  term_t term_ = 0;
  node_id voted_for_ = no_node;
  node_id leader_ = no_node;
  index_t commit_ = 0;

  // durable_state::vote_unknown: the highest term each peer has told us.
  bool vote_unknown_ = false;
  bool vote_known_unhanded_ = false;  // the next ready tells the host to drop its marker
  std::map<node_id, term_t> heard_terms_;

  // Configurations: the snapshot's, then one per config entry in the log.
  // The last one is in force (single-server changes take effect on append).
  configuration snapshot_config_;
  std::vector<std::pair<index_t, configuration>> log_configs_;

  std::uint32_t election_elapsed_ = 0;
  std::uint32_t heartbeat_elapsed_ = 0;
  std::uint32_t randomized_election_timeout_ = 0;

  // Quiescence: tick() is a no-op while quiet; nodes the host reported
  // unreachable (cleared by any message from them).
  bool quiesced_ = false;
  std::set<node_id> down_nodes_;

  // Candidate / pre-candidate: votes received this round.
  std::map<node_id, bool> votes_;

  // Leader.
  std::map<node_id, progress> progress_;
  index_t term_start_index_ = 0;  // index of this term's no-op entry
  node_id transferee_ = no_node;
  std::uint32_t transfer_elapsed_ = 0;
  std::deque<std::pair<index_t, std::uint64_t>> uncommitted_;  // own proposals: index, bytes
  std::uint64_t uncommitted_bytes_ = 0;
  bool appends_pending_ = false;  // new entries to push to followers at the next take_ready

  // Follower: the snapshot being received in chunks.
  struct incoming_snapshot {
    snapshot_meta meta;
    term_t term = 0;
    node_id from = no_node;
    bytes data;
  };
  std::optional<incoming_snapshot> incoming_;

  // Persistence. durable_hard_ is what the host confirmed; handed_hard_ what
  // the outstanding ready asked for.
  hard_state durable_hard_;
  hard_state handed_hard_;
  bool persist_outstanding_ = false;
  std::optional<snapshot_meta> pending_snapshot_;
  bytes pending_snapshot_data_;
  index_t reported_commit_ = 0;
  std::vector<message> msgs_now_;
  std::vector<message> msgs_after_persist_;
};

}  // namespace herald::raft
