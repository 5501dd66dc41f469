#pragma once
// Herald's client as CAF actors, for applications that are CAF applications
// themselves. Plain code uses the blocking facade in client/blocking.hpp.
//
// Every request and response is a schema/client.capnp message in a
// (request_atom, bytes) -> bytes exchange with a connection actor that
// carries it to the broker in Herald's framing (client/wire_connection.hpp).
// Failures reach the caller as caf::error in category "herald" (protocol/errors.hpp).

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>

#include "client/options.hpp"

namespace herald::client {

// Connects to a broker (blocking the calling thread until connected and
// greeted) and returns the connection actor (client/wire_connection.hpp),
// which lives as long as `owner` does or until the connection is lost.
caf::expected<caf::actor> open_session(caf::actor_system& system, const std::string& host, std::uint16_t port,
                                       const caf::actor& owner);

// The cluster session: stands in for a broker session (the same
// (request_atom, bytes) -> bytes protocol), but routes each request to the
// broker it belongs to. A produce, fetch or listOffsets goes to the leader
// of its partition, anything else to any broker. It keeps one session per
// broker it needs (a framed connection, client/wire_connection.hpp), opened
// on first use without blocking and closed when lost or unused for
// options.idle_close_ms, and
// caches metadata per topic (brokers; each partition's leader and replicas,
// from metadata and describeTopic). A partition's refusal (notLeader, with
// its leaderId hint; unknownPartition; partitionUnavailable) or a lost
// session marks the leader unknown, and the next request for the partition
// refreshes the topic first. It never retries by itself: it answers every
// request once (the broker's response, or partitionUnavailable when no
// broker or no leader could be found, or the session was lost with the
// request in flight: its outcome is then unknown); the producer and the
// consumer decide about retries (client/retry_rules.hpp).
//   (caf::connect_atom) -> caf::unit_t   once a session to some broker is open
//   (caf::get_atom) -> std::vector<std::string>   HOST:PORT of the open sessions
// `reachable`, when given, turns false when no broker could be reached and
// true again once one is.
caf::actor spawn_cluster_session(caf::actor_system& system, cluster_options options,
                                 std::shared_ptr<std::atomic<bool>> reachable = nullptr);

// The producer actor.
//   (send_atom, std::string topic, std::optional<std::string> key, std::string value)
//   (send_atom, topic, key, value, int64 expires_at)   expires at that time (ms since
//       the epoch): consumers never see it after, the broker's cleaner reclaims it
//   (tombstone_atom, std::string topic, std::string key) deletes the key under
//       cleanup policy compact
//       -> (std::uint32_t partition, std::int64_t offset)   once acknowledged
//          (offset -1 with acks=none)
//   (flush_atom) -> caf::unit_t                             once nothing is outstanding
//   (caf::get_atom) -> std::uint64_t   records in batches sent more than once so far
// Records with a key go to partition hash(key) mod N; records without one
// stick to one partition per batch, rotating. Records of one partition are
// sent in order. A batch refused for a reason that another attempt may cure
// (notLeader, unknownPartition, partitionUnavailable, a lost connection,
// throttled, timeout: client/retry_rules.hpp) is sent again after a
// back-off (50 ms doubling to 2 s), before anything behind it, for as long
// as request_timeout_ms from its first send allows; through a cluster
// session each attempt goes to the partition's leader as then known. This
// is at-least-once: a batch whose attempt failed with an unknown outcome
// (connection lost, timeout, a leader deposed before it answered) may have
// been stored, and its resend stores it twice. Any other failure, or running
// out of time, stops that partition's pipeline: every record queued behind
// it, and every record sent to the partition until the next flush, fails
// with the same error and is never sent. With max_in_flight_per_partition
// > 1 (default 1) batches already in flight behind a failed or retried one
// may land before it. acks=none is answered once the leader took the batch
// (offset -1), so a follower's notLeader is retried like the others.
// When the session dies every outstanding record fails and the actor quits.
caf::actor spawn_producer(caf::actor_system& system, caf::actor session, producer_options options);

// The consumer actor: reads every partition of `topic`, one fetch in flight
// per partition, buffering at most max_buffered_bytes ahead of the caller.
//   (poll_atom, std::uint32_t max_records, std::uint32_t timeout_ms)
//       -> std::vector<consumer_record>   (empty after timeout_ms without records)
//   (consumer_status_atom) -> std::vector<consumer_partition_status>
// A transient error (unavailable, notLeader, unknownPartition, timeout,
// throttled, or an offset above the high watermark, as a restarted replica
// answers for a while) is retried at the same offset with back-off
// (client/backoff.hpp); through a cluster session the retry goes to the
// partition's leader as then known, so the consumer follows a leader change
// and resumes at its position;
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
