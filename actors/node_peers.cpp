// The node actor's connections to the other nodes of a static cluster.
// Each is the peer's published node actor, reached through the middleman
// asynchronously (remote_actor would block the node actor); a lost one is
// retried every node_args::peer_retry. CAF's heartbeat and connection
// timeout (system_config.cpp) make a paused peer count as lost.

#include <spdlog/spdlog.h>

#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/cluster_tls.hpp"
#include "actors/node_state.hpp"

namespace herald::actors {

std::vector<std::uint64_t> node_state::replica_ids() const {
  std::vector<std::uint64_t> ids;
  for (const auto& p : args.peers) ids.push_back(p.id);
  if (ids.empty()) ids.push_back(static_cast<std::uint64_t>(args.node_id));
  std::sort(ids.begin(), ids.end());
  return ids;
}

void connect_peer(node_ptr self, std::uint64_t id) {
  auto& st = self->state;
  if (st.peers.count(id) != 0 || !st.connecting.insert(id).second) return;
  const auto it = st.peer_addresses.find(id);
  if (it == st.peer_addresses.end() || id == static_cast<std::uint64_t>(st.args.node_id)) {
    st.connecting.erase(id);
    return;  // not (or no longer) a peer
  }
  const peer_address addr = it->second;
  auto mm = cluster_middleman(self->system());  // TLS between brokers when configured
  self->request(mm, std::chrono::seconds{5}, caf::connect_atom::value, addr.host, addr.port)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
        auto& st = self->state;
        st.connecting.erase(id);
        auto peer = caf::actor_cast<caf::actor>(ptr);
        if (auto now = st.peer_addresses.find(id);
            now == st.peer_addresses.end() || now->second.host != addr.host || now->second.port != addr.port) {
          connect_peer(self, id);  // it moved (or left) while we connected: the current address, if any
          return;
        }
        if (!peer) {
          self->delayed_send(self, st.args.peer_retry, peer_atom::value, id);
          return;
        }
        self->monitor(peer);
        st.peers[id] = peer;
        spdlog::info("connected to peer {} at {}:{}", id, addr.host, addr.port);
        tell_replicas_link(self, id, true);
        if (st.zk_mode())
          return;  // ZooKeeper is the shared metadata store
        // Static clusters have no shared metadata store: offer the peer every
        // topic (an existing one is refused, harmlessly). Deletions a peer
        // missed are not repaired; ZooKeeper replaces all of this.
        for (const auto& [name, topic] : st.args.metadata->topics())
          self->request(peer, std::chrono::seconds{10}, peer_atom::value, create_request_for(topic))
            .then([](const bytes&) {}, [](caf::error&) {});
      },
      [=](caf::error&) {
        auto& st = self->state;
        st.connecting.erase(id);
        self->delayed_send(self, st.args.peer_retry, peer_atom::value, id);
      });
}

void connect_peers(node_ptr self) {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, p] : self->state.peer_addresses) ids.push_back(id);
  for (auto id : ids) connect_peer(self, id);
}

bool on_peer_down(node_ptr self, const caf::actor_addr& source) {
  auto& st = self->state;
  for (auto i = st.peers.begin(); i != st.peers.end(); ++i) {
    if (i->second.address() != source) continue;
    const auto id = i->first;
    st.peers.erase(i);
    st.raft_batches.erase(id);
    if (st.peer_addresses.count(id) == 0) {  // it left the cluster
      tell_replicas_link(self, id, false);
      return true;
    }
    spdlog::warn("lost peer {}; reconnecting", id);
    tell_replicas_link(self, id, false);
    self->delayed_send(self, st.args.peer_retry, peer_atom::value, id);
    return true;
  }
  return false;
}

void send_raft_to_peer(node_ptr self, std::uint64_t to, const std::string& topic, std::uint32_t partition,
                       bytes&& data) {
  auto& st = self->state;
  auto i = st.peers.find(to);
  if (i == st.peers.end()) {
    connect_peer(self, to);
    return;  // dropped: Raft sends again
  }
  queue_raft(self, to, i->second, topic, partition, std::move(data));
}

void broadcast_admin(node_ptr self, const bytes& request) {
  for (const auto& [id, peer] : self->state.peers) {
    self->request(peer, std::chrono::seconds{10}, peer_atom::value, request)
      .then([](const bytes&) {},
            [peer_id = id, self](caf::error& e) {
              spdlog::warn("peer {} did not apply a topic change: {}", peer_id, self->system().render(e));
            });
  }
}

} // namespace herald::actors
