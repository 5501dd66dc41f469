#pragma once
// Moves a partition's Raft group toward a target set of voters, one
// single-server membership change at a time. CAF-free and deterministic:
// partition_replica owns one, feeds it the target the controller wrote
// (cluster_model.hpp's partition_assignment: replicas and epoch) and calls
// step() on every tick.
//
// Only the leader acts; every replica keeps the target, so a leader elected
// mid-change continues where the last one stopped (it reads the committed
// configuration, not a plan). One step per call, and only once the last
// configuration entry has committed (the core refuses otherwise,
// raft::node::change_membership; a refused step is simply tried again on the
// next tick). The order keeps the group's redundancy up while it moves:
//
//   1. the committed configuration is the target (voters == target, no
//      learners): settled; reported once per epoch and leadership term
//      (and again after set_target() repeats the same epoch);
//   2. promote a target learner whose match index has reached the commit
//      index (a voter that cannot keep up would stall commits);
//   3. add a missing target node as a learner (it catches up without
//      counting in the quorum);
//   4. remove a learner that is not in the target;
//   -- wait while a target node is still a learner: nothing is removed
//      before its replacement votes;
//   5. remove a voter that is not in the target, other than the leader;
//   6. if the leader itself is not in the target, transfer leadership to the
//      most caught-up target voter; the new leader removes it (step 5).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "raft/node.hpp"

namespace herald::replication {

class membership_driver {
public:
  // What one step did: `did` describes a change proposed or a transfer begun
  // (for the log); `settled` is the epoch whose target the committed
  // configuration now equals, the first time it is seen.
  struct result {
    std::string did;
    std::optional<std::uint64_t> settled;
  };

  // A target with a lower epoch than the one held is stale and ignored
  // (false); so is an empty one. The same epoch again re-arms the settled
  // report (the broker asks again when its report was lost).
  bool set_target(std::vector<raft::node_id> voters, std::uint64_t epoch);

  result step(raft::node& node);

  bool has_target() const { return !target_.empty(); }
  const std::vector<raft::node_id>& target() const { return target_; }
  std::uint64_t epoch() const { return epoch_; }

private:
  std::vector<raft::node_id> target_;  // sorted, unique
  std::uint64_t epoch_ = 0;
  // The (epoch, term) settled was last reported for.
  std::optional<std::pair<std::uint64_t, raft::term_t>> reported_;
};

}  // namespace herald::replication
