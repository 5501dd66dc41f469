#include "cluster/reconcile.hpp"

#include <algorithm>

namespace herald::cluster {

namespace {

bool same_config(const topic_config& a, const topic_config& b) {
  return a.segment_bytes == b.segment_bytes && a.max_batch_bytes == b.max_batch_bytes && a.fsync == b.fsync &&
         a.fsync_interval_ms == b.fsync_interval_ms && a.retention_ms == b.retention_ms &&
         a.retention_bytes == b.retention_bytes && a.compact == b.compact &&
         a.tombstone_retention_ms == b.tombstone_retention_ms && a.min_compaction_lag_ms == b.min_compaction_lag_ms;
}

bool same_descriptor(const topic_descriptor& a, const topic_descriptor& b) {
  return a.name == b.name && a.id == b.id && a.partition_count == b.partition_count &&
         a.replication_factor == b.replication_factor && same_config(a.config, b.config);
}

bool contains(const std::vector<broker_id>& v, broker_id id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}

} // namespace

const char* to_string(start_origin o) {
  switch (o) {
    case start_origin::founder: return "founder";
    case start_origin::joiner: return "joiner";
    case start_origin::must_exist: return "must_exist";
  }
  return "?";
}

reconcile_plan reconcile(broker_id self, const cluster_view& view, const std::map<std::string, local_topic>& local) {
  reconcile_plan plan;
  static const std::map<std::uint32_t, local_partition> none;
  for (const auto& [name, lt] : local) {
    auto zk = view.topics.find(name);
    if (zk == view.topics.end() || zk->second.descriptor.id != lt.descriptor.id)
      plan.delete_topics.push_back(name);
  }
  for (const auto& [name, rec] : view.topics) {
    auto lt = local.find(name);
    const bool known = lt != local.end() && lt->second.descriptor.id == rec.descriptor.id;
    if (!known || !same_descriptor(lt->second.descriptor, rec.descriptor))
      plan.adopt_topics.push_back(rec.descriptor);
    const auto& here = known ? lt->second.partitions : none;
    for (std::uint32_t p = 0; p < rec.partitions.size(); ++p) {
      const auto& a = rec.partitions[p];
      auto lp = here.find(p);
      const bool running = lp != here.end() && lp->second.running;
      const bool has_data = lp != here.end() && lp->second.has_data;
      if (contains(a.replicas, self)) {
        if (running)
          continue;
        replica_start s{name, p, start_origin::founder, a.replicas, a.epoch};
        if (has_data)
          s.origin = start_origin::must_exist;
        else if (a.epoch > 0)
          s.origin = start_origin::joiner;
        plan.start.push_back(std::move(s));
      } else if ((running || has_data) && a.settled) {
        plan.remove.push_back({name, p});
      }
    }
  }
  return plan;
}

} // namespace herald::cluster
