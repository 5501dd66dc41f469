#pragma once
// The controller's decisions, without CAF, ZooKeeper or clocks: given the
// cluster as ZooKeeper holds it (cluster_model.hpp) and when each broker was
// last seen, which topic records to rewrite. The controller actor
// (actors/controller_actor) feeds it and writes what it returns; brokers'
// partition leaders carry the changes out (replication/membership_driver).
// Deterministic: the same inputs give the same outputs, time is an argument.
//
// Re-replication. A broker absent from /herald/brokers for longer than the
// grace period is gone: every partition with a replica on it gets a new
// replica set from placement::rebalance over the brokers that are live or
// still within their grace (a short restart moves nothing). A live broker
// that holds less than its share (a new one) receives it the same way:
// rebalance() gives it about R*P/(n+1) replicas per topic and moves nothing
// else. Rules:
//   - a partition whose last change has not settled is not changed again
//     (one unsettled change per partition; the next round takes it up);
//   - a changed partition gets epoch + 1 and settled = false;
//   - the replica count never drops: when too few brokers are usable for the
//     topic's replication factor the topic is left as it is (and a note says
//     why) rather than shrunk;
//   - a partition is only rewritten when its replica set changes as a set
//     (an order-only difference, the preferred leader, does not move data).
//
// Leadership balance: the first replica is the preferred leader; a
// partition led elsewhere while its preferred replica is live should
// transfer (leadership_moves).

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cluster/cluster_model.hpp"

namespace herald::cluster::controller {

// When the controller last saw each broker, and its last record (a gone
// broker's rack and weight still matter while it is within its grace).
class broker_liveness {
public:
  // Live brokers are seen now. A broker named in some replica set that this
  // controller has never seen starts its grace now: a new controller does not
  // move replicas of a broker that may be restarting; it waits a full grace.
  void observe(const cluster_view& view, std::int64_t now_ms);

  // Absent for longer than grace_ms (a live broker never is).
  bool gone(const cluster_view& view, broker_id id, std::int64_t now_ms, std::int64_t grace_ms) const;
  // When it was last seen, if ever.
  const std::map<broker_id, std::int64_t>& last_seen() const { return last_seen_; }
  const std::map<broker_id, broker_record>& known() const { return known_; }

private:
  std::map<broker_id, std::int64_t> last_seen_;
  std::map<broker_id, broker_record> known_;
};

struct replica_plan {
  // Full records to write (one znode per topic), by topic name.
  std::map<std::string, topic_record> rewrites;
  // For the log: one line per changed partition ("t/3: [1,2,3] -> [1,2,4]
  // (broker 3 gone)"), and what could not be done and why.
  std::vector<std::string> changes;
  std::vector<std::string> notes;
};

// The rewrites that re-replicate gone brokers' replicas and give live
// brokers their share.
replica_plan plan_replicas(const cluster_view& view, const broker_liveness& liveness, std::int64_t now_ms,
                           std::int64_t grace_ms);

// A topic record grown to `partitions` partitions (alter --partitions): the
// new ones are placed on the live brokers (rebalance keeps the old ones
// where they are) with epoch 0 and settled (their replicas found the group).
// Errors: fewer partitions than now, above max_partitions_per_topic, or too
// few live brokers for the replication factor (the error says which).
struct grown {
  topic_record record;
  std::string error;
};
grown add_partitions(const topic_record& topic, const std::map<broker_id, broker_record>& live_brokers,
                     std::uint32_t partitions);

// An operator's reassignment of one partition: as many replicas as the
// topic's replication factor, distinct, every one a live broker. Sets
// epoch + 1 and settled = false. Allowed while a change is unsettled (the
// membership driver follows the newest epoch), so an operator can redirect
// a move that cannot finish. A set equal to the current one (same order)
// changes nothing. Empty error on success.
std::string reassign(topic_record& topic, std::uint32_t partition, const std::vector<broker_id>& replicas,
                     const std::map<broker_id, broker_record>& live_brokers);

// Leadership balance. leaders: the current leader of each (topic, partition)
// someone knows (absent or -1: unknown). A settled partition whose leader is
// not its first replica, while that replica is live, should move there. At
// most max_moves, in (topic, partition) order, so a whole cluster's
// leaderships do not move in one burst.
struct leadership_move {
  std::string topic;
  std::uint32_t partition = 0;
  broker_id from = -1;
  broker_id to = -1;
};
std::vector<leadership_move> leadership_moves(const cluster_view& view,
                                              const std::map<std::pair<std::string, std::uint32_t>, broker_id>& leaders,
                                              std::size_t max_moves);

}  // namespace herald::cluster::controller
