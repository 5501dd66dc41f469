#include "replication/membership_driver.hpp"

#include <algorithm>

namespace herald::replication {
namespace {

bool contains(const std::vector<raft::node_id>& v, raft::node_id id) { return std::binary_search(v.begin(), v.end(), id); }

std::string describe(raft::change_kind kind, raft::node_id id) {
  switch (kind) {
    case raft::change_kind::add_learner: return "adding node " + std::to_string(id) + " as a learner";
    case raft::change_kind::promote: return "promoting node " + std::to_string(id) + " to voter";
    case raft::change_kind::remove: return "removing node " + std::to_string(id);
    default: return "changing node " + std::to_string(id);
  }
}

}  // namespace

bool membership_driver::set_target(std::vector<raft::node_id> voters, std::uint64_t epoch) {
  std::sort(voters.begin(), voters.end());
  voters.erase(std::unique(voters.begin(), voters.end()), voters.end());
  if (voters.empty() || (has_target() && epoch < epoch_)) return false;
  if (voters.front() == raft::no_node) return false;
  if (epoch == epoch_) reported_.reset();
  target_ = std::move(voters);
  epoch_ = epoch;
  return true;
}

membership_driver::result membership_driver::step(raft::node& node) {
  result out;
  if (!has_target() || node.state() != raft::role::leader || node.transferee() != raft::no_node) return out;
  // One change in flight at most: the next waits for this one to commit.
  if (node.config_index() > node.commit_index()) return out;
  const raft::configuration& cfg = node.config();

  if (cfg.voters == target_ && cfg.learners.empty()) {
    const std::pair<std::uint64_t, raft::term_t> now{epoch_, node.term()};
    if (reported_ != now) {
      reported_ = now;
      out.settled = epoch_;
    }
    return out;
  }

  auto propose = [&](raft::change_kind kind, raft::node_id id) {
    // A refusal (the core's change_in_progress before this term committed
    // an entry, say) is retried on the next tick.
    if (node.change_membership({kind, id})) out.did = describe(kind, id);
    return out;
  };

  for (auto id : cfg.learners)
    if (contains(target_, id)) {
      const auto* pr = node.progress_of(id);
      if (pr != nullptr && pr->match_index >= node.commit_index()) return propose(raft::change_kind::promote, id);
    }
  for (auto id : target_)
    if (!cfg.contains(id)) return propose(raft::change_kind::add_learner, id);
  for (auto id : cfg.learners)
    if (!contains(target_, id)) return propose(raft::change_kind::remove, id);
  for (auto id : cfg.learners)
    if (contains(target_, id)) return out;  // still catching up
  for (auto id : cfg.voters)
    if (!contains(target_, id) && id != node.id()) return propose(raft::change_kind::remove, id);

  if (!contains(target_, node.id())) {
    raft::node_id best = raft::no_node;
    raft::index_t best_match = 0;
    for (auto id : cfg.voters) {
      if (id == node.id()) continue;
      const auto* pr = node.progress_of(id);
      if (pr != nullptr && (best == raft::no_node || pr->match_index > best_match)) {
        best = id;
        best_match = pr->match_index;
      }
    }
    if (best != raft::no_node && node.transfer_leadership(best) == raft::errc::ok)
      out.did = "handing leadership to node " + std::to_string(best) + " before leaving the group";
  }
  return out;
}

}  // namespace herald::replication
