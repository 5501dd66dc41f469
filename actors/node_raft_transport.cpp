// Raft at scale, the node actor's side: coalescing what the local replicas
// send to each peer, unpacking what peers send, the replicas' shared Raft
// clock and the link events that wake quiet groups. node_peers.cpp owns the
// connections; this file only changes how messages over them are carried.

#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/node_state.hpp"

namespace herald::actors {

namespace {

// Larger messages (AppendEntries with data) go alone: copying them into a
// batch buys nothing, and they are what the pipeline window bounds anyway.
constexpr std::size_t alone_bytes = 64u << 10;
// A batch this large is sent at once rather than at the flush.
constexpr std::size_t max_batch_bytes = 1u << 20;

void send_batch(node_ptr self, std::uint64_t to, wire::raft_batch_builder& batch) {
  if (batch.empty()) return;
  auto bytes = batch.take();
  auto& st = self->state;
  auto i = st.peers.find(to);
  if (i == st.peers.end()) return;  // lost meanwhile: dropped, Raft resends
  self->send(i->second, raft_batch_atom::value, std::move(bytes));
}

}  // namespace

void queue_raft(node_ptr self, std::uint64_t to, const caf::actor& peer, const std::string& topic,
                std::uint32_t partition, bytes&& data) {
  auto& st = self->state;
  if (!st.args.raft_coalesce || data.size() > alone_bytes) {
    // Keep the order to this peer: what is batched before it leaves first.
    if (auto b = st.raft_batches.find(to); b != st.raft_batches.end()) send_batch(self, to, b->second);
    self->send(peer, raft_atom::value, topic, partition, std::move(data));
    return;
  }
  auto& batch = st.raft_batches[to];
  if (!batch.add(topic, partition, data)) {
    self->send(peer, raft_atom::value, topic, partition, std::move(data));
    return;
  }
  if (batch.size_bytes() >= max_batch_bytes) {
    send_batch(self, to, batch);
  } else if (!st.raft_flush_scheduled) {
    // Behind everything already in the mailbox: all the replicas' messages
    // queued by now join this batch.
    st.raft_flush_scheduled = true;
    self->send(self, raft_flush_atom::value);
  }
}

void flush_raft_batches(node_ptr self) {
  auto& st = self->state;
  st.raft_flush_scheduled = false;
  for (auto& [to, batch] : st.raft_batches) send_batch(self, to, batch);
}

void deliver_raft(node_ptr self, const std::string& topic, std::uint32_t partition, bytes&& data) {
  const auto& partitions = self->state.partitions;
  auto i = partitions.find(topic);
  if (i == partitions.end() || partition >= i->second.size() || !i->second[partition])
    return;  // not (yet) here, or offline: Raft copes with a lost message
  self->send(i->second[partition], raft_atom::value, topic, partition, std::move(data));
}

void on_raft_batch(node_ptr self, const bytes& batch) {
  std::string why;
  auto items = wire::decode_raft_batch(batch, &why);
  if (!items) {
    spdlog::warn("dropped a malformed Raft batch of {} bytes from a peer: {}", batch.size(), why);
    return;
  }
  std::string topic;
  for (const auto& item : *items) {
    topic.assign(item.topic);
    deliver_raft(self, topic, item.partition, bytes(item.payload.begin(), item.payload.end()));
  }
}

void tell_replicas_link(node_ptr self, std::uint64_t peer, bool up) {
  for (const auto& [topic, actors] : self->state.partitions)
    for (const auto& a : actors)
      if (a) self->send(a, link_atom::value, peer, up);
}

// The clock runs only while some replica is awake: with every group quiet a
// broker gets no timer events at all (20 a second kept CAF's idle workers
// spinning and waking each other: ~3% of a core).
void start_raft_clock(node_ptr self) {
  auto& st = self->state;
  if (st.raft_clock_running || st.ticking.empty() || st.stopping) return;
  st.raft_clock_running = true;
  self->delayed_send(self, std::chrono::milliseconds{st.args.raft_tick_ms}, raft_clock_atom::value);
}

void on_raft_clock(node_ptr self) {
  auto& st = self->state;
  st.raft_clock_running = false;
  if (st.stopping) return;
  for (const auto& [addr, actor] : st.ticking) self->send(actor, tick_atom::value);
  start_raft_clock(self);
}

void tick_replica(node_ptr self, const caf::actor& replica) {
  self->state.ticking[replica.address()] = replica;
  start_raft_clock(self);
}

void on_replica_quiet(node_ptr self, const caf::actor& replica, bool quiet) {
  auto& st = self->state;
  if (!replica) return;
  if (quiet) {
    st.ticking.erase(replica.address());
    return;
  }
  // Only a replica the node still supervises (not one being stopped).
  if (st.partition_of.count(replica.address()) != 0) tick_replica(self, replica);
}

}  // namespace herald::actors
