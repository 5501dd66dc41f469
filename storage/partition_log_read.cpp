// partition_log's read side: whole batches by offset, header walks, lookups
// by timestamp, and file ranges for zero-copy sends.

#include "storage/partition_log_impl.hpp"

#include "storage/record_batch.hpp"

namespace herald::storage {

namespace {

status outside_log(std::uint64_t offset, std::uint64_t start, std::uint64_t end) {
  return {errc::offset_out_of_range,
          "offset " + std::to_string(offset) + " is outside [" + std::to_string(start) + ", " + std::to_string(end) + "]"};
}

} // namespace

// The walk both reads share: every batch from the one holding `offset`,
// in order, until one reaches `upto` or would take the total past
// `max_bytes` (the first is always taken). `take(segment, position, header)`
// collects a batch; `taken` is the total so far and `next` the offset after
// the last batch taken. Every failure is corruption: it ends the walk, and
// the caller returns what was taken before it (the next read, starting at
// the bad batch, gets the error) or, with nothing taken, the error.
template <class Take>
status partition_log::impl::walk_batches(std::uint64_t offset, std::uint32_t max_bytes, std::uint64_t upto,
                                         std::uint64_t& taken, std::uint64_t& next, Take&& take) const {
  std::size_t i = segment_of(offset);
  const auto start = segments[i]->index().lookup(offset - segments[i]->base_offset());
  std::uint64_t pos = start.position;
  std::uint64_t expected = segments[i]->base_offset() + start.relative_offset;
  for (; i < segments.size(); ++i, pos = 0) {
    const segment& seg = *segments[i];
    if (pos == 0) expected = seg.base_offset();
    while (pos < seg.size()) {
      auto h = seg.read_header(pos);
      if (!h) return h.error();
      // base_offset is outside the CRC, so continuity is what vouches for it.
      if (h->base_offset != expected) {
        return corrupt("segment " + segment_file_stem(seg.base_offset()) + ".log byte " + std::to_string(pos) +
                       ": base offset " + std::to_string(h->base_offset) + ", expected " + std::to_string(expected));
      }
      if (h->last_offset() >= offset) {
        if (h->last_offset() >= upto) return status::ok();
        if (taken != 0 && taken + h->length > max_bytes) return status::ok();
        if (auto s = take(seg, pos, *h); !s) {
          // A disk that fails to read (EIO) has not shown bad bytes: that
          // is io_error, which a retry or a repaired disk may cure.
          return {s.code == errc::io_error ? errc::io_error : errc::corrupt,
                  "segment " + segment_file_stem(seg.base_offset()) + ".log byte " + std::to_string(pos) + ": " +
                      s.message};
        }
        taken += h->length;
        next = h->next_offset();
      }
      expected = h->next_offset();
      pos += h->length;
    }
    if (expected != end_of(i)) {
      return corrupt("segment " + segment_file_stem(seg.base_offset()) + ".log ends at offset " +
                     std::to_string(expected) + " but the log continues at " + std::to_string(end_of(i)));
    }
  }
  return status::ok();
}

// Every batch was validated when it was appended (or at open), so bytes
// that fail their checks now were damaged since: the log says so durably
// (the damaged marker) and stops serving and voting until repaired.
status partition_log::impl::damage_found(status s) const {
  if (s.code != errc::corrupt) return s;
  return mark_damaged(dir, s);
}

result<read_result> partition_log::read(std::uint64_t offset, std::uint32_t max_bytes, std::uint64_t upto) const {
  const impl& m = *impl_;
  if (offset < log_start_offset() || offset > m.log_end) return outside_log(offset, log_start_offset(), m.log_end);
  read_result out;
  out.next_offset = offset;
  if (offset == m.log_end || upto <= offset) return out;
  std::uint64_t taken = 0;
  const status s = m.walk_batches(offset, max_bytes, upto, taken, out.next_offset,
                                  [&](const segment& seg, std::uint64_t pos, const batch_header& h) {
                                    const std::size_t at = out.bytes.size();
                                    out.bytes.resize(at + h.length);
                                    const std::span<char> batch(out.bytes.data() + at, h.length);
                                    status r = seg.read(pos, batch);
                                    if (r) r = validate_batch(batch);
                                    if (!r) out.bytes.resize(at);
                                    return r;
                                  });
  if (!s && out.bytes.empty()) return m.damage_found(s);
  if (!s) (void)m.damage_found(s);
  return out;
}

result<read_ranges_result> partition_log::read_ranges(std::uint64_t offset, std::uint32_t max_bytes,
                                                      std::uint64_t upto) const {
  const impl& m = *impl_;
  if (offset < log_start_offset() || offset > m.log_end) return outside_log(offset, log_start_offset(), m.log_end);
  read_ranges_result out;
  out.next_offset = offset;
  if (offset == m.log_end || upto <= offset) return out;
  const status s = m.walk_batches(offset, max_bytes, upto, out.bytes, out.next_offset,
                                  [&](const segment& seg, std::uint64_t pos, const batch_header& h) {
                                    auto& ranges = out.ranges;
                                    if (!ranges.empty() && ranges.back().fd == seg.fd() &&
                                        ranges.back().position + ranges.back().length == pos)
                                      ranges.back().length += h.length;
                                    else
                                      ranges.push_back({seg.fd(), pos, h.length});
                                    return status::ok();
                                  });
  if (!s && out.ranges.empty()) return m.damage_found(s);
  if (!s) (void)m.damage_found(s);
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
