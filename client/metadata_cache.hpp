#pragma once
// What a client knows of the cluster: the brokers (id -> HOST:PORT) and, per
// topic, each partition's leader and replicas. It answers "where does a
// request for topic/partition go" and learns from metadata, describeTopic
// and the errors partitions answer. No CAF and no I/O here: the cluster
// session actor (client/cluster_session.cpp) feeds it and asks it.
//
// A leader is only ever a hint: the broker that leads refuses with notLeader
// once it no longer does, and the client then asks the cache again (the
// error's leaderId, when it names a known broker, becomes the new leader at
// once; otherwise the partition's leader is unknown until a refresh).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "schema/client.capnp.h"

namespace herald::client {

struct partition_route {
  std::int32_t leader = -1;  // -1: unknown (an election, or not asked yet)
  std::vector<std::int32_t> replicas;
  std::string error;  // why the broker that described it has no leader (e.g. "offline")
};

struct topic_routes {
  std::uint32_t partition_count = 0;
  std::vector<partition_route> partitions;  // empty until leaders were read
};

class metadata_cache {
public:
  // Brokers from a metadata response (replacing the list: a broker gone from
  // it is gone). Topic infos in it update partition counts, and leaders when
  // the response carries partitions.
  void apply_metadata(schema::MetadataResponse::Reader m);
  // Leaders and replicas from a describeTopic response.
  void apply_topic(schema::TopicInfo::Reader t);

  // HOST:PORT of the broker that leads topic/partition, if both are known.
  std::optional<std::string> leader_address(const std::string& topic, std::uint32_t partition) const;
  std::int32_t leader(const std::string& topic, std::uint32_t partition) const;
  // What the last description said was wrong with the partition ("" if
  // nothing).
  std::string partition_error(const std::string& topic, std::uint32_t partition) const;
  // HOST:PORT of a broker by id.
  std::optional<std::string> address_of(std::int32_t broker) const;

  // The partition answered notLeader with this hint (-1: none): the hint
  // leads from now on if it is a known broker (and not the one that just
  // refused); else the leader is unknown.
  void on_not_leader(const std::string& topic, std::uint32_t partition, std::int32_t hint);
  // The leader is unknown (unknownPartition, partitionUnavailable).
  void forget_leader(const std::string& topic, std::uint32_t partition);
  // The broker at `address` cannot be reached: no partition is routed to it
  // until a refresh names it again.
  void on_broker_lost(const std::string& address);

  // Whether requests for the topic's partition can be routed without a
  // refresh.
  bool routable(const std::string& topic, std::uint32_t partition) const;

  // Every known broker address, in id order (candidates for "any broker").
  std::vector<std::string> broker_addresses() const;
  const std::map<std::int32_t, std::string>& brokers() const { return brokers_; }
  const topic_routes* topic(const std::string& name) const;

private:
  partition_route* find(const std::string& topic, std::uint32_t partition);
  void apply_partitions(topic_routes& routes, schema::TopicInfo::Reader t);

  std::map<std::int32_t, std::string> brokers_;
  std::map<std::string, topic_routes> topics_;
};

} // namespace herald::client
