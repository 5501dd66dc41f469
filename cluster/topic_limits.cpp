#include "cluster/topic_limits.hpp"

#include "storage/batch_header.hpp"

namespace herald::cluster {

namespace {

std::string size(std::uint64_t bytes) {
  if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0)
    return std::to_string(bytes >> 30) + " GiB";
  if (bytes >= (1ull << 20) && bytes % (1ull << 20) == 0)
    return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1ull << 10) && bytes % (1ull << 10) == 0)
    return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

} // namespace

std::string check_topic_config(const topic_config& config) {
  if (config.segment_bytes < min_segment_bytes || config.segment_bytes > max_segment_bytes)
    return "segmentBytes " + std::to_string(config.segment_bytes) + " is out of range: it must be between " +
           size(min_segment_bytes) + " and " + size(max_segment_bytes);
  if (config.max_batch_bytes < min_batch_bytes || config.max_batch_bytes > max_batch_bytes)
    return "maxBatchBytes " + std::to_string(config.max_batch_bytes) + " is out of range: it must be between " +
           size(min_batch_bytes) + " and " + size(max_batch_bytes);
  if (config.segment_bytes < std::uint64_t{config.max_batch_bytes} + storage::batch_header_size)
    return "segmentBytes " + std::to_string(config.segment_bytes) + " must hold at least one batch of maxBatchBytes " +
           std::to_string(config.max_batch_bytes) + " plus its header";
  if (config.fsync == fsync_policy::interval &&
      (config.fsync_interval_ms == 0 || config.fsync_interval_ms > max_fsync_interval_ms))
    return "fsyncIntervalMs " + std::to_string(config.fsync_interval_ms) + " is out of range: it must be between 1 and " +
           std::to_string(max_fsync_interval_ms);
  return {};
}

std::string check_partition_count(std::uint64_t requested, std::uint64_t hosted, std::uint64_t max_per_broker) {
  if (requested == 0 || requested > max_partitions_per_topic)
    return "partitions must be between 1 and " + std::to_string(max_partitions_per_topic) + " (asked for " +
           std::to_string(requested) + ")";
  if (hosted + requested > max_per_broker)
    return "this broker hosts " + std::to_string(hosted) + " partition(s) and may host at most " +
           std::to_string(max_per_broker) + " (heraldd --max-partitions): " + std::to_string(requested) +
           " more do not fit";
  return {};
}

} // namespace herald::cluster
