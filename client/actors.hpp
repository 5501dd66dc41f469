#pragma once
// Herald's client as CAF actors, for applications that are CAF applications
// themselves. Plain code uses the blocking facade in client/blocking.hpp.
//
// Every request and response is a schema/client.capnp message in a
// (request_atom, bytes) -> bytes exchange with the broker's session actor.
// Failures reach the caller as caf::error in category "herald" (protocol/errors.hpp).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>

#include "client/options.hpp"

namespace herald::client {

// Connects to a broker (blocking the calling thread) and opens a session that
// lives as long as `owner` does: the broker closes it when `owner` terminates
// or its process becomes unreachable.
caf::expected<caf::actor> open_session(caf::actor_system& system, const std::string& host, std::uint16_t port,
                                       const caf::actor& owner);

// The producer actor.
//   (send_atom, std::string topic, std::optional<std::string> key, std::string value)
//   (send_atom, topic, key, value, int64 expires_at)   expires at that time (ms since
//       the epoch): consumers never see it after, the broker's cleaner reclaims it
//   (tombstone_atom, std::string topic, std::string key) deletes the key under
//       cleanup policy compact
//       -> (std::uint32_t partition, std::int64_t offset)   once acknowledged
//          (offset -1 with acks=none)
//   (flush_atom) -> caf::unit_t                             once nothing is outstanding
// Records with a key go to partition hash(key) mod N; records without one
// stick to one partition per batch, rotating. Records of one partition are
// sent in order. The first failed batch of a partition stops that
// partition's pipeline: every record queued behind it, and every record sent
// to the partition until the next flush, fails with the same error and is
// never sent (there is no retry: the caller decides after flushing). With
// max_in_flight_per_partition > 1 (default 1) batches already in flight
// behind a failed one may still land. acks=none is answered once the leader
// took the batch (offset -1), so a follower's notLeader still fails it.
// When the session dies every outstanding record fails and the actor quits.
caf::actor spawn_producer(caf::actor_system& system, caf::actor session, producer_options options);

// The consumer actor: reads every partition of `topic`, one fetch in flight
// per partition, buffering at most max_buffered_bytes ahead of the caller.
//   (poll_atom, std::uint32_t max_records, std::uint32_t timeout_ms)
//       -> std::vector<consumer_record>   (empty after timeout_ms without records)
//   (consumer_status_atom) -> std::vector<consumer_partition_status>
// A transient error (unavailable, notLeader, timeout, throttled, or an
// offset above the high watermark, as a restarted replica answers for a
// while) is retried at the same offset with back-off (client/backoff.hpp);
// the consumer rewinds only to the log start, when retention left its
// offset below it. A batch that passes its CRC but does not decode fails
// every poll with corruptBatch (never skipped). When the session dies,
// waiting polls fail and the actor quits.
caf::actor spawn_consumer(caf::actor_system& system, caf::actor session, std::string topic,
                          consumer_options options);

} // namespace herald::client

// The client actors live in the application's process: these types never
// cross a network, so they need no serialization.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::optional<std::string>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<herald::client::consumer_record>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<herald::client::consumer_partition_status>)
