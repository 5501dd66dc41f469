// InstallSnapshot, receiver side (7): chunks accumulate in order; the last
// one replaces the whole log with the snapshot.

#include "raft/node.hpp"

namespace herald::raft {

void node::handle(const message& m, const install_snapshot& r) {
  if (role_ == role::leader) throw invariant_violation("two leaders in one term");
  const snapshot_meta& meta = r.meta;
  if (meta.index == 0 || meta.term > m.term || meta.config.voters.empty()) return;  // malformed
  if (role_ != role::follower) become_follower(term_, m.from);
  leader_ = m.from;
  election_elapsed_ = 0;

  install_snapshot_response resp;
  resp.snapshot_index = meta.index;

  if (meta.index <= commit_ || log_.term_at(meta.index) == meta.term) {
    // We already have what it stands for. Holding its last entry means our
    // log matches the leader's through it (log matching), and a snapshot
    // only covers committed entries.
    if (meta.index > commit_) commit_to(meta.index);
    incoming_.reset();
    resp.done = true;
    send(m.from, resp);
    return;
  }

  const bool same = incoming_ && incoming_->meta == meta && incoming_->term == term_ && incoming_->from == m.from;
  if (r.offset == 0 && !(same && !incoming_->data.empty())) {
    incoming_ = incoming_snapshot{meta, term_, m.from, {}};
  } else if (!same || r.offset != incoming_->data.size()) {
    // Out of order (lost or reordered chunk), or a snapshot we are not
    // receiving: say where we are; the leader resends from there.
    resp.rejected = true;
    resp.next_offset = same ? incoming_->data.size() : 0;
    send(m.from, resp);
    return;
  }
  incoming_->data.insert(incoming_->data.end(), r.data.begin(), r.data.end());
  if (!r.done) {
    resp.next_offset = incoming_->data.size();
    send(m.from, resp);
    return;
  }

  // Install: the log now starts after the snapshot. Our entries after
  // meta.index cannot be committed (they do not extend the committed entry
  // at meta.index), so dropping them is safe.
  log_.restore(meta);
  snapshot_config_ = meta.config;
  log_configs_.clear();
  commit_ = meta.index;
  pending_snapshot_ = meta;
  pending_snapshot_data_ = std::move(incoming_->data);
  incoming_.reset();
  resp.done = true;
  send(m.from, resp);
}

}  // namespace herald::raft
