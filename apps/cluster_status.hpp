#pragma once
// `herald cluster status`: one view of the whole cluster, put together on
// the client from what the brokers already answer (metadata from one broker,
// describeTopic from every broker: only a partition's leader knows its
// followers' progress, and in ZooKeeper mode no broker holds every
// partition). No request of its own is needed, so any broker version that
// answers metadata and describeTopic can be inspected.
//
// gather() talks to the brokers; build_report() and render() are plain
// functions of what was gathered (tests drive them directly).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/blocking.hpp"

namespace herald::cli {

// What the brokers said.
struct cluster_snapshot {
  client::cluster_metadata metadata;  // from the broker the command was given
  // Per broker id: its describeTopic of every topic, or why it could not be
  // asked (not registered, unreachable).
  struct broker_answer {
    std::vector<client::topic_status> topics;
    std::string unreachable;  // empty: it answered
  };
  std::map<std::int32_t, broker_answer> answers;
};

// Asks `first` for metadata, then every broker it lists for a describe of
// every topic (reusing `first` for the broker at `first_address`).
// settings: for the connections to the other brokers (credentials).
cluster_snapshot gather(client::connection& first, const std::string& first_address,
                        const client::cluster_options& settings = {});

struct replica_view {
  std::int32_t node = -1;
  bool in_sync = false;
  std::string lag;  // "0", "15", "?" (its broker is down and the leader has no progress for it)
};

struct partition_row {
  std::string topic;
  std::uint32_t partition = 0;
  std::int32_t leader = -1;  // -1: none (no broker claims it)
  std::vector<std::int32_t> replicas;
  std::int64_t high_watermark = -1;  // the leader's; without one, the highest any replica reported
  std::vector<replica_view> followers;  // replicas other than the leader, in replica order
  bool under_replicated = false;        // led, but some replica is out of sync
};

struct broker_row {
  client::broker_status broker;
  std::string state;  // "yes", "no" (not registered), "unreachable"
  std::uint32_t partitions = 0;  // replicas it holds
  std::uint32_t leaders = 0;
};

struct status_report {
  std::int32_t controller_id = -1;
  bool zookeeper = false;  // a controller is reported or a broker has a rack: ZooKeeper mode
  std::vector<broker_row> brokers;
  std::vector<partition_row> partitions;
  std::int64_t max_lag_ms = 0;
  std::size_t leaderless() const;
  std::size_t under_replicated() const;
};

// A follower is in sync when its broker answers, the leader's progress has
// it as a voter, and it matched the leader's log end less than max_lag_ms
// ago (Kafka's replica.lag.time.max.ms).
status_report build_report(const cluster_snapshot& snapshot, std::int64_t max_lag_ms);

// Aligned tables for an 80-column terminal: the summary and the problems
// first (leaderless, under-replicated), then brokers, then partitions.
std::string render(const status_report& report);

// The command: gathers, prints the report on stdout; 1 when some partition
// has no leader (for scripts), else 0.
int run_status(client::connection& first, const std::string& first_address, std::int64_t max_lag_ms,
               const client::cluster_options& settings = {});

}  // namespace herald::cli
