#pragma once
// One partition's log: a directory of append-only segment files.
//
// Layout of a partition directory:
//   <base offset, 20 digits>.log    batches laid end to end (batch_header.hpp)
//   <base offset, 20 digits>.index  sparse offset index (offset_index.hpp)
// A segment is named by the base offset of its first batch. Only the newest
// segment (the active one) is appended to; it rolls when the next batch would
// take it past log_config::segment_bytes. A segment is fdatasync'ed, and the
// directory too if needed, before the next segment file is created, so every
// closed segment found at open is complete and is trusted as it is.
//
// Guarantees:
// - append() assigns consecutive offsets and never reorders batches.
// - Offsets below durable_end_offset() have been fdatasync'ed, and so has the
//   directory entry of every segment file that holds them.
// - open() validates the active segment batch by batch and truncates at the
//   first torn or corrupt batch, reporting what it cut; no batch before that
//   point is dropped. Indexes of the active segment are rebuilt from its data.
// - read() never returns bytes that fail their CRC: a corrupt batch is
//   reported as errc::corrupt instead of served. base_offset, outside the
//   CRC, is checked by offset continuity; term is covered by neither.
// - An I/O error or full disk fails append() with nothing half-written left
//   in the log (the segment is truncated back), and later appends may succeed.
//   A failed fsync (or a failed truncate-back) is different: the kernel may
//   have dropped the dirty pages, so append() and sync() keep returning that
//   error until the log is reopened and recovery re-validates it.
//
// Not thread-safe: one owner (the partition actor) calls it.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "storage/status.hpp"

namespace herald::storage {

struct log_config {
  std::uint64_t segment_bytes = 128ull << 20;
  std::uint32_t index_interval_bytes = 4096;   // one index entry per this many bytes
  std::uint32_t max_batch_bytes = (1u << 20) + 4096;
};

struct recovery_report {
  std::uint64_t segments = 0;
  std::uint64_t batches_validated = 0;  // in the active segment
  std::uint64_t truncated_bytes = 0;    // cut from the active segment's tail
  std::string detail;                   // why the tail was cut; empty if nothing was
};

struct append_result {
  std::uint64_t base_offset = 0;
  std::uint64_t last_offset = 0;
};

struct read_result {
  // Whole batches laid end to end. The first batch contains the requested
  // offset (so it may start before it); empty when nothing is readable.
  std::vector<char> bytes;
  std::uint64_t next_offset = 0;  // offset after the last returned batch
};

class partition_log {
public:
  static result<std::unique_ptr<partition_log>> open(const std::filesystem::path& dir,
                                                     const log_config& cfg);
  ~partition_log();
  partition_log(const partition_log&) = delete;
  partition_log& operator=(const partition_log&) = delete;

  const recovery_report& recovery() const;

  // Appends one batch (validated with validate_batch_deep()), stamping the
  // next offset and `term` into its header. Not durable until sync().
  result<append_result> append(std::span<const char> batch, std::uint64_t term);

  // Makes everything appended so far durable (fdatasync of the active segment
  // and of any segment rolled since the last sync, plus their directory entries).
  status sync();

  std::uint64_t log_start_offset() const;   // first offset still in the log
  std::uint64_t log_end_offset() const;     // offset the next append gets
  std::uint64_t durable_end_offset() const; // offsets below this are synced
  std::uint64_t size_bytes() const;
  std::size_t segment_count() const;

  // Reads whole batches starting with the one that contains `offset`, up to
  // `max_bytes` (but at least one batch), stopping before any batch whose
  // last offset is >= `upto`. `offset` must be in [log_start, log_end];
  // offset == upto gives an empty result. Corruption met after some sound
  // batches ends the read with those; the read that starts at the bad batch
  // gets errc::corrupt.
  result<read_result> read(std::uint64_t offset, std::uint32_t max_bytes, std::uint64_t upto) const;

  // First offset of the first batch whose max_timestamp >= `timestamp`, or
  // log_end_offset() when there is none.
  result<std::uint64_t> offset_for_timestamp(std::int64_t timestamp) const;

private:
  struct impl;
  explicit partition_log(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace herald::storage
