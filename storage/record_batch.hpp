#pragma once
// Building and reading record batches (format: batch_header.hpp and
// schema/record.capnp). The producer side builds; the broker validates; the
// consumer side reads. Uncompressed payloads only for now (codec 0).

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/batch_header.hpp"
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
  std::string value;
  std::vector<record_header> headers;
};

// Accumulates records and produces one sealed batch (header + payload, CRC
// computed, base_offset 0 and term 0 until the leader stamps them).
class batch_builder {
public:
  void add(std::int64_t timestamp, std::optional<std::string_view> key, std::string_view value,
           std::span<const record_header> headers = {});
  std::size_t record_count() const { return records_.size(); }
  // Bytes the batch will take at most once built (a close upper bound).
  std::size_t estimated_size() const { return estimated_size_; }
  bool empty() const { return records_.empty(); }

  void set_producer(std::int64_t producer_id, std::int16_t epoch, std::int32_t base_sequence);

  // Builds the batch and resets the builder. Precondition: !empty().
  std::vector<char> build();

private:
  struct pending {
    std::int64_t timestamp;
    std::optional<std::string> key;
    std::string value;
    std::vector<record_header> headers;
  };
  std::vector<pending> records_;
  std::size_t estimated_size_ = batch_header_size + 64;
  std::int64_t producer_id_ = -1;
  std::int16_t producer_epoch_ = -1;
  std::int32_t base_sequence_ = -1;
};

// Full validation for a batch offered for append: validate_batch() plus a
// decode of the payload that checks it is a well-formed RecordBatchPayload
// whose record count and offset deltas agree with the header.
status validate_batch_deep(std::span<const char> batch);

// Decodes every record of one validated batch, calling `fn` for each one with
// offset >= `min_offset`. Returns invalid_batch if the payload does not decode.
status for_each_record(std::span<const char> batch, std::uint64_t min_offset,
                       const std::function<void(record&&)>& fn);

// Splits a buffer of whole batches laid end to end (as a fetch returns them)
// and calls `fn` on each batch. Stops with errc::corrupt on a batch that does
// not fit or fails validate_batch().
status for_each_batch(std::span<const char> batches,
                      const std::function<void(std::span<const char>)>& fn);

} // namespace herald::storage
