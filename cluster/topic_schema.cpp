#include "cluster/topic_schema.hpp"

namespace herald::cluster {

void write_topic_config(const topic_config& config, schema::TopicConfig::Builder out) {
  out.setSegmentBytes(config.segment_bytes);
  out.setMaxBatchBytes(config.max_batch_bytes);
  switch (config.fsync) {
    case fsync_policy::always: out.setFsyncPolicy(schema::FsyncPolicy::ALWAYS); break;
    case fsync_policy::interval: out.setFsyncPolicy(schema::FsyncPolicy::INTERVAL); break;
    case fsync_policy::never: out.setFsyncPolicy(schema::FsyncPolicy::NEVER); break;
  }
  out.setFsyncIntervalMs(config.fsync_interval_ms);
  out.setRetentionMs(config.retention_ms);
  out.setRetentionBytes(config.retention_bytes);
  out.setCleanupPolicy(config.compact ? schema::CleanupPolicy::COMPACT : schema::CleanupPolicy::DELETE);
  out.setTombstoneRetentionMs(config.tombstone_retention_ms);
  out.setMinCompactionLagMs(config.min_compaction_lag_ms);
}

topic_config read_topic_config(schema::TopicConfig::Reader in, const topic_config& defaults) {
  topic_config c = defaults;
  if (in.getSegmentBytes() != 0)
    c.segment_bytes = in.getSegmentBytes();
  if (in.getMaxBatchBytes() != 0)
    c.max_batch_bytes = in.getMaxBatchBytes();
  switch (in.getFsyncPolicy()) {
    case schema::FsyncPolicy::ALWAYS: c.fsync = fsync_policy::always; break;
    case schema::FsyncPolicy::INTERVAL: c.fsync = fsync_policy::interval; break;
    case schema::FsyncPolicy::NEVER: c.fsync = fsync_policy::never; break;
  }
  if (in.getFsyncIntervalMs() != 0)
    c.fsync_interval_ms = in.getFsyncIntervalMs();
  if (in.getRetentionMs() != 0)
    c.retention_ms = in.getRetentionMs();
  if (in.getRetentionBytes() != 0)
    c.retention_bytes = in.getRetentionBytes();
  switch (in.getCleanupPolicy()) {
    case schema::CleanupPolicy::BROKER_DEFAULT: break;
    case schema::CleanupPolicy::DELETE: c.compact = false; break;
    case schema::CleanupPolicy::COMPACT: c.compact = true; break;
  }
  if (in.getTombstoneRetentionMs() != 0)
    c.tombstone_retention_ms = in.getTombstoneRetentionMs();
  if (in.getMinCompactionLagMs() != 0)
    c.min_compaction_lag_ms = in.getMinCompactionLagMs();
  return c;
}

} // namespace herald::cluster
