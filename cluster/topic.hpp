#pragma once
// What a broker knows about a topic, independent of where it is stored.

#include <cstdint>
#include <string>
#include <string_view>

namespace herald::cluster {

enum class fsync_policy : std::uint8_t { always, interval, never };

struct topic_config {
  std::uint64_t segment_bytes = 128ull << 20;
  std::uint32_t max_batch_bytes = 1u << 20;
  fsync_policy fsync = fsync_policy::always;
  std::uint32_t fsync_interval_ms = 100;
  std::int64_t retention_ms = -1;     // -1: keep forever (enforced by the storage issue)
  std::int64_t retention_bytes = -1;
  bool compact = false;                            // cleanup policy compact (else delete)
  std::int64_t tombstone_retention_ms = 86'400'000;
  std::int64_t min_compaction_lag_ms = 0;
};

struct topic_descriptor {
  std::string name;
  std::uint64_t id = 0;               // unique per creation
  std::uint32_t partition_count = 0;
  std::uint16_t replication_factor = 1;
  topic_config config;
  // The principal that created it ("User:alice"), charged for it by the
  // per-principal limits (security/principal_limits.hpp); empty: no owner
  // (topics from before owners were recorded), counted for nobody.
  std::string owner;
};

inline constexpr std::uint32_t max_partitions_per_topic = 4096;
inline constexpr std::size_t max_topic_name_length = 249;

// Empty when `name` is a valid topic name, otherwise why it is not:
// 1..249 characters from [A-Za-z0-9._-], and not "." or "..".
std::string check_topic_name(std::string_view name);

} // namespace herald::cluster
