#pragma once
// One partition's log: a directory of append-only segment files.
//
// Layout of a partition directory:
//   <base offset, 20 digits>.log        batches laid end to end (batch_header.hpp)
//   <base offset, 20 digits>.index      sparse offset index (offset_index.hpp)
//   <base offset, 20 digits>.timeindex  sparse time index (time_index.hpp)
//   <base offset, 20 digits>.log.cleaned / .log.swap
//                                       a cleaned segment being written or
//                                       swapped in (compaction.hpp)
//   log_start                           persisted log start (log_start.hpp)
//   damaged                             present when the log is damaged (below);
//                                       text: why. Removed only by a repair.
//   unsynced_tail                       present when a cut-back after a failed
//                                       fsync failed (below); text: why
// A segment is named by the base offset of its first batch. Only the newest
// segment (the active one) is appended to; it rolls when the next batch would
// take it past log_config::segment_bytes. The active segment's file is
// preallocated ahead of its data in 4 MiB steps up to segment_bytes (an
// empty partition holds no data blocks) and cut to its data when it is
// closed (segment.hpp). A segment is cut, fsync'ed, and the directory too if needed,
// before the next segment file is created, so every closed segment found at
// open is complete and is trusted as it is.
//
// Guarantees:
// - append() assigns consecutive offsets and never reorders batches.
// - Offsets below durable_end_offset() have been fdatasync'ed, and so has the
//   directory entry of every segment file that holds them.
// - open() fsyncs the active segment, drops its pages from the page cache
//   and validates it from the disk batch by batch. A bad batch followed by
//   nothing valid (or by an aligned 512-byte block of zeros first: a page or
//   sector writeback lost) is a torn tail: cut, reported; no batch before it is dropped. A
//   bad batch followed by a valid one is corruption: open() writes the
//   `damaged` marker and fails with errc::damaged, changing nothing else.
//   While the marker exists open() fails with errc::damaged at once. A read
//   that finds a batch failing its checks (the bytes were valid when
//   written: damage since) marks the log damaged the same way and returns
//   errc::damaged; an EIO reading is errc::io_error, not damage. A tail of zeros is the end of the data, not damage
//   (preallocation; or a crash that extended the file and lost the data) and
//   is not reported. Indexes of the active segment are rebuilt from its data.
//   open() also reads the last batch's term (last_term()), and fails with
//   errc::corrupt when it cannot: only possible when the active segment is
//   empty and the last header of the segment before it is damaged. Raft's
//   votes depend on that term; a guessed one could elect a stale leader.
// - read() never returns bytes that fail their CRC: a corrupt batch is
//   reported as errc::corrupt instead of served. base_offset, outside the
//   CRC, is checked by offset continuity; term is covered by neither.
// - An I/O error or full disk fails append() with nothing half-written left
//   in the log (the segment is truncated back), and later appends may succeed.
//   A failed fsync (or a failed truncate-back) is different: the kernel may
//   have dropped the dirty pages while reads still return them, so sync()
//   first cuts the log back to the end of the last good sync (everything
//   after it is unacknowledged by definition), then append() and sync() keep
//   returning the error until the log is reopened and recovery re-validates
//   it. A roll whose fsync of the old segment (or of the directory) fails
//   is cut back the same way. If the cut itself fails, the `unsynced_tail`
//   marker is written: the next open() validates every segment (closed
//   ones too) from the disk, fsync then POSIX_FADV_DONTNEED then reads, and
//   cuts at the first that ends early. The same
//   holds for a truncate_suffix() that fails halfway, and every mutating call
//   returns that error meanwhile.
// - The log start only moves forward, durably (log_start.hpp), and segments
//   wholly below it are deleted, at the latest by the next open. If a crash
//   lost data beyond a log start (remove_prefix() past durable_end_offset()),
//   open() starts an empty log at the log start.
// - Compaction (replace_segments()) never changes which batches the log
//   holds, their offsets, terms or order, only their payloads; a crash
//   during a swap leaves, after open(), either the old segments or the new
//   one (compaction.hpp: the recovery rule, applied by open() first).
//
// Not thread-safe: one owner (the partition actor) calls it.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "storage/batch_header.hpp"
#include "storage/compaction.hpp"
#include "storage/status.hpp"

namespace herald::storage {

struct log_config {
  std::uint64_t segment_bytes = 128ull << 20;
  std::uint32_t index_interval_bytes = 4096;   // one index entry per this many bytes
  std::uint32_t max_batch_bytes = (1u << 20) + 4096;
  bool preallocate = true;                     // allocate the active segment ahead of its data, 4 MiB at a time
};

struct recovery_report {
  std::uint64_t segments = 0;
  std::uint64_t batches_validated = 0;  // in the active segment
  // Damaged bytes cut from the active segment's tail: from the first bad
  // batch to the last non-zero byte (zeros after it are not damage).
  std::uint64_t truncated_bytes = 0;
  std::string detail;                   // why the tail was cut; empty if nothing was
};

struct append_result {
  std::uint64_t base_offset = 0;
  std::uint64_t last_offset = 0;
};

struct retention_report {
  std::size_t segments_removed = 0;
  std::uint64_t bytes_removed = 0;
  std::uint64_t log_start_offset = 0;  // after the call
};

// A stretch of a segment file holding whole batches, for a socket to send
// without copying them through user space (sendfile(2), splice(2)).
struct file_range {
  int fd = -1;                // valid while the log is open and the segment exists; dup() it to outlive them
  std::uint64_t position = 0; // byte position in the file
  std::uint64_t length = 0;
};

struct read_ranges_result {
  std::vector<file_range> ranges;  // at most one per segment, in log order
  std::uint64_t bytes = 0;         // their total length
  std::uint64_t next_offset = 0;   // offset after the last batch they hold
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

  // How far append() checks a batch. `deep` (validate_batch_deep()) for
  // bytes from a producer; `crc` (validate_batch(): header and CRC) for a
  // batch that was deep-validated before (a Raft entry: the leader did it
  // when the producer's batch came in, and the CRC shows the bytes are the
  // same), so no replica decodes every payload twice.
  enum class check { deep, crc };

  // Appends one batch (validated as `how` says), stamping the next offset
  // and `term` into its header. Not durable until sync().
  result<append_result> append(std::span<const char> batch, std::uint64_t term, check how = check::deep);

  // The follower's append (Raft): the batch's place was decided by a leader,
  // so `base_offset` must be log_end_offset() (errc::offset_out_of_range
  // otherwise, nothing written). `base_offset` and `term` are stamped into
  // the header as append() does, so whatever the header held is replaced.
  // Not durable until sync().
  result<append_result> append_at(std::span<const char> batch, std::uint64_t base_offset, std::uint64_t term);

  // Removes every batch with base offset >= `offset` (Raft: a follower drops
  // entries that conflict with the leader's). `offset` must be in
  // [log_start, log_end] and start a batch (or be log_end, a no-op): Raft
  // truncates at entry boundaries, and cutting a batch in two would leave a
  // batch whose records' offsets no longer match its header. A later offset
  // of the batch is errc::offset_out_of_range, nothing changed. Whole later
  // segments are deleted (newest first, each deletion made durable before
  // the next, so a crash never leaves a hole), the containing segment is cut
  // and fsync'ed, its index files deleted and the directory fsync'ed: on
  // return the cut is durable, log_end_offset() == durable_end_offset() ==
  // `offset`, and appends continue at `offset`.
  status truncate_suffix(std::uint64_t offset);

  // Moves the log start forward to `offset` (<= log_end_offset(), else
  // errc::offset_out_of_range; at or below the current start a no-op), after
  // a Raft snapshot or to delete records. The start may sit inside a segment,
  // even inside a batch (reads at it return that batch whole). It is saved
  // durably (log_start.hpp) before segments wholly below it are deleted;
  // those deletions need no fsync, as open() deletes any that come back.
  // Reads below the start fail with errc::offset_out_of_range.
  status remove_prefix(std::uint64_t offset);

  // The term stamped in the batch holding `offset`; errc::offset_out_of_range
  // outside [log_start, log_end). Reads one or a few headers.
  result<std::uint64_t> term_at(std::uint64_t offset) const;
  // The term of the batch holding log_end - 1, from memory; 0 when the log
  // holds no offsets (log_start == log_end): a Raft snapshot then knows it.
  std::uint64_t last_term() const;

  // Discards every batch and restarts the log, empty, at `offset` (>= the
  // log start, else errc::offset_out_of_range): a Raft follower installing a
  // snapshot that its log does not reach, or that its log contradicts.
  // Segments are deleted newest first, each deletion durable before the
  // next, then the new start is saved and the new segment created; durable on
  // return. A crash midway leaves a prefix of the old log (or an empty log at
  // the old start): the caller must remember that a reset is due (the Raft
  // snapshot file does) and repeat it.
  status reset(std::uint64_t offset);

  // The log start apply_retention() would move to now: the base of the
  // first segment it would keep, or the current log start when it would
  // delete nothing. Changes nothing. A replicated owner uses it to take a
  // Raft snapshot there first and then calls remove_prefix().
  std::uint64_t retention_point(std::int64_t now_ms, std::int64_t retention_ms, std::int64_t retention_bytes) const;

  // Retention, run periodically by the owner. Deletes, oldest first, closed
  // segments (never the active one) whose newest timestamp is older than
  // now_ms - retention_ms, then, while the log's size exceeds
  // retention_bytes, more of the oldest closed segments; it stops at the
  // first segment it keeps, so the log stays contiguous. Negative limits are
  // unlimited. The log start moves to the first kept segment, durably, as in
  // remove_prefix(). It decides from memory alone (each segment's size and
  // newest timestamp, from its time index) and blocks on nothing but the
  // unlinks and one small atomic file write (the log start).
  result<retention_report> apply_retention(std::int64_t now_ms, std::int64_t retention_ms,
                                           std::int64_t retention_bytes);

  // Base offsets of the closed segments (all but the active one), ascending:
  // what compact_segments() may clean.
  std::vector<std::uint64_t> closed_segment_bases() const;
  // Base offset of the active segment: where the closed ones end.
  std::uint64_t active_segment_base() const;

  // Swaps in the output of compact_segments() for the run of closed
  // segments it was made from, on the owner thread. First checks, changing
  // nothing, that the run is still there unchanged: consecutive segments
  // with those bases and sizes, none of them the active one, the next one
  // starting at cleaned.end_offset, and that the cleaned file holds
  // contiguous batches from bases[0] to end_offset and is as long as the
  // report says. If not (a retention, truncation or reset overtook the
  // cleaning), it deletes the stale cleaned file and returns
  // errc::invalid_argument. Then it runs compaction.hpp's swap steps (sync,
  // commit by rename, delete the run's later segments and the old index
  // files, rename over bases[0]'s .log, each step made durable), opens the
  // new segment and rebuilds its indexes. log_start, log_end, terms and
  // every batch's offsets are unchanged; size_bytes() shrinks. A failure
  // after the commit leaves the log failed (every mutating call returns the
  // error) until it is reopened, and open() completes the swap.
  status replace_segments(const cleaned_segments& cleaned);

  // Makes everything appended so far durable (fdatasync of the active segment
  // and of any segment rolled since the last sync, plus their directory entries).
  status sync();

  std::uint64_t log_start_offset() const;   // first offset still in the log
  std::uint64_t log_end_offset() const;     // offset the next append gets
  std::uint64_t durable_end_offset() const; // offsets below this are synced
  std::uint64_t size_bytes() const;          // bytes of batches, all segments
  std::size_t segment_count() const;

  // Reads whole batches starting with the one that contains `offset`, up to
  // `max_bytes` (but at least one batch), stopping before any batch whose
  // last offset is >= `upto`. `offset` must be in [log_start, log_end];
  // offset == upto gives an empty result. Corruption met after some sound
  // batches ends the read with those; the read that starts at the bad batch
  // gets errc::corrupt.
  result<read_result> read(std::uint64_t offset, std::uint32_t max_bytes, std::uint64_t upto) const;

  // The zero-copy read: the same batches read() would return, as file
  // ranges instead of bytes. Headers are read and checked (magic, length,
  // offset continuity) but payloads are not: the CRC check is left to the
  // receiver (consumers validate every batch anyway), which is what lets the
  // bytes go from the page cache to the socket untouched. A header that
  // fails its checks ends the ranges there (errc::corrupt when nothing came
  // before it).
  result<read_ranges_result> read_ranges(std::uint64_t offset, std::uint32_t max_bytes, std::uint64_t upto) const;

  // Calls `fn` with the header of every batch from the one holding `offset`
  // to the end of the log, in order, until `fn` returns false. Reads headers
  // only (one pread each), so a host can map its own positions (Raft
  // indices) to offsets at start-up without reading the data. `offset` in
  // [log_start, log_end]; a damaged header ends the walk with errc::corrupt.
  status for_each_header(std::uint64_t offset, const std::function<bool(const batch_header&)>& fn) const;

  // First offset of the first batch whose max_timestamp >= `timestamp`, or
  // log_end_offset() when there is none; never below log_start_offset().
  // Timestamps need not grow from batch to batch. Segments whose newest
  // timestamp is older are skipped from memory; in the one that holds the
  // answer, its time index narrows the header reads to one index interval.
  result<std::uint64_t> offset_for_timestamp(std::int64_t timestamp) const;

private:
  status fail_sync(status error);
  struct impl;
  explicit partition_log(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace herald::storage
