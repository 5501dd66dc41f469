#include "client/metadata_cache.hpp"

namespace herald::client {

void metadata_cache::apply_metadata(schema::MetadataResponse::Reader m) {
  if (m.getBrokers().size() > 0) {
    brokers_.clear();
    for (auto b : m.getBrokers())
      brokers_[b.getNodeId()] = std::string{b.getHost().cStr()} + ":" + std::to_string(b.getPort());
  }
  for (auto t : m.getTopics()) {
    auto& routes = topics_[t.getName().cStr()];
    if (routes.partition_count != t.getPartitionCount()) {
      routes.partition_count = t.getPartitionCount();
      routes.partitions.clear();  // partitions were added: re-read the leaders
    }
    if (t.getPartitions().size() > 0)
      apply_partitions(routes, t);
  }
}

void metadata_cache::apply_topic(schema::TopicInfo::Reader t) {
  auto& routes = topics_[t.getName().cStr()];
  routes.partition_count = t.getPartitionCount();
  apply_partitions(routes, t);
}

void metadata_cache::apply_partitions(topic_routes& routes, schema::TopicInfo::Reader t) {
  routes.partitions.assign(routes.partition_count, partition_route{});
  for (auto p : t.getPartitions()) {
    if (p.getId() >= routes.partition_count)
      continue;
    auto& r = routes.partitions[p.getId()];
    r.leader = p.getLeader() > 0 ? p.getLeader() : -1;
    r.error = p.getError().getCode() == schema::ErrorCode::NONE ? "" : p.getError().getMessage().cStr();
    r.replicas.clear();
    for (auto id : p.getReplicas())
      r.replicas.push_back(id);
  }
}

partition_route* metadata_cache::find(const std::string& topic, std::uint32_t partition) {
  auto i = topics_.find(topic);
  if (i == topics_.end() || partition >= i->second.partitions.size())
    return nullptr;
  return &i->second.partitions[partition];
}

std::int32_t metadata_cache::leader(const std::string& topic, std::uint32_t partition) const {
  auto i = topics_.find(topic);
  if (i == topics_.end() || partition >= i->second.partitions.size())
    return -1;
  return i->second.partitions[partition].leader;
}

std::string metadata_cache::partition_error(const std::string& topic, std::uint32_t partition) const {
  auto i = topics_.find(topic);
  if (i == topics_.end() || partition >= i->second.partitions.size())
    return {};
  return i->second.partitions[partition].error;
}

std::optional<std::string> metadata_cache::address_of(std::int32_t broker) const {
  auto i = brokers_.find(broker);
  if (i == brokers_.end())
    return std::nullopt;
  return i->second;
}

std::optional<std::string> metadata_cache::leader_address(const std::string& topic, std::uint32_t partition) const {
  auto id = leader(topic, partition);
  if (id < 0)
    return std::nullopt;
  return address_of(id);
}

bool metadata_cache::routable(const std::string& topic, std::uint32_t partition) const {
  return leader_address(topic, partition).has_value();
}

void metadata_cache::on_not_leader(const std::string& topic, std::uint32_t partition, std::int32_t hint) {
  auto* r = find(topic, partition);
  if (r == nullptr)
    return;
  // A hint naming the broker that refused would loop; an unknown id cannot
  // be reached without a refresh.
  r->leader = (hint > 0 && hint != r->leader && brokers_.count(hint) != 0) ? hint : -1;
}

void metadata_cache::forget_leader(const std::string& topic, std::uint32_t partition) {
  if (auto* r = find(topic, partition))
    r->leader = -1;
}

void metadata_cache::on_broker_lost(const std::string& address) {
  for (auto& [id, a] : brokers_) {
    if (a != address)
      continue;
    for (auto& [name, routes] : topics_)
      for (auto& p : routes.partitions)
        if (p.leader == id)
          p.leader = -1;
  }
}

std::vector<std::string> metadata_cache::broker_addresses() const {
  std::vector<std::string> out;
  for (const auto& [id, a] : brokers_)
    out.push_back(a);
  return out;
}

const topic_routes* metadata_cache::topic(const std::string& name) const {
  auto i = topics_.find(name);
  return i == topics_.end() ? nullptr : &i->second;
}

} // namespace herald::client
