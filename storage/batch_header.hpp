#pragma once
// The record batch header: the unit of append, replication, storage and fetch.
//
// A record batch is `header (72 bytes) | payload (length - 72 bytes)`. All
// integers are little-endian. The payload is a Cap'n Proto RecordBatchPayload
// (schema/record.capnp) in flat serialization, or that message compressed when
// the codec bits say so. `length` is a multiple of 8 so that batches laid end
// to end stay 8-byte aligned for Cap'n Proto.
//
//  off size field              meaning
//    0    8 base_offset        offset of the first record; stamped by the leader
//    8    4 length             whole batch in bytes, header included
//   12    4 magic              0x31425248 ("HRB1" in file order)
//   16    8 term               Raft term of the leader that appended the batch
//   24    4 crc                CRC32C of bytes [28, length)
//   28    2 attributes         bits 0-2: codec (0 none, 1 lz4, 2 zstd);
//                                bit 3: control batch (below);
//                                bit 4: compacted batch (below); rest 0
//   30    2 reserved           0
//   32    4 last_offset_delta  offset of the last record minus base_offset
//                                (as appended: compaction may remove that record)
//   36    4 record_count       records in the payload (>= 1; 0 only in a
//                                compacted batch)
//   40    8 first_timestamp    ms since the Unix epoch
//   48    8 max_timestamp      largest record timestamp in the batch
//   56    8 producer_id        -1 when the producer is not idempotent
//   64    2 producer_epoch     -1 when unused
//   66    2 reserved           0
//   68    4 base_sequence      -1 when unused
//   72      payload
//
// A control batch is written by the broker, never by a producer: Raft's
// own entries (a new leader's no-op, a membership change) live in the log
// as batches so that every Raft entry is one batch. It holds exactly one
// record whose key names its kind (control_batch.hpp) and takes one offset
// like any batch; consumers skip it, and produce requests carrying the bit
// are refused.
//
// A compacted batch (bit 4) was rewritten by the cleaner (compaction.hpp):
// records removed by key compaction or TTL are gone from its payload, the
// others kept with their offset and timestamp deltas. Only length, crc,
// record_count and attributes change; every other field keeps its value
// (base_offset, last_offset_delta, term, timestamps, producer fields),
// because each batch is one Raft log entry and replication
// maps Raft indices to base offsets: the batch must keep its place and its
// offset range even when it holds no record at all, hence record_count 0 is
// allowed here and nowhere else. Its record offsets may thus have gaps,
// at the start and at the end too. A control batch is never compacted.
//
// Producers set neither bit 3 nor bit 4: the broker refuses produce requests
// carrying either (a client must not forge Raft entries, nor claim that
// missing records were compacted away).
//
// base_offset and term sit before the CRC so that the leader can stamp them
// without recomputing it (as Kafka does); everything a producer decides is
// covered by the CRC from the producer to the consumer.

#include <cstddef>
#include <cstdint>
#include <span>

#include "storage/status.hpp"

namespace herald::storage {

inline constexpr std::size_t batch_header_size = 72;
inline constexpr std::uint32_t batch_magic = 0x31425248;
inline constexpr std::size_t batch_crc_offset = 24;
inline constexpr std::size_t batch_crc_start = 28;  // CRC covers [28, length)
inline constexpr std::uint16_t batch_codec_mask = 0x7;
inline constexpr std::uint16_t batch_control_bit = 0x8;
inline constexpr std::uint16_t batch_compacted_bit = 0x10;

struct batch_header {
  std::uint64_t base_offset = 0;
  std::uint32_t length = 0;
  std::uint32_t magic = batch_magic;
  std::uint64_t term = 0;
  std::uint32_t crc = 0;
  std::uint16_t attributes = 0;
  std::uint32_t last_offset_delta = 0;
  std::uint32_t record_count = 0;
  std::int64_t first_timestamp = 0;
  std::int64_t max_timestamp = 0;
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t base_sequence = -1;

  std::uint64_t last_offset() const { return base_offset + last_offset_delta; }
  std::uint64_t next_offset() const { return last_offset() + 1; }
  bool is_control() const { return (attributes & batch_control_bit) != 0; }
  bool is_compacted() const { return (attributes & batch_compacted_bit) != 0; }
};

// Writes `h` into the first batch_header_size bytes of `out` (crc as given).
// This and the other writers below leave a buffer shorter than the header
// untouched.
void encode_batch_header(const batch_header& h, std::span<char> out);

// Reads the header fields; does not validate anything but the size of `in`:
// a buffer shorter than the header gives length 0 and magic 0, which no
// validation accepts.
batch_header decode_batch_header(std::span<const char> in);

// Stamps base_offset and term into an encoded batch in place.
void stamp_batch(std::span<char> batch, std::uint64_t base_offset, std::uint64_t term);

// Computes the CRC over [28, length) and writes it into the header.
void seal_batch(std::span<char> batch);

// Checks the header only: magic, length (>= header, multiple of 8, equal to
// `batch.size()`), record_count >= 1 (or 0 in a compacted batch),
// last_offset_delta >= record_count - 1, reserved fields zero, a known codec,
// no unknown attribute bit, a control batch neither compacted nor of other
// than one record, and the CRC over the whole batch.
// Returns errc::invalid_batch with a message naming the first problem.
status validate_batch(std::span<const char> batch);

} // namespace herald::storage
