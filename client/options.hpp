#pragma once
// Options and record types shared by the client actors (client/actors.hpp)
// and the blocking facade (client/blocking.hpp). No CAF here.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "schema/client.capnp.h"
#include "security/tls_context.hpp"
#include "storage/record_batch.hpp"

namespace herald::client {

struct producer_options {
  schema::Acks acks = schema::Acks::ALL;
  std::size_t batch_bytes = 256u << 10;      // seal a batch at this size
  std::size_t batch_records = 16384;         // ... or this many records
  std::uint32_t linger_ms = 2;               // ... or after this long
  // One batch per partition in flight by default: a failed batch then stops
  // the partition's pipeline before anything behind it is sent, so records
  // never land after a gap. With more, batches already in
  // flight behind a failed one may still land after it; without idempotent
  // producers the broker cannot refuse them.
  std::uint32_t max_in_flight_per_partition = 1;
  // Sent as the produce's timeoutMs: the broker answers within it (at acks=1
  // and all; acks=none once the leader took the batch).
  std::uint32_t request_timeout_ms = 30'000;
  // Resend a batch refused for a reason another attempt may cure
  // (client/retry_rules.hpp) within request_timeout_ms; false: its first
  // failure fails it.
  bool retry = true;
  // Batches are compressed with this codec (storage/compression.hpp) and
  // stored and served as they are; consumers decompress.
  storage::codec compression = storage::codec::none;
};

// The cluster session (client/actors.hpp spawn_cluster_session): which
// brokers to start from and how long sessions live.
struct cluster_options {
  std::vector<std::string> bootstrap;      // HOST:PORT of brokers to ask first
  std::uint32_t connect_timeout_ms = 5'000;  // per broker, connect and hello
  // A session to a broker that no request used this long is closed (the
  // broker frees it); the next request to that broker opens one again.
  std::uint32_t idle_close_ms = 300'000;
  // Every request goes to the first bootstrap broker, whether it leads or
  // not: for tools and tests that address one broker in particular.
  bool pinned = false;
  // Liveness of each broker connection (client/wire_conversation.hpp): with
  // requests in flight, a connection quiet for heartbeat_ms sends a ping;
  // one that hears nothing for liveness_timeout_ms is lost (its requests
  // fail, retriable), so a frozen broker costs about this long.
  std::uint32_t heartbeat_ms = 500;
  std::uint32_t liveness_timeout_ms = 2'000;
  std::string client_id = "herald-client";  // in the hello, for the broker's logs
  // Security settings of the connections (TLS, SASL) come here.
  // SASL SCRAM-SHA-256 (security/sasl_client.hpp), used with brokers whose
  // listener requires it; a broker that requires it while sasl_user is empty
  // refuses with authenticationFailed.
  std::string sasl_user;
  std::string sasl_password;
  // TLS to every broker when `tls` is true (docs/security.md): the broker's
  // certificate is checked against tls_options.ca_file (the system's CAs if
  // empty) and must name the host connected to (or tls_options.server_name);
  // cert_file/key_file: a client certificate for brokers that ask for one.
  bool tls = false;
  security::tls_client_options tls_options;
};

enum class start_position { earliest, latest };

struct consumer_options {
  start_position start = start_position::latest;
  std::uint32_t fetch_max_bytes = 1u << 20;
  std::uint32_t fetch_max_wait_ms = 500;
  std::size_t max_buffered_bytes = 16u << 20;  // stop fetching beyond this
};

// What the consumer knows of one partition (consumer status_atom,
// consumer::status()): where it reads and how its latest request went.
struct consumer_partition_status {
  std::uint32_t partition = 0;
  std::int64_t position = -1;  // the next offset it fetches; -1 until known
  // The latest request's error (none once one succeeded since); a
  // transient one is retried with back-off (50 ms doubling to 2 s).
  schema::ErrorCode last_error = schema::ErrorCode::NONE;
  std::string message;
  std::uint32_t failures = 0;  // consecutive failed requests
};

struct consumer_record {
  std::uint32_t partition = 0;
  storage::record record;
};

} // namespace herald::client
