#pragma once
// Herald's client for plain (non-actor) code: blocking calls on top of the
// client actors (client/actors.hpp). No CAF in this header.
//
// Every failure throws herald::client::error, which carries the broker's
// error code. A connection owns its own CAF actor system.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "client/options.hpp"
#include "cluster/topic.hpp"
#include "schema/client.capnp.h"

namespace herald::client {

class error : public std::runtime_error {
public:
  error(schema::ErrorCode code, const std::string& message);
  schema::ErrorCode code() const { return code_; }

private:
  schema::ErrorCode code_;
};

// A partition leader's view of one follower (schema FollowerInfo).
struct follower_status {
  std::int32_t node_id = -1;
  std::int64_t match_offset = 0;
  std::int64_t lag = 0;         // records behind the leader's log end
  std::uint64_t match_index = 0;
  std::int64_t behind_ms = -1;  // since it last matched the leader's log end; -1: not yet
  bool learner = false;
  schema::FollowerState state = schema::FollowerState::PROBE;
  bool connected = true;        // false: the leader's broker lost its connection to it
};

struct partition_status {
  std::uint32_t id = 0;
  std::int32_t leader = -1;
  std::vector<std::int32_t> replicas;
  std::int64_t log_start_offset = -1;
  std::int64_t high_watermark = -1;
  std::string error;  // empty when the partition is online
  std::vector<follower_status> followers;  // filled when the answering broker leads it
};

struct topic_status {
  std::string name;
  std::uint32_t partition_count = 0;
  std::uint16_t replication_factor = 0;
  cluster::topic_config config;
  std::string owner;  // the principal that created it; empty: none recorded
  std::vector<partition_status> partitions;  // describe_topic only
};

struct broker_status {
  std::int32_t node_id = -1;
  std::string host;
  std::uint16_t port = 0;
  std::string rack;    // empty: none
  bool alive = true;   // ZooKeeper mode: registered now
};

// A metadata answer as a whole: brokers, the controller, every topic.
struct cluster_metadata {
  std::vector<broker_status> brokers;
  std::int32_t controller_id = -1;  // -1: none (no ZooKeeper, or no controller elected)
  std::vector<topic_status> topics;
};

// "host:port" -> parts; throws error(invalidRequest) when malformed.
std::pair<std::string, std::uint16_t> parse_broker(const std::string& address);
// "host:port[,host:port...]" -> each as HOST:PORT; throws like parse_broker.
std::vector<std::string> parse_broker_list(const std::string& addresses);

// A client of the whole cluster, started from one or more brokers
// ("host:port[,host:port...]"): it learns the others from metadata and sends
// each request to the broker that should answer it (a partition's leader for
// produce and fetch), through one session per broker it needs (the cluster
// session of client/actors.hpp). The constructor throws when none of the
// given brokers can be reached.
class connection {
public:
  enum class routing {
    leaders,  // each request to the broker that should answer it
    pinned,   // every request to the first broker given, leader or not (tools, tests)
  };
  explicit connection(const std::string& broker_addresses, routing mode = routing::leaders);
  // The same with connection settings (credentials for SASL, timeouts);
  // options.bootstrap and options.pinned are set from the arguments.
  connection(const std::string& broker_addresses, const cluster_options& options, routing mode = routing::leaders);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // False while no broker can be reached (the last attempt to reach any
  // failed); true again once one answers.
  bool connected() const;

  // Zero-valued fields of `config` take the broker's defaults.
  void create_topic(const std::string& name, std::uint32_t partitions, std::uint16_t replication_factor,
                    const std::optional<cluster::topic_config>& config = std::nullopt);
  void delete_topic(const std::string& name);
  std::vector<topic_status> list_topics();
  cluster_metadata metadata();
  topic_status describe_topic(const std::string& name);
  // Brings an offline partition replica back now; returns the broker's
  // word ("restarted" or "already running").
  std::string restart_partition(const std::string& topic, std::uint32_t partition);
  // Cluster on ZooKeeper: grows a topic to `partitions` partitions; moves
  // one partition's replicas (the move completes in the background).
  void alter_topic_partitions(const std::string& name, std::uint32_t partitions);
  void reassign_partition(const std::string& topic, std::uint32_t partition, const std::vector<std::int32_t>& replicas);
  // Any admin request (schema/client.capnp Request, encoded): sent where the
  // calls above go; returns the encoded Response. Throws `error` on an error
  // response, like them. (herald acl/user use it.)
  std::vector<char> admin_request(std::vector<char> request);

private:
  friend class producer;
  friend class consumer;
  struct impl;
  std::unique_ptr<impl> impl_;
};

struct produce_outcome {
  std::uint64_t acknowledged = 0;  // records the broker acknowledged
  std::uint64_t failed = 0;
  // Records 0..acknowledged_prefix-1 (in send() order) are all acknowledged.
  std::uint64_t acknowledged_prefix = 0;
  std::string first_error;         // empty when nothing failed
  // Records in batches sent more than once (after notLeader, a lost
  // connection, a timeout...): each may be stored twice (at-least-once).
  std::uint64_t resent = 0;
};

class producer {
public:
  producer(connection& conn, producer_options options = {});
  ~producer();
  producer(const producer&) = delete;
  producer& operator=(const producer&) = delete;

  // Queues one record. Blocks while `max_unacknowledged` records are
  // outstanding, which bounds memory whatever the broker's pace. Throws
  // once the connection is lost: records already queued still settle in
  // flush().
  void send(const std::string& topic, std::optional<std::string_view> key, std::string_view value);
  // A record that expires at `expires_at_ms` (ms since the epoch): consumers
  // skip it from then on and the broker reclaims its space.
  void send(const std::string& topic, std::optional<std::string_view> key, std::string_view value,
            std::int64_t expires_at_ms);
  // A tombstone: under cleanup policy compact, the key's older records go,
  // and later the tombstone too.
  void send_tombstone(const std::string& topic, std::string_view key);

  // Waits until every record sent so far is acknowledged or failed.
  produce_outcome flush();

  static constexpr std::size_t max_unacknowledged = 1u << 17;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

class consumer {
public:
  consumer(connection& conn, const std::string& topic, consumer_options options = {});
  ~consumer();
  consumer(const consumer&) = delete;
  consumer& operator=(const consumer&) = delete;

  // Up to `max_records` records; empty when none arrived within `timeout`.
  std::vector<consumer_record> poll(std::chrono::milliseconds timeout, std::uint32_t max_records = 4096);

  // Each partition's position and how its latest request went: a partition
  // that is offline or unavailable shows its error here while the consumer
  // keeps retrying it (empty until the topic's metadata arrived).
  std::vector<consumer_partition_status> status();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace herald::client
