// Leader side of log replication (5.3, 5.4.2): proposing, pipelined and
// batched AppendEntries within each follower's window, heartbeats, chunked
// snapshots for followers behind the log start, and the commit rule.

#include <algorithm>

#include "raft/node.hpp"

namespace herald::raft {

propose_result node::propose(shared_bytes payload) {
  wake();
  if (role_ != role::leader) return {errc::not_leader, 0, 0, leader_};
  if (transferee_ != no_node) return {errc::transfer_in_progress, 0, 0, transferee_};
  const std::uint64_t size = payload ? payload->size() : 0;
  // Backpressure: producers wait rather than grow the leader's memory and
  // every follower's backlog without bound.
  if (uncommitted_bytes_ > 0 && uncommitted_bytes_ + size > opts_.max_uncommitted_bytes)
    return {errc::busy, 0, 0, opts_.id};
  append_to_log(entry_kind::normal, std::move(payload));
  uncommitted_.emplace_back(log_.last_index(), size);
  uncommitted_bytes_ += size;
  return {errc::ok, log_.last_index(), term_, opts_.id};
}

void node::append_to_log(entry_kind kind, shared_bytes data) {
  entry e{log_.last_index() + 1, term_, kind, std::move(data)};
  log_.append(e);
  track_config_entry(e);
  appends_pending_ = true;
}

void node::flush_appends() {
  appends_pending_ = false;
  for (auto& [peer, pr] : progress_) send_appends(peer, pr);
}

void node::send_appends(node_id to, progress& pr) {
  // Probe: one at a time. Replicate: fill the window.
  while (send_append(to, pr) && pr.st == progress::state::replicate) {
  }
}

bool node::send_append(node_id to, progress& pr) {
  if (pr.st == progress::state::snapshot) {
    send_snapshot_chunks(to, pr);
    return false;
  }
  if (pr.st == progress::state::probe && pr.probe_sent) return false;
  if (pr.st == progress::state::replicate && pr.window_full(opts_.max_inflight_msgs, opts_.max_inflight_bytes))
    return false;
  if (pr.next_index > log_.last_index() + 1) pr.next_index = log_.last_index() + 1;

  const index_t prev = pr.next_index - 1;
  const auto prev_term = log_.term_at(prev);
  if (!prev_term) {
    // The entries this follower needs are compacted away.
    pr.become_snapshot(log_.snapshot().index);
    send_snapshot_chunks(to, pr);
    return false;
  }
  append_entries ae;
  ae.prev_log_index = prev;
  ae.prev_log_term = *prev_term;
  ae.leader_commit = commit_;
  if (pr.next_index <= log_.last_index())
    ae.entries = log_.slice(pr.next_index, log_.last_index(), opts_.max_append_bytes, opts_.max_append_entries);

  if (pr.st == progress::state::replicate) {
    if (ae.entries.empty()) return false;
    std::uint64_t bytes = 0;
    for (const auto& e : ae.entries) bytes += e.size_bytes();
    pr.sent(ae.entries.back().index, bytes);
  } else {
    // A probe may be empty: it still finds out whether prev matches.
    pr.probe_sent = true;
  }
  send(to, std::move(ae));
  return true;
}

void node::send_snapshot_chunks(node_id to, progress& pr) {
  const snapshot_meta meta = log_.snapshot();
  // A newer snapshot (more compaction) replaced the one being sent: restart.
  if (pr.snapshot_index != meta.index) pr.become_snapshot(meta.index);
  const std::uint64_t window =
      std::min<std::uint64_t>(opts_.max_inflight_bytes, opts_.max_inflight_msgs * opts_.snapshot_chunk_bytes);
  while (!pr.snapshot_done_sent && pr.snapshot_sent - std::min(pr.snapshot_acked, pr.snapshot_sent) < window) {
    install_snapshot is;
    is.meta = meta;
    is.offset = pr.snapshot_sent;
    bool done = false;
    // False only if the store's snapshot is not this one yet (a snapshot we
    // installed is not durable): retried at the next heartbeat.
    if (!log_.store().read_snapshot(meta.index, pr.snapshot_sent, opts_.snapshot_chunk_bytes, is.data, done))
      return;
    is.done = done;
    pr.snapshot_sent += is.data.size();
    pr.snapshot_done_sent = done;
    const bool empty = is.data.empty();
    send(to, std::move(is));
    if (empty && !done) return;
  }
}

void node::broadcast_heartbeat() {
  for (auto& [peer, pr] : progress_) {
    if (pr.st == progress::state::replicate && !pr.inflights.empty() &&
        ++pr.stalled_rounds >= opts_.stall_rounds) {
      // Nothing acknowledged for a while: something was lost. Probe again.
      pr.become_probe();
    } else if (pr.st == progress::state::snapshot && ++pr.stalled_rounds >= opts_.stall_rounds) {
      pr.snapshot_sent = std::min(pr.snapshot_acked, pr.snapshot_sent);
      pr.snapshot_rewind = UINT64_MAX;
      pr.snapshot_done_sent = false;
      pr.stalled_rounds = 0;
    }
    if (pr.st == progress::state::probe) pr.probe_sent = false;

    // prev = match_index always matches, so a heartbeat never triggers a
    // rejection and can carry the commit index up to match_index. If that
    // entry is compacted, (0, 0) matches any log (every follower has
    // committed past it, or has it as its empty start).
    append_entries hb;
    if (auto t = log_.term_at(pr.match_index)) {
      hb.prev_log_index = pr.match_index;
      hb.prev_log_term = *t;
    }
    hb.leader_commit = commit_;
    send(peer, std::move(hb));
    send_appends(peer, pr);
  }
}

void node::maybe_commit() {
  if (role_ != role::leader) return;
  const configuration& cfg = config();
  if (cfg.voters.empty()) return;
  std::vector<index_t> match;
  match.reserve(cfg.voters.size());
  for (node_id v : cfg.voters) {
    if (v == opts_.id) {
      match.push_back(log_.durable_last_index());
    } else {
      auto it = progress_.find(v);
      match.push_back(it == progress_.end() ? 0 : it->second.match_index);
    }
  }
  std::sort(match.begin(), match.end(), std::greater<>());
  const index_t candidate = match[cfg.quorum() - 1];
  // 5.4.2: only entries of the current term are committed by counting
  // replicas; earlier ones commit with them.
  if (candidate > commit_ && log_.term_at(candidate) == term_) commit_to(candidate);
}

void node::commit_to(index_t index) {
  if (index <= commit_) return;
  if (index > log_.last_index()) throw invariant_violation("commit beyond the log");
  commit_ = index;
  while (!uncommitted_.empty() && uncommitted_.front().first <= commit_) {
    uncommitted_bytes_ -= uncommitted_.front().second;
    uncommitted_.pop_front();
  }
  maybe_step_down_removed();
}

}  // namespace herald::raft
