#pragma once
// What a broker accepts in a topic create: sane ranges for the partition
// count, segment and batch sizes, checked before anything is written, each
// refusal a sentence that names the limit. CAF-free and I/O-free.

#include <cstdint>
#include <string>

#include "cluster/topic.hpp"

namespace herald::cluster {

// Segments below this would roll on every few batches; above it one segment
// preallocates and retains more than a disk should be asked for at once.
inline constexpr std::uint64_t min_segment_bytes = 64ull << 10;
inline constexpr std::uint64_t max_segment_bytes = 16ull << 30;
// A batch is read whole into memory before it is checked, so it stays small.
inline constexpr std::uint32_t min_batch_bytes = 1u << 10;
inline constexpr std::uint32_t max_batch_bytes = 64u << 20;
inline constexpr std::uint32_t max_fsync_interval_ms = 60'000;
// Default cap on partition replicas one broker hosts (heraldd --max-partitions).
inline constexpr std::uint32_t default_max_partitions_per_broker = 4096;

// Empty when `config` (defaults already applied) is acceptable, otherwise why not.
std::string check_topic_config(const topic_config& config);

// Empty when a topic of `requested` partitions fits: 1..max_partitions_per_topic
// and, with the `hosted` partitions this broker already serves, at most
// `max_per_broker` in all.
std::string check_partition_count(std::uint64_t requested, std::uint64_t hosted, std::uint64_t max_per_broker);

} // namespace herald::cluster
