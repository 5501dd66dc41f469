#pragma once
// Building and reading record batches (format: batch_header.hpp and
// schema/record.capnp; compressed payloads: compression.hpp). The producer
// side builds (and compresses); the broker validates and stores the bytes as
// they are; the consumer side reads (and decompresses).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/batch_header.hpp"
#include "storage/compression.hpp"
#include "storage/status.hpp"

namespace herald::storage {

struct record_header {
  std::string key;
  std::string value;
};

// A record as a producer hands it in and a consumer gets it back.
struct record {
  std::uint64_t offset = 0;            // assigned by the broker; ignored when building
  std::int64_t timestamp = 0;          // ms since the epoch
  std::optional<std::string> key;      // nullopt: no key (differs from an empty key)
  std::string value;                   // empty in a tombstone
  std::vector<record_header> headers;
  std::int64_t expires_at = 0;         // ms since the epoch; 0: never expires
  bool tombstone = false;              // deletes its key under compaction (compaction.hpp)
};

// Whether `r` has expired at `now_ms`: it has an expiry and that moment has
// come (expires_at <= now_ms). The cleaner removes expired records
// (compaction.hpp); until it does they are served like any other.
bool expired(const record& r, std::int64_t now_ms);

// Accumulates records and produces one sealed batch (header + payload, CRC
// computed, base_offset 0 and term 0 until the leader stamps them).
class batch_builder {
public:
  void add(std::int64_t timestamp, std::optional<std::string_view> key, std::string_view value,
           std::span<const record_header> headers = {});
  // A record that expires at `expires_at` (ms since the epoch; 0: never, the
  // same as add()).
  void add_expiring(std::int64_t timestamp, std::int64_t expires_at, std::optional<std::string_view> key,
                    std::string_view value, std::span<const record_header> headers = {});
  // A tombstone for `key`: a record without a value that deletes the key
  // under key compaction. A tombstone always has a key.
  void add_tombstone(std::int64_t timestamp, std::string_view key, std::span<const record_header> headers = {});
  std::size_t record_count() const { return records_.size(); }
  // Bytes the batch will take at most once built. A close upper bound without
  // compression; with it, the bound for incompressible data (a little more
  // than uncompressed), so it never under-counts.
  std::size_t estimated_size() const;
  bool empty() const { return records_.empty(); }

  void set_producer(std::int64_t producer_id, std::int16_t epoch, std::int32_t base_sequence);

  // Compresses the payload of every batch built from now on (compression.hpp;
  // `level` as described there). Like set_producer(), it outlives build().
  // A payload that compression cannot carry within the reader's limits is
  // stored another way rather than refused: zstd beyond the 1024x ratio cap
  // (long runs of one byte) falls back to lz4, which never exceeds it, and a
  // payload over 64 MiB stays uncompressed. The codec bits always say what
  // was done.
  void set_compression(codec c, int level = default_compression_level);

  // Builds the batch and resets the builder. Precondition: !empty().
  std::vector<char> build();

private:
  struct pending {
    std::int64_t timestamp;
    std::optional<std::string> key;
    std::string value;
    std::vector<record_header> headers;
    std::int64_t expires_at = 0;
    bool tombstone = false;
  };
  void add_pending(pending p);
  std::vector<pending> records_;
  std::size_t estimated_size_ = batch_header_size + 64;
  std::int64_t producer_id_ = -1;
  std::int16_t producer_epoch_ = -1;
  std::int32_t base_sequence_ = -1;
  codec codec_ = codec::none;
  int level_ = default_compression_level;
};

// Full validation for a batch offered for append: validate_batch() plus a
// decode of the payload (decompressed first, within compression.hpp's caps)
// that checks it is a well-formed RecordBatchPayload whose record count and
// offset deltas agree with the header (the last record at last_offset_delta,
// except in a compacted batch, whose records need only stay within it), and
// that every tombstone has a key and an empty value.
// `max_batch_bytes` bounds the batch both as it is and as it would be
// uncompressed (header + uncompressed payload): a batch over it is
// errc::batch_too_large, told by its header and compressed prefix before
// anything is decompressed (a 2 MiB record zstd-compressed under a 1 MiB
// limit is refused, and never costs more than the limit to check).
status validate_batch_deep(std::span<const char> batch, std::size_t max_batch_bytes = SIZE_MAX);

// The cleaner's rewrite of one sound data batch (compaction.hpp): the batch
// with only the records i (in payload order) for which keep[i] is true;
// keep.size() must be record_count. Each kept record is copied whole, so it
// keeps its offset delta, timestamp delta and every other field. The header
// keeps every field but length, crc and record_count, and gains
// batch_compacted_bit; the payload is encoded again and compressed with the
// batch's codec (with build()'s fallbacks: the codec bits say what was
// done). invalid_argument for a control batch or a wrong keep.size();
// invalid_batch if the payload does not decode.
result<std::vector<char>> filter_batch(std::span<const char> batch, const std::vector<bool>& keep);

// Decodes every record of one validated batch, calling `fn` for each one with
// offset >= `min_offset` (none for a compacted batch left without records).
// Returns invalid_batch if the payload does not decompress or decode, holds
// other than record_count records, or has offset deltas that do not increase or
// pass last_offset_delta; records passed to `fn` before such a problem was met
// stay passed.
status for_each_record(std::span<const char> batch, std::uint64_t min_offset,
                       const std::function<void(record&&)>& fn);

// Splits a buffer of whole batches laid end to end (as a fetch returns them)
// and calls `fn` on each batch. Stops with errc::corrupt on a batch that does
// not fit or fails validate_batch().
status for_each_batch(std::span<const char> batches,
                      const std::function<void(std::span<const char>)>& fn);

} // namespace herald::storage
