#include "storage/time_index.hpp"

#include <algorithm>
#include <string>

#include "storage/crc32c.hpp"
#include "storage/little_endian.hpp"

namespace herald::storage {

bool time_index::append(entry e) {
  if (!entries_.empty() &&
      (e.relative_offset <= entries_.back().relative_offset || e.max_timestamp < entries_.back().max_timestamp)) {
    return false;
  }
  entries_.push_back(e);
  return true;
}

std::optional<time_index::entry> time_index::last_before(std::int64_t timestamp) const {
  // Timestamps never decrease, so the entries below `timestamp` are a prefix.
  auto it = std::lower_bound(entries_.begin(), entries_.end(), timestamp,
                             [](const entry& e, std::int64_t t) { return e.max_timestamp < t; });
  if (it == entries_.begin()) return std::nullopt;
  return *std::prev(it);
}

std::vector<char> time_index::encode() const {
  std::vector<char> out(header_size + entries_.size() * entry_size);
  char* p = out.data() + header_size;
  for (const entry& e : entries_) {
    le::put<std::int64_t>(p, e.max_timestamp);
    le::put<std::uint32_t>(p + 8, e.relative_offset);
    p += entry_size;
  }
  le::put<std::uint32_t>(out.data(), magic);
  le::put<std::uint32_t>(out.data() + 4, crc32c(out.data() + header_size, out.size() - header_size));
  return out;
}

result<time_index> time_index::decode(std::span<const char> bytes, std::uint64_t segment_offsets) {
  auto bad = [](std::string what) { return status{errc::corrupt, "time index: " + std::move(what)}; };
  if (bytes.size() < header_size || (bytes.size() - header_size) % entry_size != 0) {
    return bad("size " + std::to_string(bytes.size()) + " is not 8 + 12 n");
  }
  if (le::get<std::uint32_t>(bytes.data()) != magic) return bad("bad magic");
  if (le::get<std::uint32_t>(bytes.data() + 4) != crc32c(bytes.data() + header_size, bytes.size() - header_size)) {
    return bad("crc mismatch");
  }
  time_index index;
  const std::size_t n = (bytes.size() - header_size) / entry_size;
  if (n == 0 && segment_offsets > 0) return bad("no entries for a segment holding batches");
  index.entries_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const char* p = bytes.data() + header_size + i * entry_size;
    const entry e{le::get<std::int64_t>(p), le::get<std::uint32_t>(p + 8)};
    if (e.relative_offset >= segment_offsets) {
      return bad("entry " + std::to_string(i) + " relative offset " + std::to_string(e.relative_offset) +
                 " is past the segment's " + std::to_string(segment_offsets) + " offsets");
    }
    if (!index.append(e)) return bad("entry " + std::to_string(i) + " is out of order");
  }
  return index;
}

} // namespace herald::storage
