#pragma once
// The partition actor: owns one partition's log (storage::partition_log) and
// answers produce, fetch and list-offsets requests for it. It runs on its own
// thread (CAF `detached`) because fsync blocks.
//
// Protocol (all bytes are schema/client.capnp Request/Response messages):
//   (request_atom, bytes request) -> bytes response
//   (stats_atom) -> (uint64 log_start_offset, uint64 high_watermark)
//
// Group commit: an acks=all produce appends, then waits for the next
// sync_atom the actor sends itself. Every produce already queued in the
// mailbox is appended before that sync is processed, so one fdatasync
// acknowledges all of them.
//
// High watermark: with fsync=always it is the durable end of the log, so a
// consumer never sees a record a crash could take back; with interval/never
// it is the log end (the topic's owner chose speed over that guarantee).

#include <cstdint>
#include <filesystem>
#include <string>

#include <caf/fwd.hpp>

#include "cluster/topic.hpp"

namespace herald::actors {

struct partition_args {
  std::string topic;
  std::uint32_t partition = 0;
  std::filesystem::path dir;
  cluster::topic_config config;
};

// Spawned detached and monitored by `parent`, which supervises it.
caf::actor spawn_partition(caf::event_based_actor* parent, partition_args args);

} // namespace herald::actors
