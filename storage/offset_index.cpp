#include "storage/offset_index.hpp"

#include <algorithm>
#include <string>

#include "storage/little_endian.hpp"

namespace herald::storage {

bool offset_index::on_batch(std::uint32_t relative_offset, std::uint32_t position) {
  // The strict increase checks keep the rules of decode() true even when a
  // rebuild scans headers whose (CRC-less) base offsets are damaged.
  const entry last = entries_.empty() ? entry{} : entries_.back();
  if (position > last.position && relative_offset > last.relative_offset && position - last.position >= interval_) {
    entries_.push_back({relative_offset, position});
    return true;
  }
  return false;
}

offset_index::entry offset_index::lookup(std::uint64_t relative_offset) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), relative_offset,
                             [](std::uint64_t r, const entry& e) { return r < e.relative_offset; });
  return it == entries_.begin() ? entry{} : *std::prev(it);
}

std::vector<char> offset_index::encode() const {
  std::vector<char> out(entries_.size() * entry_size);
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    le::put<std::uint32_t>(out.data() + i * entry_size, entries_[i].relative_offset);
    le::put<std::uint32_t>(out.data() + i * entry_size + 4, entries_[i].position);
  }
  return out;
}

result<offset_index> offset_index::decode(std::span<const char> bytes, std::uint32_t interval_bytes,
                                          std::uint64_t segment_size) {
  if (bytes.size() % entry_size != 0) {
    return status{errc::corrupt, "index size " + std::to_string(bytes.size()) + " is not a multiple of 8"};
  }
  offset_index index(interval_bytes);
  index.entries_.reserve(bytes.size() / entry_size);
  for (std::size_t off = 0; off < bytes.size(); off += entry_size) {
    const entry e{le::get<std::uint32_t>(bytes.data() + off), le::get<std::uint32_t>(bytes.data() + off + 4)};
    // Position 0 and relative offset 0 belong to the first batch, which is
    // never indexed.
    if (e.relative_offset == 0 || e.position == 0 || e.position >= segment_size) {
      return status{errc::corrupt, "index entry " + std::to_string(off / entry_size) + " (" +
                                       std::to_string(e.relative_offset) + ", " + std::to_string(e.position) +
                                       ") is out of range for a " + std::to_string(segment_size) + "-byte segment"};
    }
    if (!index.entries_.empty() && (e.relative_offset <= index.entries_.back().relative_offset ||
                                    e.position <= index.entries_.back().position)) {
      return status{errc::corrupt, "index entry " + std::to_string(off / entry_size) + " is out of order"};
    }
    index.entries_.push_back(e);
  }
  return index;
}

} // namespace herald::storage
