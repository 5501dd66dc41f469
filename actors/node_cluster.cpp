// The node actor in ZooKeeper mode: it follows the cluster view the ZooKeeper
// actor sends (actors/zk_actor.hpp) and reconciles its replicas against it
// (the decisions: cluster/reconcile.hpp), keeps its peers to the live
// brokers, and turns metadata, createTopic and deleteTopic into ZooKeeper
// reads and writes. The data path never waits on any of this.

#include <filesystem>
#include <fstream>
#include <sstream>

#include <kj/exception.h>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/controller_actor.hpp"
#include "actors/node_state.hpp"
#include "actors/replica_stats.hpp"
#include "cluster/placement.hpp"
#include "cluster/reconcile.hpp"
#include "cluster/topic_limits.hpp"
#include "cluster/topic_schema.hpp"
#include "cluster/zk_records.hpp"
#include "schema/wire.hpp"
#include "storage/atomic_file.hpp"

namespace herald::actors {

namespace {

using schema::ErrorCode;

constexpr auto zk_request_timeout = std::chrono::seconds{15};
// An admin answer waits at most this long for the view to show its effect.
constexpr auto view_wait_limit = std::chrono::seconds{10};
constexpr auto stats_timeout = std::chrono::seconds{2};

// The founding voters of a replica, cached next to its directory when it is
// started: <topic dir>/<partition>.replicas, "1,2,3\n". A broker restarting
// its replicas before ZooKeeper answers reads them here (the voters proper
// come from the replica's log; these only tell a group of one from others).
std::filesystem::path replicas_file(const std::filesystem::path& data_dir, const cluster::topic_descriptor& d,
                                    std::uint32_t partition) {
  auto dir = partition_dir(data_dir, d.name, d.id, partition);
  return dir.parent_path() / (std::to_string(partition) + ".replicas");
}

std::vector<std::uint64_t> read_replicas_file(const std::filesystem::path& p) {
  std::vector<std::uint64_t> out;
  std::ifstream in(p);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      if (auto v = std::stoull(item); v > 0)
        out.push_back(v);
    } catch (const std::exception&) {
      return {};
    }
  }
  return out;
}

bool has_local_data(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::is_directory(dir, ec) && !std::filesystem::is_empty(dir, ec);
}

const cluster::partition_assignment* assignment(const node_state& st, const std::string& topic,
                                                std::uint32_t partition) {
  if (!st.view)
    return nullptr;
  auto t = st.view->topics.find(topic);
  if (t == st.view->topics.end() || t->second.descriptor.id == 0 || partition >= t->second.partitions.size())
    return nullptr;
  const auto* local = st.args.metadata->find(topic);
  if (local != nullptr && local->id != t->second.descriptor.id)
    return nullptr;
  return &t->second.partitions[partition];
}

replication::replica_origin origin_of(cluster::start_origin o) {
  switch (o) {
    case cluster::start_origin::founder: return replication::replica_origin::founder;
    case cluster::start_origin::joiner: return replication::replica_origin::joiner;
    case cluster::start_origin::must_exist: return replication::replica_origin::must_exist;
  }
  return replication::replica_origin::must_exist;
}

// Tells a local replica the replica set its partition should have; its
// leader moves the group there and reports settled (partition_actor.hpp).
void send_target(node_ptr self, const std::string& topic, std::uint32_t partition) {
  auto& st = self->state;
  const auto* a = assignment(st, topic, partition);
  auto slot = st.partitions.find(topic);
  if (a == nullptr || slot == st.partitions.end() || partition >= slot->second.size() || !slot->second[partition])
    return;
  std::vector<std::uint64_t> voters;
  for (auto id : a->replicas)
    voters.push_back(static_cast<std::uint64_t>(id));
  self->send(slot->second[partition], target_atom::value, std::move(voters), a->epoch);
}

void start_replica(node_ptr self, const cluster::replica_start& s) {
  auto& st = self->state;
  const auto* d = st.args.metadata->find(s.topic);
  if (d == nullptr)
    return;
  std::error_code ec;
  const auto dir = partition_dir(st.args.data_dir, d->name, d->id, s.partition);
  std::filesystem::create_directories(dir, ec);
  std::string text;
  for (std::size_t i = 0; i < s.replicas.size(); ++i)
    text += (i > 0 ? "," : "") + std::to_string(s.replicas[i]);
  text += "\n";
  if (auto w = storage::write_file_atomically(replicas_file(st.args.data_dir, *d, s.partition),
                                              {text.data(), text.size()});
      !w)
    spdlog::warn("{}/{}: cannot cache its replicas: {}", s.topic, s.partition, w.message);
  spdlog::info("{}/{}: starting replica as {} (replicas {})", s.topic, s.partition, cluster::to_string(s.origin),
               text.substr(0, text.size() - 1));
  auto& slot = st.partitions[s.topic];
  if (slot.size() < d->partition_count)
    slot.resize(d->partition_count);
  slot[s.partition] = start_partition(self, *d, s.partition, origin_of(s.origin));
  st.hosted[s.topic].insert(s.partition);
  send_target(self, s.topic, s.partition);
}

void remove_replica(node_ptr self, const cluster::replica_ref& r) {
  auto& st = self->state;
  const auto* d = st.args.metadata->find(r.topic);
  if (d == nullptr)
    return;
  st.restarts.forget({r.topic, r.partition});
  const auto dir = partition_dir(st.args.data_dir, d->name, d->id, r.partition);
  caf::actor stopping;
  if (auto slot = st.partitions.find(r.topic); slot != st.partitions.end() && r.partition < slot->second.size()) {
    if (auto& a = slot->second[r.partition]) {
      st.partition_of.erase(a.address());
      st.ticking.erase(a.address());
      self->send_exit(a, caf::exit_reason::user_shutdown);
      stopping = std::exchange(a, caf::actor{});
    }
  }
  st.hosted[r.topic].erase(r.partition);
  std::error_code ec;
  std::filesystem::remove(replicas_file(st.args.data_dir, *d, r.partition), ec);
  spdlog::info("{}/{}: replica moved off this broker and settled; its data is removed", r.topic, r.partition);
  // A running replica writes its last files as it stops: its data goes once
  // it is down (node_actor.cpp's down handler), or a file would come back.
  if (stopping)
    st.removing[stopping.address()] = dir;
  else
    std::filesystem::remove_all(dir, ec);
}

std::map<std::string, cluster::local_topic> local_state(node_ptr self) {
  auto& st = self->state;
  std::map<std::string, cluster::local_topic> out;
  for (const auto& [name, d] : st.args.metadata->topics()) {
    auto& lt = out[name];
    lt.descriptor = d;
    const auto& hosted = st.hosted[name];
    for (std::uint32_t p = 0; p < d.partition_count; ++p) {
      const bool running = hosted.count(p) != 0;
      const bool data = !running && has_local_data(partition_dir(st.args.data_dir, name, d.id, p));
      if (running || data)
        lt.partitions[p] = cluster::local_partition{running, running || data};
    }
  }
  return out;
}

// Peers are the live brokers: connect to new ones (and to moved ones at
// their new address), forget those that left.
void update_peers(node_ptr self) {
  auto& st = self->state;
  std::map<std::uint64_t, peer_address> next;
  for (const auto& [id, b] : st.view->live_brokers)
    if (id != st.args.node_id)
      if (b.cluster_port != 0)  // a broker without a cluster address cannot be reached by node actors
        next[static_cast<std::uint64_t>(id)] =
          peer_address{static_cast<std::uint64_t>(id), b.cluster_host, b.cluster_port, b.host, b.port};
  for (const auto& [id, old] : st.peer_addresses) {
    auto now = next.find(id);
    if (now == next.end() || now->second.host != old.host || now->second.port != old.port) {
      if (auto c = st.peers.find(id); c != st.peers.end()) {
        self->demonitor(c->second);
        st.peers.erase(c);
        st.raft_batches.erase(id);
        tell_replicas_link(self, id, false);
      }
    }
  }
  st.peer_addresses = std::move(next);
  connect_peers(self);
}

bytes cluster_unavailable(const std::string& why) {
  return wire::error_response(ErrorCode::CLUSTER_UNAVAILABLE, why);
}

void wait_for_view(node_ptr self, std::function<bool(const cluster::cluster_view&)> done, bytes response,
                   bytes_promise rp) {
  auto& st = self->state;
  if (st.view && done(*st.view)) {
    rp.deliver(std::move(response));
    return;
  }
  st.view_waits.push_back({std::move(done), std::move(response), rp, std::chrono::steady_clock::now() + view_wait_limit});
  self->delayed_send(self, view_wait_limit, cluster_wait_atom::value);
}

bytes outcome_response(std::int32_t code, const std::string& message) {
  switch (code) {
    case zk_ok: return wire::error_response(ErrorCode::NONE, {});
    case zk_exists: return wire::error_response(ErrorCode::TOPIC_ALREADY_EXISTS, message);
    case zk_no_node: return wire::error_response(ErrorCode::UNKNOWN_TOPIC, message);
    case zk_unavailable: return cluster_unavailable(message);
    case zk_refused: return wire::error_response(ErrorCode::INVALID_REQUEST, message);
    default: return wire::error_response(ErrorCode::INTERNAL, message);
  }
}

// Every topic the view shows, and the creates this broker wrote that it does
// not show yet: what the per-principal limits count.
std::vector<const cluster::topic_descriptor*> known_topics(node_ptr self) {
  auto& st = self->state;
  std::vector<const cluster::topic_descriptor*> topics;
  for (const auto& [name, rec] : st.view->topics)
    topics.push_back(&rec.descriptor);
  for (const auto& [name, d] : st.pending_creates)
    if (st.view->topics.count(name) == 0)
      topics.push_back(&d);
  return topics;
}

void create_topic(node_ptr self, schema::CreateTopicRequest::Reader req, bytes_promise rp,
                  const std::string& principal) {
  auto& st = self->state;
  std::string name = req.getName();
  if (auto why = cluster::check_topic_name(name); !why.empty())
    return rp.deliver(wire::error_response(ErrorCode::INVALID_TOPIC, why)), void();
  if (!st.zk_available || !st.view || !st.zk)
    return rp.deliver(cluster_unavailable("ZooKeeper unreachable: metadata changes wait (topic " + name +
                                          " not created)")),
           void();
  if (st.view->topics.count(name) != 0)
    return rp.deliver(wire::error_response(ErrorCode::TOPIC_ALREADY_EXISTS, "topic " + name + " already exists")),
           void();
  const auto partitions = req.getPartitions();
  if (auto why = cluster::check_partition_count(partitions, 0, cluster::max_partitions_per_topic); !why.empty())
    return rp.deliver(wire::error_response(ErrorCode::INVALID_TOPIC, why)), void();
  const auto live = st.view->live_brokers.size();
  const std::uint32_t rf = req.getReplicationFactor() == 0 ? static_cast<std::uint32_t>(std::min<std::size_t>(3, live))
                                                           : req.getReplicationFactor();
  if (rf == 0 || rf > live) {
    std::string ids;
    for (const auto& [id, b] : st.view->live_brokers)
      ids += (ids.empty() ? "" : ", ") + std::to_string(id);
    return rp.deliver(wire::error_response(ErrorCode::INVALID_TOPIC,
                                           "replication factor " + std::to_string(rf) + " needs " +
                                             std::to_string(rf) + " live brokers, and " + std::to_string(live) +
                                             " are live (" + ids + ")")),
           void();
  }
  cluster::topic_record rec;
  auto& d = rec.descriptor;
  d.name = name;
  d.id = cluster::zk::new_topic_id();
  d.partition_count = partitions;
  d.replication_factor = static_cast<std::uint16_t>(rf);
  d.config = cluster::read_topic_config(req.getConfig(), st.args.topic_defaults);
  if (auto why = cluster::check_topic_config(d.config); !why.empty())
    return rp.deliver(wire::error_response(ErrorCode::INVALID_TOPIC, why)), void();
  d.owner = principal;
  if (auto why = cluster::zk::check_owner(d.owner); !why.empty())
    return rp.deliver(wire::error_response(ErrorCode::INVALID_REQUEST, "this principal cannot own a topic: " + why)),
           void();
  if (auto why = limit_refusal_for_create(self, principal, d, known_topics(self)); !why.empty())
    return rp.deliver(wire::error_response(ErrorCode::QUOTA_EXCEEDED, why)), void();
  if (st.disk && st.disk->full())
    return rp.deliver(wire::error_response(ErrorCode::DISK_FULL, st.disk->refusal("topic creates and produces"))),
           void();
  std::vector<cluster::placement::broker> brokers;
  for (const auto& [id, b] : st.view->live_brokers)
    brokers.push_back({id, b.rack, static_cast<double>(b.weight)});
  auto placed = cluster::placement::place(brokers, {d.id, d.name}, partitions, rf);
  if (!placed.ok())
    return rp.deliver(wire::error_response(ErrorCode::INVALID_TOPIC, placed.error)), void();
  for (auto& replicas : placed.replicas)
    rec.partitions.push_back({std::move(replicas), 0, true});
  const auto id = d.id;
  st.pending_creates[name] = d;
  auto ptr = std::make_shared<const cluster::topic_record>(std::move(rec));
  auto forget_pending = [self, name, id] {
    auto& pending = self->state.pending_creates;
    if (auto i = pending.find(name); i != pending.end() && i->second.id == id)
      pending.erase(i);
  };
  self->request(st.zk, zk_request_timeout, zk_create_atom::value, ptr)
    .then(
      [=](std::int32_t code, const std::string& message) mutable {
        if (code != zk_ok) {
          forget_pending();
          return rp.deliver(outcome_response(code, message)), void();
        }
        spdlog::info("created topic {} ({} partitions, replication factor {}) in ZooKeeper", name, partitions, rf);
        wait_for_view(
          self,
          [=](const cluster::cluster_view& v) {
            auto t = v.topics.find(name);
            return t != v.topics.end() && t->second.descriptor.id == id;
          },
          wire::error_response(ErrorCode::NONE, {}), rp);
      },
      [=](caf::error& e) mutable {
        forget_pending();  // it may exist: then the view shows it
        rp.deliver(cluster_unavailable("ZooKeeper did not answer (" + self->system().render(e) +
                                       "); the topic may or may not exist now: check with metadata"));
      });
}

void delete_topic(node_ptr self, schema::DeleteTopicRequest::Reader req, bytes_promise rp) {
  auto& st = self->state;
  std::string name = req.getName();
  if (!st.zk_available || !st.view || !st.zk)
    return rp.deliver(cluster_unavailable("ZooKeeper unreachable: metadata changes wait (topic " + name +
                                          " not deleted)")),
           void();
  auto t = st.view->topics.find(name);
  if (t == st.view->topics.end())
    return rp.deliver(wire::error_response(ErrorCode::UNKNOWN_TOPIC, "topic " + name + " does not exist")), void();
  const auto id = t->second.descriptor.id;
  self->request(st.zk, zk_request_timeout, zk_delete_atom::value, name, id)
    .then(
      [=](std::int32_t code, const std::string& message) mutable {
        if (code != zk_ok)
          return rp.deliver(outcome_response(code, message)), void();
        spdlog::info("deleted topic {} in ZooKeeper", name);
        wait_for_view(
          self,
          [=](const cluster::cluster_view& v) {
            auto t = v.topics.find(name);
            return t == v.topics.end() || t->second.descriptor.id != id;
          },
          wire::error_response(ErrorCode::NONE, {}), rp);
      },
      [=](caf::error& e) mutable {
        rp.deliver(cluster_unavailable("ZooKeeper did not answer (" + self->system().render(e) +
                                       "); the topic may or may not be deleted now: check with metadata"));
      });
}

void fill_topic_info(const cluster::topic_descriptor& d, schema::TopicInfo::Builder out) {
  out.setName(d.name);
  out.setPartitionCount(d.partition_count);
  out.setReplicationFactor(d.replication_factor);
  cluster::write_topic_config(d.config, out.initConfig());
  if (!d.owner.empty())
    out.setOwner(d.owner);
}

struct partition_stats {
  std::int64_t log_start = -1;
  std::int64_t high_watermark = -1;
  std::int32_t leader = -1;
  std::string error;
  std::vector<replication::follower_status> followers;  // the leader's only
};

// Asks every local replica of `topics` for its stats, then calls `done`
// with them ([topic][partition]; partitions without a local replica say so).
void gather_stats(node_ptr self, const std::vector<std::string>& topics,
                  std::function<void(std::map<std::string, std::vector<partition_stats>>&)> done) {
  auto& st = self->state;
  struct gather {
    std::map<std::string, std::vector<partition_stats>> stats;
    std::size_t outstanding = 1;
    std::function<void(std::map<std::string, std::vector<partition_stats>>&)> done;
  };
  auto g = std::make_shared<gather>();
  g->done = std::move(done);
  auto finish = [g] {
    if (--g->outstanding == 0)
      g->done(g->stats);
  };
  for (const auto& name : topics) {
    const auto& rec = st.view->topics.at(name);
    auto& out = g->stats[name];
    out.resize(rec.partitions.size());
    auto actors = st.partitions.find(name);
    for (std::uint32_t p = 0; p < rec.partitions.size(); ++p) {
      caf::actor a;
      if (actors != st.partitions.end() && p < actors->second.size())
        a = actors->second[p];
      if (!a) {
        out[p].error = st.hosted[name].count(p) != 0 ? "offline"
                                                     : "no replica on broker " + std::to_string(st.args.node_id);
        continue;
      }
      ++g->outstanding;
      self->request(a, stats_timeout, stats_atom::value)
        .then(
          [g, name, p, finish](std::uint64_t log_start, std::uint64_t hw, std::uint64_t leader,
                               replica_followers& f) {
            auto& s = g->stats[name][p];
            s.followers = std::move(f.list);
            s.log_start = static_cast<std::int64_t>(log_start);
            s.high_watermark = static_cast<std::int64_t>(hw);
            s.leader = leader == 0 ? -1 : static_cast<std::int32_t>(leader);
            finish();
          },
          [self, g, name, p, finish](caf::error& err) {
            g->stats[name][p].error = self->system().render(err);
            finish();
          });
    }
  }
  finish();
}

void fill_partitions(const cluster::topic_record& rec, const std::vector<partition_stats>& stats,
                     capnp::List<schema::PartitionInfo>::Builder out) {
  for (unsigned p = 0; p < rec.partitions.size(); ++p) {
    const auto& a = rec.partitions[p];
    const auto& s = stats[p];
    auto info = out[p];
    info.setId(p);
    info.setLeader(s.leader);
    auto replicas = info.initReplicas(static_cast<unsigned>(a.replicas.size()));
    for (unsigned r = 0; r < a.replicas.size(); ++r)
      replicas.set(r, a.replicas[r]);
    info.setLogStartOffset(s.log_start);
    info.setHighWatermark(s.high_watermark);
    info.setEpoch(a.epoch);
    fill_followers(s.followers, info);
    wire::set_error(info.initError(), s.error.empty() ? ErrorCode::NONE : ErrorCode::PARTITION_UNAVAILABLE, s.error);
  }
}

void metadata(node_ptr self, schema::MetadataRequest::Reader req, bytes_promise rp) {
  auto& st = self->state;
  if (!st.view)
    return rp.deliver(cluster_unavailable("broker " + std::to_string(st.args.node_id) +
                                          " has not reached ZooKeeper yet: no cluster metadata")),
           void();
  std::vector<std::string> names;
  if (req.getTopics().size() == 0) {
    for (const auto& [name, rec] : st.view->topics)
      names.push_back(name);
  } else {
    for (auto n : req.getTopics()) {
      std::string name = n.cStr();
      if (st.view->topics.count(name) == 0)
        return rp.deliver(wire::error_response(ErrorCode::UNKNOWN_TOPIC, "topic " + name + " does not exist")),
               void();
      names.push_back(name);
    }
  }
  auto view = st.view;
  gather_stats(self, names, [view, names, rp](std::map<std::string, std::vector<partition_stats>>& stats) mutable {
    capnp::MallocMessageBuilder builder;
    auto response = builder.initRoot<schema::Response>();
    response.initError().setCode(ErrorCode::NONE);
    auto m = response.initMetadata();
    auto brokers = m.initBrokers(static_cast<unsigned>(view->live_brokers.size()));
    unsigned i = 0;
    for (const auto& [id, b] : view->live_brokers) {
      auto out = brokers[i++];
      out.setNodeId(id);
      out.setHost(b.host);
      out.setPort(b.port);
      out.setRack(b.rack);
      out.setAlive(true);
    }
    m.setControllerId(view->controller);
    auto list = m.initTopics(static_cast<unsigned>(names.size()));
    for (unsigned t = 0; t < names.size(); ++t) {
      const auto& rec = view->topics.at(names[t]);
      fill_topic_info(rec.descriptor, list[t]);
      fill_partitions(rec, stats[names[t]], list[t].initPartitions(static_cast<unsigned>(rec.partitions.size())));
    }
    rp.deliver(wire::to_bytes(builder));
  });
}

void describe(node_ptr self, schema::DescribeTopicRequest::Reader req, bytes_promise rp) {
  auto& st = self->state;
  std::string name = req.getName();
  if (!st.view || st.view->topics.count(name) == 0)
    return rp.deliver(wire::error_response(ErrorCode::UNKNOWN_TOPIC, "topic " + name + " does not exist")), void();
  auto view = st.view;
  gather_stats(self, {name}, [view, name, rp](std::map<std::string, std::vector<partition_stats>>& stats) mutable {
    capnp::MallocMessageBuilder builder;
    auto response = builder.initRoot<schema::Response>();
    response.initError().setCode(ErrorCode::NONE);
    auto info = response.initDescribeTopic();
    const auto& rec = view->topics.at(name);
    fill_topic_info(rec.descriptor, info);
    fill_partitions(rec, stats[name], info.initPartitions(static_cast<unsigned>(rec.partitions.size())));
    rp.deliver(wire::to_bytes(builder));
  });
}

} // namespace

std::vector<std::uint64_t> cluster_replica_ids(node_ptr self, const std::string& topic, std::uint32_t partition) {
  auto& st = self->state;
  std::vector<std::uint64_t> ids;
  if (const auto* a = assignment(st, topic, partition)) {
    for (auto id : a->replicas)
      ids.push_back(static_cast<std::uint64_t>(id));
    return ids;
  }
  if (const auto* d = st.args.metadata->find(topic))
    ids = read_replicas_file(replicas_file(st.args.data_dir, *d, partition));
  if (ids.empty())  // nothing known: never a group of one by accident
    ids = {static_cast<std::uint64_t>(st.args.node_id), 0};
  return ids;
}

void start_cluster(node_ptr self) {
  auto& st = self->state;
  zk_args z;
  z.connect = st.args.zookeeper;
  z.session_timeout = st.args.zk_session_timeout;
  z.self.id = st.args.node_id;
  z.self.host = st.args.advertise_host.empty() ? st.host : st.args.advertise_host;
  z.self.port = st.args.advertise_port == 0 ? st.port : st.args.advertise_port;
  z.self.cluster_host = st.args.cluster_advertise_host.empty() ? st.cluster_host : st.args.cluster_advertise_host;
  z.self.cluster_port = st.args.cluster_advertise_port == 0 ? st.cluster_port : st.args.cluster_advertise_port;
  z.self.rack = st.args.rack;
  z.self.weight = st.args.weight;
  z.data_dir = st.args.data_dir;
  z.node = caf::actor_cast<caf::actor>(self);
  st.zk = spawn_zk_actor(self->system(), std::move(z));
  self->monitor(st.zk);
  if (st.controller) {
    self->send(st.controller, st.zk);  // a restarted ZooKeeper actor
  } else {
    controller_args c;
    c.self_id = st.args.node_id;
    c.replica_grace = st.args.replica_grace;
    st.controller = spawn_controller(self, st.zk, c);
  }
}

void start_local_replicas(node_ptr self) {
  auto& st = self->state;
  for (const auto& [name, d] : st.args.metadata->topics()) {
    auto& slot = st.partitions[name];
    slot.resize(d.partition_count);
    for (std::uint32_t p = 0; p < d.partition_count; ++p) {
      if (!has_local_data(partition_dir(st.args.data_dir, name, d.id, p)))
        continue;
      slot[p] = start_partition(self, d, p, replication::replica_origin::must_exist);
      st.hosted[name].insert(p);
    }
  }
}

void on_cluster_status(node_ptr self, bool available) {
  self->state.zk_available = available;
}

void on_cluster_view(node_ptr self, zk_view_ptr view) {
  auto& st = self->state;
  if (st.stopping || !view)
    return;
  st.view = std::move(view);
  // Creates the view shows no longer pend (failed ones went when ZooKeeper answered).
  for (auto i = st.pending_creates.begin(); i != st.pending_creates.end();) {
    auto t = st.view->topics.find(i->first);
    i = t != st.view->topics.end() && t->second.descriptor.id == i->second.id ? st.pending_creates.erase(i) : std::next(i);
  }
  if (st.controller)
    self->send(st.controller, zk_view_atom::value, st.view);
  auto plan = cluster::reconcile(st.args.node_id, *st.view, local_state(self));
  for (const auto& name : plan.delete_topics) {
    spdlog::info("topic {} (id {}) is not in ZooKeeper: deleting it here", name,
                 st.args.metadata->find(name) ? st.args.metadata->find(name)->id : 0);
    if (auto why = delete_local_topic(self, name); !why.empty())
      spdlog::error("cannot delete topic {} here: {}", name, why);
  }
  for (const auto& d : plan.adopt_topics) {
    if (auto put = st.args.metadata->put(d); !put) {
      spdlog::error("cannot record topic {} in the local metadata: {}", d.name, put.message);
      continue;
    }
    auto& slot = st.partitions[d.name];
    if (slot.size() < d.partition_count)
      slot.resize(d.partition_count);
  }
  for (const auto& r : plan.remove)
    remove_replica(self, r);
  for (const auto& s : plan.start)
    start_replica(self, s);
  // Partitions whose replica set is changing: every local replica hears the
  // target (the leader acts on it; the others keep it for when they lead).
  for (const auto& [name, rec] : st.view->topics)
    if (auto h = st.hosted.find(name); h != st.hosted.end())
      for (auto p : h->second)
        if (p < rec.partitions.size() && !rec.partitions[p].settled)
          send_target(self, name, p);
  update_peers(self);
  publish_routes(self);
  // Answers held for this view.
  auto waits = std::move(st.view_waits);
  st.view_waits.clear();
  for (auto& w : waits) {
    if (w.done(*st.view))
      w.rp.deliver(std::move(w.response));
    else
      st.view_waits.push_back(std::move(w));
  }
}

void on_replica_settled(node_ptr self, const std::string& topic, std::uint32_t partition, std::uint64_t epoch) {
  auto& st = self->state;
  if (!st.zk_mode() || !st.zk)
    return;
  if (const auto* a = assignment(st, topic, partition); a == nullptr || a->settled || a->epoch != epoch)
    return;  // nothing to record (or already recorded)
  self->send(st.zk, zk_settled_atom::value, topic, partition, epoch);
}

void expire_view_waits(node_ptr self) {
  auto& st = self->state;
  const auto now = std::chrono::steady_clock::now();
  auto waits = std::move(st.view_waits);
  st.view_waits.clear();
  for (auto& w : waits) {
    if (now >= w.deadline)
      w.rp.deliver(std::move(w.response));  // done in ZooKeeper; this broker just has not seen it yet
    else
      st.view_waits.push_back(std::move(w));
  }
}

bool handle_cluster_request(node_ptr self, const bytes& request, bytes_promise& rp, const std::string& principal) {
  wire::message_reader reader(request);
  auto req = reader.root<schema::Request>();
  switch (req.which()) {
    case schema::Request::METADATA: metadata(self, req.getMetadata(), rp); return true;
    case schema::Request::CREATE_TOPIC: create_topic(self, req.getCreateTopic(), rp, principal); return true;
    case schema::Request::DELETE_TOPIC: delete_topic(self, req.getDeleteTopic(), rp); return true;
    case schema::Request::DESCRIBE_TOPIC: describe(self, req.getDescribeTopic(), rp); return true;
    case schema::Request::ALTER_TOPIC: alter_topic(self, req.getAlterTopic(), rp, principal); return true;
    case schema::Request::REASSIGN_PARTITION: reassign_partition(self, req.getReassignPartition(), rp); return true;
    default: return false;
  }
}

} // namespace herald::actors
