#pragma once
// The sparse time index of one segment: lets offset_for_timestamp() start
// near the first batch that reaches a time instead of reading every batch
// header of the log, and gives retention a closed segment's newest timestamp
// without reading its data.
//
// Producers choose timestamps, so max_timestamp need not grow from batch to
// batch. An entry therefore holds the *running* maximum: the largest
// max_timestamp of every batch of the segment up to and including the
// indexed one. A running maximum never decreases, so the entries are sorted
// and binary-searchable, and the first batch whose max_timestamp >= t is also
// the first batch whose running maximum >= t: it lies after the last entry
// whose timestamp is < t and at or before the entry after that.
//
// Entries are taken at the batches the offset index indexes (same interval,
// see offset_index.hpp), so an entry's relative offset maps to an exact byte
// position through the offset index. When a segment is closed it gets one
// more entry for its last batch unless the last entry already holds the
// segment's maximum, so a closed, non-empty segment's maximum timestamp is
// its last entry's.
//
// File format (<base offset, 20 digits>.timeindex), written atomically when
// the segment is closed; the active segment's index lives in memory and is
// rebuilt from its batches at open. All integers little-endian.
//
//  off size field            meaning
//    0    4 magic            0x31495448 ("HTI1" in file order)
//    4    4 crc              CRC32C of bytes [8, file size)
//    8 12*n entries          n entries of 12 bytes, laid end to end:
//
//  entry off size field            meaning
//          0    8 max_timestamp    running maximum of max_timestamp (i64 ms)
//          8    4 relative_offset  base_offset of the indexed batch minus
//                                  the segment's base offset (u32)
//
// Rules: relative offsets strictly increase and stay below the segment's
// end; timestamps never decrease; a segment holding batches has at least one
// entry. A file that is missing or breaks a rule is rebuilt from the batch
// headers. Unlike the offset index (a hint that every read re-validates) this
// file carries a CRC: its timestamps decide what retention deletes, so a
// flipped bit must not pass for a valid, older timestamp.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "storage/status.hpp"

namespace herald::storage {

class time_index {
public:
  static constexpr std::uint32_t magic = 0x31495448;
  static constexpr std::size_t header_size = 8;
  static constexpr std::size_t entry_size = 12;

  struct entry {
    std::int64_t max_timestamp = 0;
    std::uint32_t relative_offset = 0;
    friend bool operator==(const entry&, const entry&) = default;
  };

  // Adds `e` if it keeps the rules (relative offset above the last entry's,
  // timestamp not below it); returns whether it did.
  bool append(entry e);

  // The last entry whose timestamp is < `timestamp`: no batch up to and
  // including it reaches `timestamp`, so a search can start there. nullopt
  // when it must start at the segment's first batch.
  std::optional<entry> last_before(std::int64_t timestamp) const;

  const std::vector<entry>& entries() const { return entries_; }
  void clear() { entries_.clear(); }

  std::vector<char> encode() const;

  // Parses a file's bytes for a segment holding `segment_offsets` offsets
  // (its end offset minus its base; 0 when empty). errc::corrupt when they
  // break the rules above.
  static result<time_index> decode(std::span<const char> bytes, std::uint64_t segment_offsets);

private:
  std::vector<entry> entries_;
};

} // namespace herald::storage
