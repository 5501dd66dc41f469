// ZooKeeper mode: `herald topic alter --partitions N` and `herald partition
// reassign`. Both are read-modify-writes of the topic's znode through the
// ZooKeeper actor (CAS on its version), decided by cluster/controller_logic;
// every broker then reconciles against the new view (new partitions start as
// founders, a new replica set is moved to by the partition's leader).

#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/node_state.hpp"
#include "cluster/controller_logic.hpp"
#include "schema/wire.hpp"

namespace herald::actors {
namespace {

using schema::ErrorCode;

bytes answer(std::int32_t outcome, const std::string& message) {
  switch (outcome) {
    case zk_ok: return wire::error_response(ErrorCode::NONE, {});
    case zk_no_node: return wire::error_response(ErrorCode::UNKNOWN_TOPIC, message);
    case zk_unavailable: return wire::error_response(ErrorCode::CLUSTER_UNAVAILABLE, message);
    case zk_refused: return wire::error_response(ErrorCode::INVALID_REQUEST, message);
    default: return wire::error_response(ErrorCode::INTERNAL, message);
  }
}

// Runs `fn` on the topic's record in ZooKeeper and answers rp.
void update_topic(node_ptr self, const std::string& name, zk_topic_update fn, bytes_promise rp) {
  auto& st = self->state;
  if (!st.zk_available || !st.view || !st.zk) {
    rp.deliver(wire::error_response(ErrorCode::CLUSTER_UNAVAILABLE,
                                    "ZooKeeper unreachable: metadata changes wait (topic " + name + " unchanged)"));
    return;
  }
  if (!st.view->topics.count(name)) {
    rp.deliver(wire::error_response(ErrorCode::UNKNOWN_TOPIC, "topic " + name + " does not exist"));
    return;
  }
  self->request(st.zk, std::chrono::seconds{30}, zk_update_atom::value, name, std::move(fn))
    .then([=](std::int32_t outcome, const std::string& message) mutable { rp.deliver(answer(outcome, message)); },
          [=](caf::error& e) mutable {
            rp.deliver(wire::error_response(ErrorCode::CLUSTER_UNAVAILABLE,
                                            "the metadata write did not finish: " + self->system().render(e)));
          });
}

}  // namespace

void alter_topic(node_ptr self, schema::AlterTopicRequest::Reader req, bytes_promise rp, const std::string& principal) {
  const std::string name = req.getName();
  const auto partitions = req.getPartitions();
  const auto& view = self->state.view;
  if (!view) return update_topic(self, name, {}, rp);  // answers unavailable
  // The owner's limits, against the view (as creates are checked; a change
  // racing in on another broker may pass unseen: docs/security.md).
  if (auto t = view->topics.find(name); t != view->topics.end()) {
    std::vector<const cluster::topic_descriptor*> topics;
    for (const auto& [n, rec] : view->topics) topics.push_back(&rec.descriptor);
    if (auto why = limit_refusal_for_grow(self, principal, t->second.descriptor, partitions, topics); !why.empty())
      return rp.deliver(wire::error_response(ErrorCode::QUOTA_EXCEEDED, why)), void();
  }
  const auto live = self->state.view->live_brokers;
  update_topic(self, name,
               [live, partitions](cluster::topic_record& t) -> std::string {
                 auto grown = cluster::controller::add_partitions(t, live, partitions);
                 if (!grown.error.empty()) return grown.error;
                 t = std::move(grown.record);
                 return {};
               },
               rp);
  spdlog::info("topic {}: growing to {} partitions", name, partitions);
}

void reassign_partition(node_ptr self, schema::ReassignPartitionRequest::Reader req, bytes_promise rp) {
  const std::string name = req.getTopic();
  const auto partition = req.getPartition();
  std::vector<cluster::broker_id> replicas;
  for (auto id : req.getReplicas()) replicas.push_back(id);
  if (!self->state.view) return update_topic(self, name, {}, rp);
  const auto live = self->state.view->live_brokers;
  update_topic(self, name,
               [live, partition, replicas](cluster::topic_record& t) {
                 return cluster::controller::reassign(t, partition, replicas, live);
               },
               rp);
  spdlog::info("{}/{}: reassignment requested", name, partition);
}

}  // namespace herald::actors
