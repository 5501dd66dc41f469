#pragma once
// What a broker must change locally so that its replicas match the cluster
// view from ZooKeeper. CAF-free and I/O-free: the node actor describes what it
// holds, this decides, the node actor carries the plan out.
//
// Rules (docs/architecture.md, "Cluster on ZooKeeper"):
//   - A local topic whose (name, id) is not in the view is deleted, data and
//     all: that is how a delete a broker missed while down is carried out,
//     and how a topic deleted and re-created under the same name while it
//     was away is told apart (another id).
//   - Every topic of the view is known locally (adopted: its descriptor is
//     written to the local metadata), so sessions know it exists even where
//     this broker holds none of its partitions.
//   - For every partition whose `replicas` contain this broker, a replica
//     must run. One that is not running starts as
//       must_exist  when the broker has local data for it (voters come from
//                   its log; it must not bootstrap again);
//       founder     when the assignment's epoch is 0 (created with the topic)
//                   and there is no local data: voters = `replicas`;
//       joiner      when the epoch is > 0 and there is no local data: it was
//                   added by a membership change and waits for the leader.
//   - A local replica (running or with data) of a partition whose `replicas`
//     no longer contain this broker is stopped and its data removed only once
//     the partition is `settled`: until then it may still count in the quorum
//     of the configuration being replaced.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cluster/cluster_model.hpp"

namespace herald::cluster {

struct local_partition {
  bool running = false;   // a replica actor runs (or is being restarted) here
  bool has_data = false;  // its directory holds data
};

struct local_topic {
  topic_descriptor descriptor;
  std::map<std::uint32_t, local_partition> partitions;  // only those running or with data
};

enum class start_origin { founder, joiner, must_exist };

struct replica_start {
  std::string topic;
  std::uint32_t partition = 0;
  start_origin origin = start_origin::founder;
  std::vector<broker_id> replicas;  // the assignment's (founding voters for a founder)
  std::uint64_t epoch = 0;
};

struct replica_ref {
  std::string topic;
  std::uint32_t partition = 0;
  friend bool operator==(const replica_ref&, const replica_ref&) = default;
};

struct reconcile_plan {
  std::vector<std::string> delete_topics;       // local topics (whole) to delete, first
  std::vector<topic_descriptor> adopt_topics;   // new to this broker, or changed (partitions, config)
  std::vector<replica_start> start;
  std::vector<replica_ref> remove;              // stop and delete this replica's data
  bool empty() const { return delete_topics.empty() && adopt_topics.empty() && start.empty() && remove.empty(); }
};

reconcile_plan reconcile(broker_id self, const cluster_view& view, const std::map<std::string, local_topic>& local);

const char* to_string(start_origin o);

} // namespace herald::cluster
