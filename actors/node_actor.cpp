#include "actors/node_actor.hpp"

#include <cstdio>

#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/node_state.hpp"
#include "actors/partition_actor.hpp"
#include "actors/session_actor.hpp"

namespace herald::actors {

std::filesystem::path partition_dir(const std::filesystem::path& data_dir, const std::string& topic,
                                    std::uint64_t topic_id, std::uint32_t partition) {
  return data_dir / "topics" / (topic + "-" + std::to_string(topic_id)) / std::to_string(partition);
}

namespace {

restart_policy::key key_of(const std::string& topic, std::uint32_t partition) {
  return {topic, partition};
}

// A partition actor stopped. Only the current actor of a slot counts (the
// incarnation check): a down from a replaced actor, or from one whose topic
// was deleted (and perhaps re-created since), changes nothing. A crash is
// restarted at once, or after a back-off once it keeps crashing.
void on_partition_down(node_ptr self, const node_state::replica_slot& dead, const caf::error& reason) {
  auto& st = self->state;
  if (st.stopping)
    return;
  const auto key = key_of(dead.topic, dead.partition);
  auto decision = st.restarts.on_down(key, dead.incarnation, std::chrono::steady_clock::now());
  if (decision.what == restart_policy::action::ignore)
    return;
  const auto* descriptor = st.args.metadata->find(dead.topic);
  auto slot = st.partitions.find(dead.topic);
  if (descriptor == nullptr || slot == st.partitions.end() || dead.partition >= slot->second.size()) {
    st.restarts.forget(key);  // deleted meanwhile
    return;
  }
  if (decision.what == restart_policy::action::restart_now) {
    spdlog::warn("{}/{}: partition actor died ({}); restarting it", dead.topic, dead.partition,
                 self->system().render(reason));
    slot->second[dead.partition] = start_partition(self, *descriptor, dead.partition);
  } else {
    spdlog::error("{}/{}: partition actor failed {} times within {}s ({}); offline, retrying in {} ms "
                  "(or now: herald partition restart {} {})",
                  dead.topic, dead.partition, decision.recent_failures,
                  std::chrono::duration_cast<std::chrono::seconds>(st.args.restart_window).count(),
                  self->system().render(reason), decision.delay.count(), dead.topic, dead.partition);
    slot->second[dead.partition] = caf::actor{};
    self->delayed_send(self, decision.delay, restart_atom::value, dead.topic, dead.partition, dead.incarnation);
  }
  publish_routes(self);
}

// Samples free space; logs when the reserve is crossed either way.
void check_disk(node_ptr self) {
  auto& st = self->state;
  const bool was_full = st.disk->full();
  if (!st.disk->check())
    return;
  if (st.disk->full() != was_full) {
    if (st.disk->full())
      spdlog::error("disk full: {}", st.disk->refusal("produces and topic creates"));
    else
      spdlog::info("disk space back above the reserve ({} bytes free): accepting produces and creates again",
                   st.disk->free_bytes());
  }
}

caf::behavior node_actor(node_ptr self, node_args args) {
  self->state.args = std::move(args);
  {
    auto& st = self->state;
    restart_policy::config policy;
    policy.fast_restarts = st.args.max_restarts;
    policy.window = st.args.restart_window;
    policy.initial_backoff = st.args.restart_backoff;
    policy.max_backoff = st.args.max_restart_backoff;
    st.restarts = restart_policy{policy};
    st.disk = std::make_shared<cluster::disk_guard>(st.args.data_dir, st.args.disk_reserve_bytes);
    check_disk(self);
    self->delayed_send(self, st.args.disk_check, disk_check_atom::value);
  }
  sweep_deletes(self);  // deletes a previous run began and did not finish
  for (const auto& p : self->state.args.peers)
    self->state.peer_addresses[p.id] = p;
  if (self->state.zk_mode()) {
    start_local_replicas(self);  // the rest waits for the view (on_cluster_view)
  } else {
    for (const auto& [name, topic] : self->state.args.metadata->topics())
      start_topic(self, topic);
  }
  start_security(self);  // publishes the routes with the first authorizer
  connect_peers(self);
  start_raft_clock(self);

  // Peers and clients are other processes: a stray reply or error from one
  // must not take the node down.
  self->set_error_handler([=](caf::error& e) { spdlog::warn("node: ignored error message: {}", self->system().render(e)); });

  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (on_peer_down(self, dm.source))
      return;
    if (st.zk && dm.source == st.zk.address()) {
      st.zk = caf::actor{};
      if (!st.stopping) {
        spdlog::error("ZooKeeper actor died ({}); starting another", self->system().render(dm.reason));
        start_cluster(self);
      }
      return;
    }
    if (auto r = st.removing.find(dm.source); r != st.removing.end()) {
      std::error_code ec;
      std::filesystem::remove_all(r->second, ec);
      if (ec)
        spdlog::warn("cannot remove {} (a replica moved off this broker): {}", r->second.string(), ec.message());
      st.removing.erase(r);
      return;
    }
    if (auto p = st.partition_of.find(dm.source); p != st.partition_of.end()) {
      auto dead = std::move(p->second);
      st.partition_of.erase(p);
      st.ticking.erase(dm.source);
      on_partition_down(self, dead, dm.reason);
      return;
    }
    auto session = caf::actor_cast<caf::actor>(dm.source);
    st.sessions.erase(session);
  });

  return {
    // From the framed listener's connection actor, once its handshake is done.
    [=](hello_atom, const caf::actor& owner, std::string& principal, std::string& client_address) -> caf::actor {
      auto& st = self->state;
      auto session = spawn_session(self, owner, st.routes, session_limits{},
                                   session_identity{std::move(principal), std::move(client_address)});
      st.sessions.insert(session);
      return session;
    },
    [=](request_atom, const bytes& request) -> bytes_promise {
      auto rp = self->make_response_promise<bytes>();
      handle_admin_request(self, request, rp);
      return rp;
    },
    // From a session: the principal it acts for (a created topic's owner).
    [=](request_atom, const bytes& request, const std::string& principal) -> bytes_promise {
      auto rp = self->make_response_promise<bytes>();
      handle_admin_request(self, request, rp, false, principal);
      return rp;
    },
    [=](raft_out_atom, std::uint64_t to, const std::string& topic, std::uint32_t partition, bytes& data) {
      send_raft_to_peer(self, to, topic, partition, std::move(data));
    },
    [=](raft_atom, const std::string& topic, std::uint32_t partition, bytes& data) {
      deliver_raft(self, topic, partition, std::move(data));
    },
    [=](raft_batch_atom, const bytes& batch) { on_raft_batch(self, batch); },
    [=](raft_flush_atom) { flush_raft_batches(self); },
    [=](raft_clock_atom) { on_raft_clock(self); },
    [=](quiet_atom, bool quiet) {
      on_replica_quiet(self, caf::actor_cast<caf::actor>(self->current_sender()), quiet);
    },
    [=](settled_atom, const std::string& topic, std::uint32_t partition, std::uint64_t epoch) {
      spdlog::info("{}/{}: replica set of epoch {} is in force", topic, partition, epoch);
      on_replica_settled(self, topic, partition, epoch);
    },
    [=](peer_atom, std::uint64_t id) { connect_peer(self, id); },
    [=](peer_atom, const bytes& request) -> bytes_promise {
      auto rp = self->make_response_promise<bytes>();
      handle_admin_request(self, request, rp, true);
      return rp;
    },
    [=](lookup_atom, const std::string& topic, std::uint32_t partition) -> caf::actor {
      const auto& partitions = self->state.partitions;
      auto i = partitions.find(topic);
      return i == partitions.end() || partition >= i->second.size() ? caf::actor{} : i->second[partition];
    },
    [=](restart_atom, const std::string& topic, std::uint32_t partition, std::uint64_t incarnation) {
      auto& st = self->state;
      if (st.stopping || !st.restarts.retry_due(key_of(topic, partition), incarnation))
        return;  // restarted by an admin, or deleted, meanwhile
      const auto* descriptor = st.args.metadata->find(topic);
      auto slot = st.partitions.find(topic);
      if (descriptor == nullptr || slot == st.partitions.end() || partition >= slot->second.size())
        return;
      spdlog::info("{}/{}: retrying the offline partition", topic, partition);
      slot->second[partition] = start_partition(self, *descriptor, partition);
      publish_routes(self);
    },
    [=](disk_check_atom) {
      auto& st = self->state;
      check_disk(self);
      if (st.deletes_pending)
        sweep_deletes(self);
      self->delayed_send(self, st.args.disk_check, disk_check_atom::value);
    },
    [=](address_atom, std::string host, std::uint16_t port, std::string cluster_host, std::uint16_t cluster_port) {
      self->state.host = std::move(host);
      self->state.port = port;
      self->state.cluster_host = std::move(cluster_host);
      self->state.cluster_port = cluster_port;
      if (self->state.zk_mode() && !self->state.zk)
        start_cluster(self);
    },
    [=](zk_view_atom, zk_view_ptr& view) { on_cluster_view(self, std::move(view)); },
    [=](zk_status_atom, bool available) { on_cluster_status(self, available); },
    [=](zk_security_atom, zk_security_ptr& view) { on_security_view(self, std::move(view)); },
    [=](zk_fatal_atom, const std::string& why) {
      shutdown_node(self, caf::make_error(caf::sec::runtime_error, why));
    },
    [=](cluster_wait_atom) { expire_view_waits(self); },
    [=](shutdown_atom) { shutdown_node(self, caf::error{}); },
  };
}

} // namespace

void shutdown_node(node_ptr self, caf::error reason) {
  // Replicas that lead hand leadership to a caught-up follower first
  // (TimeoutNow), so a clean stop costs no election timeout; then stop.
  auto& st = self->state;
  if (st.stopping)
    return;
  st.stopping = true;
  st.fatal = std::move(reason);
  if (st.zk)  // closes the session: this broker's znode goes at once
    self->send_exit(st.zk, caf::exit_reason::user_shutdown);
  auto outstanding = std::make_shared<std::size_t>(1);
  auto finish = [=] {
    if (--*outstanding > 0)
      return;
    auto& st = self->state;
    for (auto& [topic, actors] : st.partitions)
      for (auto& a : actors)
        if (a)
          self->send_exit(a, caf::exit_reason::user_shutdown);
    for (const auto& s : st.sessions)
      self->send_exit(s, caf::exit_reason::user_shutdown);
    if (st.controller)
      self->send_exit(st.controller, caf::exit_reason::user_shutdown);
    st.partitions.clear();
    st.sessions.clear();
    self->quit(st.fatal);
  };
  for (auto& [topic, actors] : st.partitions)
    for (auto& a : actors)
      if (a) {
        ++*outstanding;
        self->request(a, std::chrono::seconds{5}, shutdown_atom::value)
          .then([=](bool) { finish(); }, [=](caf::error&) { finish(); });
      }
  finish();
}

caf::actor start_partition(node_ptr self, const cluster::topic_descriptor& topic, std::uint32_t partition,
                           replication::replica_origin origin) {
  auto& st = self->state;
  partition_args args;
  args.topic = topic.name;
  args.partition = partition;
  args.dir = partition_dir(st.args.data_dir, topic.name, topic.id, partition);
  args.config = topic.config;
  args.node_id = static_cast<std::uint64_t>(st.args.node_id);
  args.replicas = st.zk_mode() ? cluster_replica_ids(self, topic.name, partition) : st.replica_ids();
  args.tick_ms = st.args.raft_tick_ms;
  args.quiesce = st.args.raft_quiesce;
  args.cleaner_interval_ms = st.args.cleaner_interval_ms;
  args.origin = origin;
  if (st.zk_mode() && !args.replicas.empty())
    args.preferred_leader = args.replicas.front();  // placement's choice, balanced across brokers
  auto actor = spawn_partition(self, std::move(args));
  auto incarnation = st.restarts.started(key_of(topic.name, partition), std::chrono::steady_clock::now());
  st.partition_of[actor.address()] = node_state::replica_slot{topic.name, partition, incarnation};
  tick_replica(self, actor);  // until it says its group is quiet
  return actor;
}

void stop_topic(node_ptr self, const std::string& topic) {
  auto& st = self->state;
  auto slot = st.partitions.find(topic);
  if (slot == st.partitions.end())
    return;
  for (std::uint32_t p = 0; p < slot->second.size(); ++p) {
    st.restarts.forget(key_of(topic, p));
    if (auto& a = slot->second[p]) {
      st.partition_of.erase(a.address());
      st.ticking.erase(a.address());
      self->send_exit(a, caf::exit_reason::user_shutdown);
    }
  }
  st.partitions.erase(slot);
}

void start_topic(node_ptr self, const cluster::topic_descriptor& topic, replication::replica_origin origin) {
  std::vector<caf::actor> actors;
  actors.reserve(topic.partition_count);
  for (std::uint32_t p = 0; p < topic.partition_count; ++p)
    actors.push_back(start_partition(self, topic, p, origin));
  self->state.partitions[topic.name] = std::move(actors);
}

void publish_routes(node_ptr self) {
  auto& st = self->state;
  auto table = std::make_shared<routing_table>();
  table->partitions = st.partitions;
  table->disk = st.disk;
  table->authz = st.authz;
  if (st.zk_mode())
    for (const auto& [name, actors] : st.partitions) {
      auto& marks = table->elsewhere[name];
      marks.assign(actors.size(), -1);
      if (auto h = st.hosted.find(name); h != st.hosted.end())
        for (auto p : h->second)
          if (p < marks.size())
            marks[p] = 0;
    }
  st.routes = table;
  for (const auto& s : st.sessions)
    self->send(s, routing_atom::value, st.routes);
}

caf::actor spawn_node(caf::actor_system& system, node_args args) {
  return system.spawn(node_actor, std::move(args));
}

} // namespace herald::actors
