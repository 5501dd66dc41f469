#pragma once
// One segment of a partition log: a <base>.log file of batches laid end to
// end plus its sparse offset and time indexes. Knows byte positions, not the
// log's policies (rolling, syncing, offsets across segments, log start):
// partition_log.cpp.
//
// Preallocation. The active segment's file is allocated ahead of its data
// in steps of preallocation_step (fdatasync of writes inside allocated
// blocks has less metadata to flush), up to segment_bytes: a new segment
// holds no blocks, and each append that would pass the allocated end first
// extends the allocation to the next step. So an idle partition costs no
// data blocks (a topic of thousands of partitions reserves nothing), and a
// busy one allocates 4 MiB at a time. While a segment is active the file is
// longer than its data: size() is the logical end (the batches), file_size() what the file
// system holds, zeros past size(). Closing the segment (close(), at a roll)
// cuts the file to size() and makes that durable before the next segment
// exists, so a closed segment's file holds exactly its batches and is
// trusted as it is at open. At open the active segment's zero tail, left by
// preallocation or by a crash that extended the file but lost the data, is
// the end of data, not damage; it is kept as preallocation.

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "storage/batch_header.hpp"
#include "storage/file.hpp"
#include "storage/offset_index.hpp"
#include "storage/partition_log.hpp"
#include "storage/status.hpp"
#include "storage/time_index.hpp"

namespace herald::storage {

// How far ahead of its data the active segment's file is allocated: small
// enough that an idle partition costs kilobytes, large
// enough that the fallocate calls are rare (one per 4 MiB of data).
inline constexpr std::uint64_t preallocation_step = 4ull << 20;

// "%020llu" of the base offset, the stem of all three file names.
std::string segment_file_stem(std::uint64_t base_offset);

class segment {
public:
  // max_timestamp() of a segment without batches.
  static constexpr std::int64_t no_timestamp = std::numeric_limits<std::int64_t>::min();
  // max_timestamp() when damaged headers hid part of a closed segment: the
  // maximum is unknown, and retention must not take it for old.
  static constexpr std::int64_t unknown_timestamp = std::numeric_limits<std::int64_t>::max();

  struct located_batch {
    std::uint64_t position = 0;
    batch_header header;
  };

  // A new, empty segment file (O_EXCL: it must not exist yet). Appends
  // allocate it in preallocation_step steps up to `preallocate_bytes` (0:
  // never) when the file system can (best effort: a file that cannot be
  // preallocated grows as it is written). Nothing is allocated before the
  // first append.
  static result<std::unique_ptr<segment>> create(const std::filesystem::path& dir, std::uint64_t base_offset,
                                                 std::uint32_t index_interval_bytes, std::uint64_t preallocate_bytes);
  // An existing segment file; the indexes are empty until load_indexes() or
  // recover().
  static result<std::unique_ptr<segment>> open(const std::filesystem::path& dir, std::uint64_t base_offset,
                                               std::uint32_t index_interval_bytes);

  std::uint64_t base_offset() const { return base_; }
  std::uint64_t size() const { return size_; }            // bytes of batches
  std::uint64_t file_size() const { return file_size_; }  // bytes of file, >= size()
  std::int64_t max_timestamp() const { return max_timestamp_; }
  const offset_index& index() const { return index_; }
  const time_index& timestamps() const { return time_index_; }
  std::filesystem::path log_path() const;
  std::filesystem::path index_path() const;
  std::filesystem::path time_index_path() const;

  // For a closed segment ending at `end_offset`: loads both index files, or
  // rebuilds them from the batch headers (and writes them back) when a file
  // is missing or unusable.
  void load_indexes(std::uint64_t end_offset);

  // For the active segment at open: fsyncs the file and drops its cached
  // pages so that what follows reads the disk, not a page cache that may
  // hold writes a failed fsync lost. Then validates every batch (header,
  // CRC, contiguous base offsets from base_offset()) up to the first bad
  // one. What follows it is the end of data when it is all zeros; a torn
  // tail, cut (durably) and reported, when no valid batch follows (
  // report.truncated_bytes counts from the bad batch to the last non-zero
  // byte); and corruption when one does (unless an aligned 512-byte block
  // of zeros, a page or sector writeback lost, lies between): errc::damaged,
  // nothing changed.
  // Rebuilds the indexes in memory and preallocates ahead of the data (up
  // to `preallocate_bytes`). Returns the offset after the last good batch.
  // `durable_bytes` (durable_watermark.hpp): the file's bytes known to have
  // been durable; a bad batch or the data ending below it is damage too.
  result<std::uint64_t> recover(recovery_report& report, std::uint64_t preallocate_bytes,
                                std::uint64_t durable_bytes = 0);

  // The header at `pos`, after the checks needed to step over the batch
  // safely (magic, sane length inside the data). errc::corrupt otherwise.
  result<batch_header> read_header(std::uint64_t pos) const;
  // Exactly out.size() bytes at `pos`; errc::corrupt if the file is short.
  status read(std::uint64_t pos, std::span<char> out) const;

  // The batch holding `offset` (>= base_offset()), found from the nearest
  // offset index entry by stepping over headers whose base offsets must be
  // contiguous; nullopt when `offset` is past the last batch.
  result<std::optional<located_batch>> locate(std::uint64_t offset) const;

  // The base offset of the first batch with last offset >= `min_offset` and
  // max_timestamp >= `timestamp`, nullopt when there is none. Reads only the
  // headers between two time index entries (plus those up to `min_offset`).
  result<std::optional<std::uint64_t>> find_timestamp(std::int64_t timestamp, std::uint64_t min_offset) const;

  // Writes a stamped batch at the end. On failure the file is cut back to
  // its previous size (losing its preallocation); if even that fails,
  // broken() turns true.
  status append(std::span<const char> batch);
  bool broken() const { return broken_; }

  status datasync() { return file_.datasync(); }
  // The segment file's descriptor, for zero-copy sends (sendfile).
  int fd() const { return file_.fd(); }

  // Turns the active segment into a closed one: cuts the preallocated tail,
  // makes data and size durable (fsync when the size changed, fdatasync when
  // only `unsynced` data did), then adds the closing time index entry and
  // writes both index files (best effort: a missing file is rebuilt at open;
  // one that cannot be written is removed so that no stale one survives).
  status close(bool unsynced);

  // Cuts the preallocated tail at a clean shutdown, without syncing: if it
  // is lost, recovery reads the zeros as the end of data anyway.
  void trim();

  // Cuts the segment at `pos` (a batch boundary, or 0) for a truncation of
  // the log: the file is truncated and fsynced, its index files are deleted
  // (the caller fsyncs the directory), the indexes are rebuilt in memory for
  // what is left and the file is preallocated again, as it is the active
  // segment from now on.
  status cut(std::uint64_t pos, std::uint64_t preallocate_bytes);

  // Deletes the segment's files (the caller fsyncs the directory if needed).
  status remove_files();

private:
  segment(std::filesystem::path dir, std::uint64_t base, file f, std::uint64_t size, std::uint32_t interval)
      : dir_(std::move(dir)), base_(base), file_(std::move(f)), size_(size), file_size_(size), index_(interval),
        interval_(interval) {}
  std::string where(std::uint64_t pos) const;
  void index_batch(const batch_header& h, std::uint64_t pos);
  void clear_indexes();
  // Rebuilds both indexes from the headers; false if damage stopped it.
  bool rebuild_indexes();
  void preallocate(std::uint64_t bytes);
  // Allocates ahead of `data_end` to the next preallocation_step boundary,
  // at most to prealloc_limit_; nothing when data_end is 0.
  void preallocate_ahead(std::uint64_t data_end);
  // The position of the first whole batch that passes validate_batch()
  // strictly after `from` and ending by `to`; nullopt if none.
  result<std::optional<std::uint64_t>> valid_batch_after(std::uint64_t from, std::uint64_t to) const;
  // Whether [from, to) holds an aligned 512-byte block of zeros: a page (or
  // a torn page's sector) that writeback never wrote.
  result<bool> has_zero_block(std::uint64_t from, std::uint64_t to) const;
  // Position after the last non-zero byte in [from, to); `from` if none.
  result<std::uint64_t> end_of_nonzero(std::uint64_t from, std::uint64_t to) const;

  std::filesystem::path dir_;
  std::uint64_t base_;
  file file_;
  std::uint64_t size_;
  std::uint64_t file_size_;
  offset_index index_;
  time_index time_index_;
  std::int64_t max_timestamp_ = no_timestamp;
  std::uint32_t last_relative_offset_ = 0;  // of the last batch, for the closing time index entry
  std::uint32_t interval_;
  bool broken_ = false;
  std::uint64_t prealloc_limit_ = 0;  // segment_bytes while active and preallocating, else 0
};

} // namespace herald::storage
