// Admin and metadata requests, answered by the node actor.

#include <filesystem>

#include <kj/exception.h>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/node_state.hpp"
#include "actors/replica_stats.hpp"
#include "cluster/disk_guard.hpp"
#include "cluster/topic_limits.hpp"
#include "cluster/topic_schema.hpp"
#include "cluster/zk_records.hpp"
#include "replication/damaged_replica.hpp"
#include "replication/storage_errors.hpp"
#include "schema/wire.hpp"
#include "security/principal_limits.hpp"
#include "storage/batch_header.hpp"

namespace herald::actors {

// Shared with node_cluster.cpp (ZooKeeper mode's describe).
static schema::FollowerState follower_state(raft::progress::state s) {
  switch (s) {
    case raft::progress::state::replicate: return schema::FollowerState::REPLICATE;
    case raft::progress::state::snapshot: return schema::FollowerState::SNAPSHOT;
    case raft::progress::state::probe: break;
  }
  return schema::FollowerState::PROBE;
}

void fill_followers(const std::vector<replication::follower_status>& followers, schema::PartitionInfo::Builder out) {
  if (followers.empty()) return;
  auto list = out.initFollowers(static_cast<unsigned>(followers.size()));
  for (unsigned i = 0; i < followers.size(); ++i) {
    const auto& f = followers[i];
    list[i].setNodeId(static_cast<std::int32_t>(f.node));
    list[i].setMatchOffset(f.match_offset);
    list[i].setLag(f.lag);
    list[i].setMatchIndex(f.match_index);
    list[i].setBehindMs(f.behind_ms);
    list[i].setLearner(f.learner);
    list[i].setState(follower_state(f.state));
    list[i].setConnected(f.connected);
  }
}

namespace {

using schema::ErrorCode;

constexpr auto stats_timeout = std::chrono::seconds{5};

bytes ok_response() {
  return wire::error_response(ErrorCode::NONE, {});
}

void fill_topic(const cluster::topic_descriptor& d, schema::TopicInfo::Builder out) {
  out.setName(d.name);
  out.setPartitionCount(d.partition_count);
  out.setReplicationFactor(d.replication_factor);
  cluster::write_topic_config(d.config, out.initConfig());
  if (!d.owner.empty())
    out.setOwner(d.owner);
}

bytes metadata_response(node_ptr self, schema::MetadataRequest::Reader req) {
  auto& st = self->state;
  std::vector<const cluster::topic_descriptor*> topics;
  if (req.getTopics().size() == 0) {
    for (const auto& [name, d] : st.args.metadata->topics())
      topics.push_back(&d);
  } else {
    for (auto name : req.getTopics()) {
      const auto* d = st.args.metadata->find(name.cStr());
      if (d == nullptr)
        return wire::error_response(ErrorCode::UNKNOWN_TOPIC, std::string{"topic "} + name.cStr() + " does not exist");
      topics.push_back(d);
    }
  }
  capnp::MallocMessageBuilder builder;
  auto response = builder.initRoot<schema::Response>();
  response.initError().setCode(ErrorCode::NONE);
  auto m = response.initMetadata();
  if (st.args.peers.empty()) {
    auto broker = m.initBrokers(1)[0];
    broker.setNodeId(st.args.node_id);
    broker.setHost(st.host);
    broker.setPort(st.port);
  } else {
    auto brokers = m.initBrokers(static_cast<unsigned>(st.args.peers.size()));
    for (unsigned i = 0; i < st.args.peers.size(); ++i) {
      brokers[i].setNodeId(static_cast<std::int32_t>(st.args.peers[i].id));
      brokers[i].setHost(st.args.peers[i].client_host);  // clients connect there, never to the cluster listener
      brokers[i].setPort(st.args.peers[i].client_port);
    }
  }
  auto list = m.initTopics(static_cast<unsigned>(topics.size()));
  for (unsigned i = 0; i < topics.size(); ++i)
    fill_topic(*topics[i], list[i]);
  return wire::to_bytes(builder);
}

// from_peer: a peer created it already (and checked its owner's limits);
// the owner comes with the request. Otherwise `principal` creates and owns it.
bytes create_topic(node_ptr self, schema::CreateTopicRequest::Reader req, bool from_peer,
                   const std::string& principal) {
  auto& st = self->state;
  std::string name = req.getName();
  if (auto why = cluster::check_topic_name(name); !why.empty())
    return wire::error_response(ErrorCode::INVALID_TOPIC, why);
  if (st.args.metadata->find(name) != nullptr)
    return wire::error_response(ErrorCode::TOPIC_ALREADY_EXISTS, "topic " + name + " already exists");
  auto partitions = req.getPartitions();
  std::uint64_t hosted = 0;
  for (const auto& [n, t] : st.args.metadata->topics())
    hosted += t.partition_count;
  if (auto why = cluster::check_partition_count(partitions, hosted, st.args.max_partitions); !why.empty())
    return wire::error_response(ErrorCode::INVALID_TOPIC, why);
  // With a static peer list every node holds every partition; placement on
  // a subset comes with the cluster (ZooKeeper) issue.
  const auto nodes = static_cast<std::uint16_t>(st.replica_ids().size());
  auto rf = req.getReplicationFactor() == 0 ? nodes : req.getReplicationFactor();
  if (rf != nodes)
    return wire::error_response(ErrorCode::INVALID_TOPIC, "replication factor " + std::to_string(rf) + " but " +
                                                            std::to_string(nodes) +
                                                            " node(s) in the static cluster: each holds every partition");
  cluster::topic_descriptor d;
  d.name = name;
  d.partition_count = partitions;
  d.replication_factor = rf;
  d.config = cluster::read_topic_config(req.getConfig(), st.args.topic_defaults);
  if (auto why = cluster::check_topic_config(d.config); !why.empty())
    return wire::error_response(ErrorCode::INVALID_TOPIC, why);
  d.owner = from_peer ? std::string{req.getOwner().cStr()} : principal;
  if (!d.owner.empty())
    if (auto why = cluster::zk::check_owner(d.owner); !why.empty())
      return wire::error_response(ErrorCode::INVALID_REQUEST, "this principal cannot own a topic: " + why);
  if (!from_peer) {
    std::vector<const cluster::topic_descriptor*> topics;
    for (const auto& [n, t] : st.args.metadata->topics())
      topics.push_back(&t);
    if (auto why = limit_refusal_for_create(self, principal, d, topics); !why.empty())
      return wire::error_response(ErrorCode::QUOTA_EXCEEDED, why);
  }
  // A create writes metadata and directories: refused inside the reserve,
  // which is kept for deletes and for the logs already written to.
  if (st.disk && st.disk->full())
    return wire::error_response(ErrorCode::DISK_FULL, st.disk->refusal("topic creates and produces"));
  auto created = st.args.metadata->create(d);
  if (!created)
    return wire::error_response(replication::to_error_code(created.error().code), "cannot persist metadata: " + created.error().message);
  std::error_code ec;
  for (std::uint32_t p = 0; p < partitions; ++p)
    std::filesystem::create_directories(partition_dir(st.args.data_dir, name, created->id, p), ec);
  start_topic(self, *created, replication::replica_origin::founder);
  publish_routes(self);
  spdlog::info("created topic {} with {} partition(s), owner {}", name, partitions,
               created->owner.empty() ? "none" : created->owner);
  return ok_response();
}

// Works on a full disk: see node_deletes.cpp.
bytes delete_topic(node_ptr self, schema::DeleteTopicRequest::Reader req) {
  std::string name = req.getName();
  if (self->state.args.metadata->find(name) == nullptr)
    return wire::error_response(ErrorCode::UNKNOWN_TOPIC, "topic " + name + " does not exist");
  if (auto why = delete_local_topic(self, name); !why.empty())
    return wire::error_response(ErrorCode::STORAGE_ERROR, why);
  return ok_response();
}

// An offline replica comes back now (and its back-off starts over).
bytes restart_partition(node_ptr self, schema::RestartPartitionRequest::Reader req) {
  auto& st = self->state;
  std::string name = req.getTopic();
  const auto partition = req.getPartition();
  const auto* d = st.args.metadata->find(name);
  auto slot = st.partitions.find(name);
  if (d == nullptr || slot == st.partitions.end())
    return wire::error_response(ErrorCode::UNKNOWN_TOPIC, "topic " + name + " does not exist");
  if (partition >= slot->second.size())
    return wire::error_response(ErrorCode::UNKNOWN_PARTITION,
                                "topic " + name + " has no partition " + std::to_string(partition));
  if (slot->second[partition])
    return wire::error_response(ErrorCode::NONE, name + "/" + std::to_string(partition) + " is already running");
  if (st.zk_mode() && st.hosted[name].count(partition) == 0)
    return wire::error_response(ErrorCode::UNKNOWN_PARTITION, name + "/" + std::to_string(partition) +
                                                                 " has no replica on broker " +
                                                                 std::to_string(st.args.node_id));
  const restart_policy::key key{name, partition};
  st.restarts.reset_backoff(key);
  spdlog::info("{}/{}: restarting the offline partition (admin request)", name, partition);
  slot->second[partition] = start_partition(self, *d, partition);
  publish_routes(self);
  return wire::error_response(ErrorCode::NONE, name + "/" + std::to_string(partition) + " restarted");
}

// Asks every partition actor for its offsets, then answers.
void describe_topic(node_ptr self, schema::DescribeTopicRequest::Reader req, bytes_promise rp) {
  auto& st = self->state;
  std::string name = req.getName();
  const auto* d = st.args.metadata->find(name);
  if (d == nullptr) {
    rp.deliver(wire::error_response(ErrorCode::UNKNOWN_TOPIC, "topic " + name + " does not exist"));
    return;
  }
  struct partition_stats {
    std::int64_t log_start = -1;
    std::int64_t high_watermark = -1;
    std::string error;
    std::vector<replication::follower_status> followers;
  };
  struct gather {
    cluster::topic_descriptor topic;
    std::vector<partition_stats> stats;
    std::size_t outstanding;
    std::vector<std::int32_t> leaders;
    std::vector<std::uint64_t> replicas;
    bytes_promise rp;
  };
  std::vector<std::int32_t> leaders(d->partition_count, -1);
  auto g = std::make_shared<gather>(gather{*d, std::vector<partition_stats>(d->partition_count),
                                           d->partition_count, std::move(leaders), st.replica_ids(), rp});
  auto finish = [g] {
    if (--g->outstanding > 0)
      return;
    capnp::MallocMessageBuilder builder;
    auto response = builder.initRoot<schema::Response>();
    response.initError().setCode(ErrorCode::NONE);
    auto info = response.initDescribeTopic();
    fill_topic(g->topic, info);
    auto parts = info.initPartitions(static_cast<unsigned>(g->stats.size()));
    for (unsigned p = 0; p < g->stats.size(); ++p) {
      const auto& s = g->stats[p];
      auto out = parts[p];
      out.setId(p);
      out.setLeader(s.error.empty() ? g->leaders[p] : -1);
      auto replicas = out.initReplicas(static_cast<unsigned>(g->replicas.size()));
      for (unsigned r = 0; r < g->replicas.size(); ++r) replicas.set(r, static_cast<std::int32_t>(g->replicas[r]));
      out.setLogStartOffset(s.log_start);
      out.setHighWatermark(s.high_watermark);
      fill_followers(s.followers, out);
      const bool damaged = s.error.find(replication::damaged_prefix) != std::string::npos;
      wire::set_error(out.initError(),
                      s.error.empty() ? ErrorCode::NONE
                      : damaged       ? ErrorCode::PARTITION_DAMAGED
                                      : ErrorCode::PARTITION_UNAVAILABLE,
                      s.error);
    }
    g->rp.deliver(wire::to_bytes(builder));
  };
  const auto& actors = st.partitions[name];
  for (std::uint32_t p = 0; p < d->partition_count; ++p) {
    if (p >= actors.size() || !actors[p]) {
      g->stats[p].error = "offline";
      finish();
      continue;
    }
    self->request(actors[p], stats_timeout, stats_atom::value)
      .then(
        [g, p, finish](std::uint64_t log_start, std::uint64_t hw, std::uint64_t leader, replica_followers& f) {
          g->stats[p].log_start = static_cast<std::int64_t>(log_start);
          g->stats[p].followers = std::move(f.list);
          if (leader != 0) g->leaders[p] = static_cast<std::int32_t>(leader);
          g->stats[p].high_watermark = static_cast<std::int64_t>(hw);
          finish();
        },
        [self, g, p, finish](caf::error& err) {
          g->stats[p].error = self->system().render(err);
          finish();
        });
  }
}

} // namespace

std::string limit_refusal_for_create(node_ptr self, const std::string& principal,
                                     const cluster::topic_descriptor& topic,
                                     const std::vector<const cluster::topic_descriptor*>& topics) {
  const auto& limits = self->state.args.principal_limits;
  if (!limits || !limits->enabled())
    return {};
  return limits->check_create(principal, topic, security::usage_of(principal, topics));
}

std::string limit_refusal_for_grow(node_ptr self, const std::string& principal,
                                   const cluster::topic_descriptor& topic, std::uint32_t partitions,
                                   const std::vector<const cluster::topic_descriptor*>& topics) {
  const auto& limits = self->state.args.principal_limits;
  if (!limits || !limits->enabled())
    return {};
  return limits->check_grow(principal, topic, partitions, security::usage_of(topic.owner, topics, topic.name));
}

std::string delete_local_topic(node_ptr self, const std::string& name) {
  auto& st = self->state;
  const auto* d = st.args.metadata->find(name);
  if (d == nullptr)
    return {};
  auto dir = partition_dir(st.args.data_dir, name, d->id, 0).parent_path();
  auto marker = dir;
  marker += ".deleting";
  std::error_code ec;
  std::filesystem::rename(dir, marker, ec);
  if (ec && ec != std::errc::no_such_file_or_directory)
    return "cannot mark " + dir.string() + " for deletion: " + ec.message();
  if (ec)  // never had a directory: the marker alone records the intent
    std::filesystem::create_directories(marker, ec);
  if (ec)
    return "cannot mark " + dir.string() + " for deletion: " + ec.message();
  // The replicas keep their open files (Linux frees them on close); their
  // downs are deliberate, not crashes.
  stop_topic(self, name);
  st.hosted.erase(name);
  publish_routes(self);
  sweep_deletes(self);
  spdlog::info("deleted topic {}", name);
  return {};
}

// A create or delete applied here is applied on every peer too (when it came
// from a client), so that every node hosts the replicas.
bytes create_request_for(const cluster::topic_descriptor& topic) {
  capnp::MallocMessageBuilder builder;
  auto c = builder.initRoot<schema::Request>().initCreateTopic();
  c.setName(topic.name);
  c.setPartitions(topic.partition_count);
  c.setReplicationFactor(topic.replication_factor);
  cluster::write_topic_config(topic.config, c.initConfig());
  if (!topic.owner.empty())
    c.setOwner(topic.owner);
  return wire::to_bytes(builder);
}

static void reply_and_forward(node_ptr self, const bytes& request, bytes response, bytes_promise& rp, bool from_peer) {
  if (!from_peer) {
    wire::message_reader reader(response);
    if (reader.root<schema::Response>().getError().getCode() == ErrorCode::NONE) broadcast_admin(self, request);
  }
  rp.deliver(std::move(response));
}

void handle_admin_request(node_ptr self, const bytes& request, bytes_promise rp, bool from_peer,
                          const std::string& principal) {
  try {
    if (self->state.zk_mode() && handle_cluster_request(self, request, rp, principal))
      return;
    wire::message_reader reader(request);
    auto req = reader.root<schema::Request>();
    if (handle_security_request(self, request, req, rp, from_peer))
      return;
    switch (req.which()) {
      case schema::Request::METADATA: rp.deliver(metadata_response(self, req.getMetadata())); return;
      case schema::Request::CREATE_TOPIC: {
        // Peers get the topic as created here: its owner and resolved config.
        auto response = create_topic(self, req.getCreateTopic(), from_peer, principal);
        const auto* created = self->state.args.metadata->find(req.getCreateTopic().getName().cStr());
        reply_and_forward(self, created != nullptr ? create_request_for(*created) : request, std::move(response), rp,
                          from_peer);
        return;
      }
      case schema::Request::DELETE_TOPIC:
        reply_and_forward(self, request, delete_topic(self, req.getDeleteTopic()), rp, from_peer);
        return;
      case schema::Request::DESCRIBE_TOPIC: describe_topic(self, req.getDescribeTopic(), rp); return;
      case schema::Request::RESTART_PARTITION: rp.deliver(restart_partition(self, req.getRestartPartition())); return;
      case schema::Request::ALTER_TOPIC:
      case schema::Request::REASSIGN_PARTITION:
        rp.deliver(wire::error_response(ErrorCode::INVALID_REQUEST,
                                        "adding partitions and moving replicas need a cluster on ZooKeeper "
                                        "(heraldd --zookeeper)"));
        return;
      default: rp.deliver(wire::error_response(ErrorCode::INVALID_REQUEST, "unsupported request")); return;
    }
  } catch (const kj::Exception& e) {
    if (rp.pending())
      rp.deliver(wire::error_response(ErrorCode::INVALID_REQUEST,
                                      std::string{"malformed request: "} + e.getDescription().cStr()));
  }
}

} // namespace herald::actors
