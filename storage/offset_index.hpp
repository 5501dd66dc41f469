#pragma once
// The sparse offset index of one segment: maps some batches' base offsets to
// their byte positions in the segment's .log file, so that a read can start
// close to the batch it wants instead of scanning from the segment start.
//
// File format (<base offset, 20 digits>.index): an 8-byte frame, magic
// 0x58495248 ("HRIX", u32 LE) then the CRC32C of the rest (u32 LE), both
// written and checked by segment.cpp; then a sequence of 8-byte entries
// (what encode() and decode() handle):
//
//  off size field            meaning
//    0    4 relative_offset  base_offset of an indexed batch minus the
//                            segment's base offset (u32, little-endian)
//    4    4 position         byte position of that batch's header in the
//                            .log file (u32, little-endian)
//
// Entries are strictly increasing in both fields. An entry is added for a
// batch when at least index_interval_bytes lie between the previous entry's
// position (0 at the start) and this batch's position, so the first batch of
// a segment never gets one: a lookup with no entry at or below the target
// starts at position 0. Offsets and positions fit in u32 because a segment
// rolls before either would overflow (partition_log.cpp).
//
// The index is only a hint: a read starting from an entry still validates
// every batch, and a file that is missing, fails its magic or CRC, has a
// size that is not a multiple of 8, or whose entries are out of order or out of range is rebuilt from
// the batch headers. It is written (atomically) when its segment is closed
// by a roll; the active segment's index lives in memory and is rebuilt at
// open. A segment that a truncation cuts loses its index file at once, so a
// file can never describe batches that are gone.

#include <cstdint>
#include <span>
#include <vector>

#include "storage/status.hpp"

namespace herald::storage {

class offset_index {
public:
  static constexpr std::size_t entry_size = 8;

  struct entry {
    std::uint32_t relative_offset = 0;
    std::uint32_t position = 0;
    friend bool operator==(const entry&, const entry&) = default;
  };

  explicit offset_index(std::uint32_t interval_bytes) : interval_(interval_bytes) {}

  // Notes a batch written at `position`; indexes it if it is far enough from
  // the previous entry, and returns whether it did (the time index takes its
  // entries at the same batches).
  bool on_batch(std::uint32_t relative_offset, std::uint32_t position);

  // The last entry whose relative offset is <= `relative_offset`, or {0, 0}
  // (the segment start) when there is none.
  entry lookup(std::uint64_t relative_offset) const;

  const std::vector<entry>& entries() const { return entries_; }
  void clear() { entries_.clear(); }

  std::vector<char> encode() const;

  // Parses an index file's bytes; errc::corrupt when they break the rules
  // above for a segment of `segment_size` bytes.
  static result<offset_index> decode(std::span<const char> bytes, std::uint32_t interval_bytes,
                                     std::uint64_t segment_size);

private:
  std::uint32_t interval_;
  std::vector<entry> entries_;
};

} // namespace herald::storage
