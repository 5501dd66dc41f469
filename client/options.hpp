#pragma once
// Options and record types shared by the client actors (client/actors.hpp)
// and the blocking facade (client/blocking.hpp). No CAF here.

#include <cstddef>
#include <cstdint>

#include "schema/client.capnp.h"
#include "storage/record_batch.hpp"

namespace herald::client {

struct producer_options {
  schema::Acks acks = schema::Acks::ALL;
  std::size_t batch_bytes = 256u << 10;      // seal a batch at this size
  std::size_t batch_records = 16384;         // ... or this many records
  std::uint32_t linger_ms = 2;               // ... or after this long
  std::uint32_t max_in_flight_per_partition = 4;
  std::uint32_t request_timeout_ms = 30'000;
  // Batches are compressed with this codec (storage/compression.hpp) and
  // stored and served as they are; consumers decompress.
  storage::codec compression = storage::codec::none;
};

enum class start_position { earliest, latest };

struct consumer_options {
  start_position start = start_position::latest;
  std::uint32_t fetch_max_bytes = 1u << 20;
  std::uint32_t fetch_max_wait_ms = 500;
  std::size_t max_buffered_bytes = 16u << 20;  // stop fetching beyond this
};

struct consumer_record {
  std::uint32_t partition = 0;
  storage::record record;
};

} // namespace herald::client
