// InstallSnapshot replies at the leader: pace the chunks, rewind on a gap,
// and go back to log replication once the follower has the snapshot.

#include "raft/node.hpp"

namespace herald::raft {

void node::handle(const message& m, const install_snapshot_response& r) {
  if (role_ != role::leader) return;
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  progress& pr = it->second;
  pr.recent_active = true;

  if (r.done) {
    // The follower's state covers the snapshot: its log matches ours there.
    pr.maybe_update(r.snapshot_index);
    if (pr.st == progress::state::snapshot && pr.match_index >= pr.snapshot_index) pr.become_probe();
    maybe_commit();
    if (role_ != role::leader) return;
    if (m.from == transferee_) maybe_send_timeout_now(m.from, pr);
    send_appends(m.from, pr);
    return;
  }
  if (pr.st != progress::state::snapshot || r.snapshot_index != pr.snapshot_index) return;
  if (r.rejected) {
    // A gap: resend from where the follower is. Once per gap - the other
    // chunks already in flight will be rejected too, at the same offset.
    if (r.next_offset < pr.snapshot_sent && r.next_offset != pr.snapshot_rewind) {
      pr.snapshot_sent = r.next_offset;
      pr.snapshot_rewind = r.next_offset;
      pr.snapshot_done_sent = false;
    }
    pr.snapshot_acked = r.next_offset;
  } else if (r.next_offset > pr.snapshot_acked) {
    pr.snapshot_acked = r.next_offset;
    pr.stalled_rounds = 0;
  }
  send_snapshot_chunks(m.from, pr);
}

}  // namespace herald::raft
