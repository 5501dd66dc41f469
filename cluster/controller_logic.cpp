#include "cluster/controller_logic.hpp"

#include <algorithm>
#include <set>

#include "cluster/placement.hpp"

namespace herald::cluster::controller {
namespace {

std::string list(const std::vector<broker_id>& ids) {
  std::string out = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "]";
}

std::set<broker_id> as_set(const std::vector<broker_id>& ids) { return {ids.begin(), ids.end()}; }

placement::broker to_placement(const broker_record& b) {
  return {b.id, b.rack, static_cast<double>(std::max<std::uint32_t>(b.weight, 1))};
}

placement::topic_ref ref_of(const topic_record& t) { return {t.descriptor.id, t.descriptor.name}; }

placement::assignment assignment_of(const topic_record& t) {
  placement::assignment a;
  for (const auto& p : t.partitions) a.push_back(p.replicas);
  return a;
}

}  // namespace

void broker_liveness::observe(const cluster_view& view, std::int64_t now_ms) {
  for (const auto& [id, record] : view.live_brokers) {
    last_seen_[id] = now_ms;
    known_[id] = record;
  }
  for (const auto& [name, topic] : view.topics)
    for (const auto& p : topic.partitions)
      for (auto id : p.replicas) last_seen_.emplace(id, now_ms);  // only if never seen
}

bool broker_liveness::gone(const cluster_view& view, broker_id id, std::int64_t now_ms, std::int64_t grace_ms) const {
  if (view.live_brokers.count(id)) return false;
  auto i = last_seen_.find(id);
  return i == last_seen_.end() || now_ms - i->second > grace_ms;
}

replica_plan plan_replicas(const cluster_view& view, const broker_liveness& liveness, std::int64_t now_ms,
                           std::int64_t grace_ms) {
  replica_plan plan;
  for (const auto& [name, topic] : view.topics) {
    // Usable: live, or absent but within its grace and holding replicas of
    // this topic (they stay where they are until the grace ends).
    std::map<broker_id, broker_record> usable = view.live_brokers;
    std::set<broker_id> gone;
    for (const auto& p : topic.partitions)
      for (auto id : p.replicas) {
        if (view.live_brokers.count(id)) continue;
        if (liveness.gone(view, id, now_ms, grace_ms)) {
          gone.insert(id);
          continue;
        }
        auto k = liveness.known().find(id);
        broker_record r = k != liveness.known().end() ? k->second : broker_record{};
        r.id = id;
        usable.emplace(id, r);
      }
    const std::uint32_t rf = topic.descriptor.replication_factor;
    if (usable.size() < rf) {
      if (!gone.empty())
        plan.notes.push_back("topic " + name + ": replication factor " + std::to_string(rf) + " needs " +
                             std::to_string(rf) + " brokers but only " + std::to_string(usable.size()) +
                             " are usable; its replicas on gone brokers wait for more brokers");
      continue;
    }
    std::vector<placement::broker> brokers;
    for (const auto& [id, b] : usable) brokers.push_back(to_placement(b));
    const auto placed = placement::rebalance(brokers, ref_of(topic), assignment_of(topic), rf);
    if (!placed.ok()) {
      plan.notes.push_back("topic " + name + ": " + placed.error);
      continue;
    }
    topic_record next = topic;
    bool changed = false;
    for (std::size_t p = 0; p < topic.partitions.size() && p < placed.replicas.size(); ++p) {
      const auto& cur = topic.partitions[p];
      const auto& want = placed.replicas[p];
      if (as_set(want) == as_set(cur.replicas)) continue;
      if (want.size() < cur.replicas.size()) continue;  // never fewer replicas
      const bool target_gone =
        std::any_of(cur.replicas.begin(), cur.replicas.end(), [&](broker_id id) { return gone.count(id) != 0; });
      // One unsettled change per partition, unless its target itself holds a
      // gone broker: that change can never finish, and a newer epoch
      // redirects it.
      if (!cur.settled && !target_gone) continue;
      std::string why;
      for (auto id : cur.replicas)
        if (gone.count(id)) why += (why.empty() ? "broker " : ", ") + std::to_string(id);
      why = why.empty() ? "rebalance" : why + " gone";
      plan.changes.push_back(name + "/" + std::to_string(p) + ": " + list(cur.replicas) + " -> " + list(want) +
                             " (" + why + ")");
      auto& np = next.partitions[p];
      np.replicas = want;
      np.epoch = cur.epoch + 1;
      np.settled = false;
      changed = true;
    }
    if (changed) plan.rewrites.emplace(name, std::move(next));
  }
  return plan;
}

grown add_partitions(const topic_record& topic, const std::map<broker_id, broker_record>& live_brokers,
                     std::uint32_t partitions) {
  grown out;
  const auto now = static_cast<std::uint32_t>(topic.partitions.size());
  if (partitions < now) {
    out.error = "topic " + topic.descriptor.name + " has " + std::to_string(now) +
                " partitions; partitions can be added, not removed";
    return out;
  }
  if (partitions > max_partitions_per_topic) {
    out.error = "at most " + std::to_string(max_partitions_per_topic) + " partitions per topic";
    return out;
  }
  out.record = topic;
  if (partitions == now) return out;
  std::vector<placement::broker> brokers;
  for (const auto& [id, b] : live_brokers) brokers.push_back(to_placement(b));
  auto current = assignment_of(topic);
  current.resize(partitions);  // the new ones empty: rebalance fills them from their preference lists
  const auto placed = placement::rebalance(brokers, ref_of(topic), current, topic.descriptor.replication_factor);
  if (!placed.ok()) {
    out.error = "cannot place the new partitions of " + topic.descriptor.name + ": " + placed.error;
    return out;
  }
  for (std::uint32_t p = now; p < partitions; ++p) out.record.partitions.push_back({placed.replicas[p], 0, true});
  out.record.descriptor.partition_count = partitions;
  return out;
}

std::string reassign(topic_record& topic, std::uint32_t partition, const std::vector<broker_id>& replicas,
                     const std::map<broker_id, broker_record>& live_brokers) {
  const auto& name = topic.descriptor.name;
  if (partition >= topic.partitions.size())
    return "topic " + name + " has no partition " + std::to_string(partition) + " (it has " +
           std::to_string(topic.partitions.size()) + ")";
  if (replicas.size() != topic.descriptor.replication_factor)
    return "topic " + name + " has replication factor " + std::to_string(topic.descriptor.replication_factor) +
           "; give that many replicas, not " + std::to_string(replicas.size());
  if (as_set(replicas).size() != replicas.size()) return "replicas " + list(replicas) + " name a broker twice";
  for (auto id : replicas)
    if (!live_brokers.count(id)) return "broker " + std::to_string(id) + " is not a live broker";
  auto& p = topic.partitions[partition];
  if (p.replicas == replicas) return {};
  p.replicas = replicas;
  p.epoch += 1;
  p.settled = false;
  return {};
}

std::vector<leadership_move> leadership_moves(const cluster_view& view,
                                              const std::map<std::pair<std::string, std::uint32_t>, broker_id>& leaders,
                                              std::size_t max_moves) {
  std::vector<leadership_move> moves;
  for (const auto& [name, topic] : view.topics)
    for (std::uint32_t p = 0; p < topic.partitions.size(); ++p) {
      if (moves.size() >= max_moves) return moves;
      const auto& a = topic.partitions[p];
      if (!a.settled || a.replicas.empty()) continue;
      auto l = leaders.find({name, p});
      if (l == leaders.end() || l->second < 0) continue;
      const broker_id preferred = a.replicas.front();
      if (l->second == preferred || !view.live_brokers.count(preferred)) continue;
      moves.push_back({name, p, l->second, preferred});
    }
  return moves;
}

}  // namespace herald::cluster::controller
