// partition_log's read side: whole batches by offset, header walks, lookups
// by timestamp, and file ranges for zero-copy sends.

#include "storage/partition_log_impl.hpp"

#include "storage/record_batch.hpp"

namespace herald::storage {

result<read_result> partition_log::read(std::uint64_t offset, std::uint32_t max_bytes, std::uint64_t upto) const {
  const impl& m = *impl_;
  if (offset < log_start_offset() || offset > m.log_end) {
    return status{errc::offset_out_of_range, "offset " + std::to_string(offset) + " is outside [" +
                                                 std::to_string(log_start_offset()) + ", " +
                                                 std::to_string(m.log_end) + "]"};
  }
  read_result out;
  out.next_offset = offset;
  if (offset == m.log_end || upto <= offset) return out;

  std::size_t i = m.segment_of(offset);
  const auto start = m.segments[i]->index().lookup(offset - m.segments[i]->base_offset());
  std::uint64_t pos = start.position;
  std::uint64_t expected = m.segments[i]->base_offset() + start.relative_offset;

  // Every failure below is corruption. Batches already collected are sound,
  // so they are returned and the next read, starting at the bad batch, gets
  // the error; a read that has nothing to return fails.
  auto stop = [&](status s) -> result<read_result> {
    if (out.bytes.empty()) return s;
    return std::move(out);
  };

  for (; i < m.segments.size(); ++i, pos = 0) {
    const segment& seg = *m.segments[i];
    if (pos == 0) expected = seg.base_offset();
    while (pos < seg.size()) {
      auto h = seg.read_header(pos);
      if (!h) return stop(h.error());
      // base_offset is outside the CRC, so continuity is what vouches for it.
      if (h->base_offset != expected) {
        return stop(corrupt("segment " + segment_file_stem(seg.base_offset()) + ".log byte " +
                            std::to_string(pos) + ": base offset " + std::to_string(h->base_offset) +
                            ", expected " + std::to_string(expected)));
      }
      if (h->last_offset() >= offset) {
        if (h->last_offset() >= upto) return out;
        if (!out.bytes.empty() && out.bytes.size() + h->length > max_bytes) return out;
        const std::size_t at = out.bytes.size();
        out.bytes.resize(at + h->length);
        const std::span<char> batch(out.bytes.data() + at, h->length);
        status s = seg.read(pos, batch);
        if (s) s = validate_batch(batch);
        if (!s) {
          out.bytes.resize(at);
          return stop(corrupt("segment " + segment_file_stem(seg.base_offset()) + ".log byte " +
                              std::to_string(pos) + ": " + s.message));
        }
        out.next_offset = h->next_offset();
      }
      expected = h->next_offset();
      pos += h->length;
    }
    if (expected != m.end_of(i)) {
      return stop(corrupt("segment " + segment_file_stem(seg.base_offset()) + ".log ends at offset " +
                          std::to_string(expected) + " but the log continues at " + std::to_string(m.end_of(i))));
    }
  }
  return out;
}

result<read_ranges_result> partition_log::read_ranges(std::uint64_t offset, std::uint32_t max_bytes,
                                                      std::uint64_t upto) const {
  const impl& m = *impl_;
  if (offset < log_start_offset() || offset > m.log_end) {
    return status{errc::offset_out_of_range, "offset " + std::to_string(offset) + " is outside [" +
                                                 std::to_string(log_start_offset()) + ", " +
                                                 std::to_string(m.log_end) + "]"};
  }
  read_ranges_result out;
  out.next_offset = offset;
  if (offset == m.log_end || upto <= offset) return out;

  std::size_t i = m.segment_of(offset);
  const auto start = m.segments[i]->index().lookup(offset - m.segments[i]->base_offset());
  std::uint64_t pos = start.position;
  std::uint64_t expected = m.segments[i]->base_offset() + start.relative_offset;
  auto stop = [&](status s) -> result<read_ranges_result> {
    if (out.ranges.empty()) return s;
    return std::move(out);
  };
  for (; i < m.segments.size(); ++i, pos = 0) {
    const segment& seg = *m.segments[i];
    if (pos == 0) expected = seg.base_offset();
    while (pos < seg.size()) {
      auto h = seg.read_header(pos);
      if (!h) return stop(h.error());
      if (h->base_offset != expected) {
        return stop(corrupt("segment " + segment_file_stem(seg.base_offset()) + ".log byte " + std::to_string(pos) +
                            ": base offset " + std::to_string(h->base_offset) + ", expected " +
                            std::to_string(expected)));
      }
      if (h->last_offset() >= offset) {
        if (h->last_offset() >= upto) return out;
        if (out.bytes != 0 && out.bytes + h->length > max_bytes) return out;
        if (!out.ranges.empty() && out.ranges.back().fd == seg.fd() &&
            out.ranges.back().position + out.ranges.back().length == pos) {
          out.ranges.back().length += h->length;
        } else {
          out.ranges.push_back({seg.fd(), pos, h->length});
        }
        out.bytes += h->length;
        out.next_offset = h->next_offset();
      }
      expected = h->next_offset();
      pos += h->length;
    }
  }
  return out;
}

status partition_log::for_each_header(std::uint64_t offset,
                                      const std::function<bool(const batch_header&)>& fn) const {
  if (offset < impl_->log_start || offset > impl_->log_end) return impl_->out_of_range(offset, true);
  if (offset == impl_->log_end) return status::ok();
  for (std::size_t i = impl_->segment_of(offset); i < impl_->segments.size(); ++i) {
    const segment& seg = *impl_->segments[i];
    std::uint64_t pos = 0;
    if (seg.base_offset() <= offset && offset < impl_->end_of(i)) {
      auto at = seg.locate(offset);
      if (!at) return at.error();
      if (!*at) return corrupt("segment " + segment_file_stem(seg.base_offset()) + ".log ends before offset " +
                               std::to_string(offset));
      pos = (*at)->position;
    }
    while (pos < seg.size()) {
      auto h = seg.read_header(pos);
      if (!h) return h.error();
      if (!fn(*h)) return status::ok();
      pos += h->length;
    }
  }
  return status::ok();
}

result<std::uint64_t> partition_log::offset_for_timestamp(std::int64_t timestamp) const {
  const impl& m = *impl_;
  // Newest timestamps are not monotonic across segments either, so each
  // segment is checked; from memory, until one must hold the answer.
  for (std::size_t i = 0; i < m.segments.size(); ++i) {
    const segment& seg = *m.segments[i];
    if (m.end_of(i) <= m.log_start || seg.max_timestamp() < timestamp) continue;
    auto found = seg.find_timestamp(timestamp, m.log_start);
    if (!found) return found.error();
    // The batch may start below the log start; the log does not.
    if (*found) return std::max(**found, m.log_start);
  }
  return m.log_end;
}

} // namespace herald::storage
