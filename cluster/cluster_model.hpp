#pragma once
// The cluster as ZooKeeper holds it: live brokers, topics and where each
// partition's replicas belong. Plain values, no CAF and no ZooKeeper: the
// ZooKeeper records (cluster/zk_records) decode into these, the controller's
// decisions (cluster/controller_logic) read and produce them, and brokers
// reconcile their replicas against them.
//
// ZooKeeper layout (under the connect string's chroot), documented with its
// encoding in cluster/zk_records.hpp:
//   /herald/cluster_id          persistent  the cluster's id, fixed at first start
//   /herald/brokers/<id>        ephemeral   broker_record of a live broker
//   /herald/controller          ephemeral   the controller's broker id and epoch
//   /herald/controller_epoch    persistent  last controller epoch (fences old controllers)
//   /herald/topics/<name>       persistent  topic_record: config and assignment
// A topic that is not under /herald/topics does not exist: a broker deletes
// local data of a topic whose (name, id) is absent, which is how a delete it
// missed while down is carried out when it returns.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cluster/topic.hpp"

namespace herald::cluster {

using broker_id = std::int32_t;

struct broker_record {
  broker_id id = 0;
  std::string host;    // advertised address clients connect to (the framed client listener)
  std::uint16_t port = 0;
  std::string rack;    // empty: no rack
  std::uint32_t weight = 1;
  // Advertised address of its cluster listener (BASP), where other brokers'
  // node actors connect; port 0: none recorded.
  std::string cluster_host;
  std::uint16_t cluster_port = 0;
  friend bool operator==(const broker_record&, const broker_record&) = default;
};

// One partition's replica set as the controller wants it.
//   replicas   the target voters, first = preferred leader.
//   epoch      bumped by every change of `replicas` (0 at creation).
//   settled    true once the partition's Raft leader has committed a
//              configuration whose voters are exactly `replicas` (for this
//              epoch). Until then a replica that left the set keeps running:
//              it may still count in the quorum of the old configuration.
struct partition_assignment {
  std::vector<broker_id> replicas;
  std::uint64_t epoch = 0;
  bool settled = true;
  friend bool operator==(const partition_assignment&, const partition_assignment&) = default;
};

struct topic_record {
  topic_descriptor descriptor;  // partition_count == partitions.size()
  std::vector<partition_assignment> partitions;
};

// What every broker watches: a consistent enough picture to reconcile from.
struct cluster_view {
  std::map<broker_id, broker_record> live_brokers;
  std::map<std::string, topic_record> topics;
  broker_id controller = -1;  // -1: none elected right now
};

} // namespace herald::cluster
