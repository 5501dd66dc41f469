#include "storage/partition_log.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <system_error>

#include "storage/atomic_file.hpp"
#include "storage/batch_header.hpp"
#include "storage/record_batch.hpp"
#include "storage/segment.hpp"

namespace herald::storage {
namespace {

constexpr std::uint64_t u32_max = std::numeric_limits<std::uint32_t>::max();

// Base offsets of the "<20 digits>.log" files in `dir`, ascending.
result<std::vector<std::uint64_t>> list_segments(const std::filesystem::path& dir) {
  std::vector<std::uint64_t> bases;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.size() != 24 || !name.ends_with(".log")) continue;
    const auto stem = name.substr(0, 20);
    if (!std::all_of(stem.begin(), stem.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    bases.push_back(std::stoull(stem));
  }
  if (ec) return status{errc::io_error, "list " + dir.string() + ": " + ec.message()};
  std::sort(bases.begin(), bases.end());
  return bases;
}

status corrupt(std::string what) { return {errc::corrupt, std::move(what)}; }

} // namespace

struct partition_log::impl {
  std::filesystem::path dir;
  log_config cfg;
  recovery_report report;
  std::vector<std::unique_ptr<segment>> segments;  // ascending base offsets; never empty
  std::uint64_t log_end = 0;
  std::uint64_t durable_end = 0;
  std::uint64_t total_bytes = 0;
  std::vector<segment*> unsynced;  // written to since the last sync
  bool dir_dirty = false;          // a segment file was created since the last directory fsync
  // After a failed fsync Linux may have dropped the dirty pages and a retried
  // fsync can then succeed without them being on disk; so does a segment we
  // could not cut back. Either way only reopening (recovery) restores a state
  // we can vouch for, so the error sticks.
  std::optional<status> failed;
  std::vector<char> scratch;

  segment& active() { return *segments.back(); }

  // Offset after the last batch of segments[i].
  std::uint64_t end_of(std::size_t i) const {
    return i + 1 < segments.size() ? segments[i + 1]->base_offset() : log_end;
  }

  status fail(status s) {
    failed = s;
    return s;
  }

  void mark_unsynced(segment* seg) {
    if (std::find(unsynced.begin(), unsynced.end(), seg) == unsynced.end()) unsynced.push_back(seg);
  }

  bool needs_roll(std::uint64_t batch_bytes, std::uint32_t last_offset_delta) {
    const segment& seg = active();
    if (seg.size() == 0) return false;  // a batch too big for any segment still gets one alone
    return seg.size() + batch_bytes > cfg.segment_bytes ||
           seg.size() + batch_bytes > u32_max ||  // index positions are u32
           log_end + last_offset_delta - seg.base_offset() > u32_max;  // so are relative offsets
  }

  status roll();
};

// Recovery trusts closed segments, so a segment may only become closed once
// it is entirely durable: its data and its directory entry are synced before
// the next segment file can exist.
status partition_log::impl::roll() {
  segment& old = active();
  if (std::find(unsynced.begin(), unsynced.end(), &old) != unsynced.end()) {
    if (auto s = old.datasync(); !s) return fail(s);
  }
  unsynced.clear();  // only the active segment is ever written
  if (dir_dirty) {
    if (auto s = sync_directory(dir); !s) return fail(s);
    dir_dirty = false;
  }
  durable_end = log_end;
  // Best effort: a missing or partial index is rebuilt at open.
  (void)old.write_index();

  auto seg = segment::create(dir, log_end, cfg.index_interval_bytes);
  if (!seg) return seg.error();
  segments.push_back(std::move(*seg));
  dir_dirty = true;
  return status::ok();
}

partition_log::partition_log(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
partition_log::~partition_log() = default;

result<std::unique_ptr<partition_log>> partition_log::open(const std::filesystem::path& dir, const log_config& cfg) {
  auto p = std::make_unique<impl>();
  p->dir = dir;
  p->cfg = cfg;

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return status{errc::io_error, "create " + dir.string() + ": " + ec.message()};

  auto bases = list_segments(dir);
  if (!bases) return bases.error();
  if (bases->empty()) {
    auto seg = segment::create(dir, 0, cfg.index_interval_bytes);
    if (!seg) return seg.error();
    p->segments.push_back(std::move(*seg));
  } else {
    for (std::size_t i = 0; i + 1 < bases->size(); ++i) {
      auto seg = segment::open(dir, (*bases)[i], cfg.index_interval_bytes);
      if (!seg) return seg.error();
      (*seg)->load_index();
      p->segments.push_back(std::move(*seg));
    }
    auto seg = segment::open(dir, bases->back(), cfg.index_interval_bytes);
    if (!seg) return seg.error();
    p->segments.push_back(std::move(*seg));
  }

  auto end = p->active().recover(p->report);
  if (!end) return end.error();
  // The active segment was synced by recover(); its directory entry (or the
  // one just created) is made durable too, so everything that survived
  // recovery counts as durable.
  if (auto s = sync_directory(dir); !s) return s;
  p->log_end = *end;
  p->durable_end = *end;
  p->report.segments = p->segments.size();
  for (const auto& seg : p->segments) p->total_bytes += seg->size();
  return std::unique_ptr<partition_log>(new partition_log(std::move(p)));
}

const recovery_report& partition_log::recovery() const { return impl_->report; }

result<append_result> partition_log::append(std::span<const char> batch, std::uint64_t term) {
  impl& m = *impl_;
  if (m.failed) return *m.failed;
  if (batch.size() > m.cfg.max_batch_bytes) {
    return status{errc::batch_too_large, "batch of " + std::to_string(batch.size()) + " bytes exceeds max_batch_bytes " +
                                             std::to_string(m.cfg.max_batch_bytes)};
  }
  if (auto s = validate_batch_deep(batch); !s) return s;
  const batch_header h = decode_batch_header(batch);

  if (m.needs_roll(batch.size(), h.last_offset_delta)) {
    if (auto s = m.roll(); !s) return s;
  }
  segment& seg = m.active();
  m.scratch.assign(batch.begin(), batch.end());
  stamp_batch(m.scratch, m.log_end, term);
  if (auto s = seg.append(m.scratch); !s) {
    if (seg.broken()) m.fail(s);
    return s;
  }
  m.mark_unsynced(&seg);
  m.total_bytes += batch.size();
  const append_result r{m.log_end, m.log_end + h.last_offset_delta};
  m.log_end = r.last_offset + 1;
  return r;
}

status partition_log::sync() {
  impl& m = *impl_;
  if (m.failed) return *m.failed;
  for (segment* seg : m.unsynced) {
    if (auto s = seg->datasync(); !s) return m.fail(s);
  }
  m.unsynced.clear();
  if (m.dir_dirty) {
    if (auto s = sync_directory(m.dir); !s) return m.fail(s);
    m.dir_dirty = false;
  }
  m.durable_end = m.log_end;
  return status::ok();
}

std::uint64_t partition_log::log_start_offset() const { return impl_->segments.front()->base_offset(); }
std::uint64_t partition_log::log_end_offset() const { return impl_->log_end; }
std::uint64_t partition_log::durable_end_offset() const { return impl_->durable_end; }
std::uint64_t partition_log::size_bytes() const { return impl_->total_bytes; }
std::size_t partition_log::segment_count() const { return impl_->segments.size(); }

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

  // The segment holding `offset`: the last one whose base is <= offset.
  auto it = std::upper_bound(m.segments.begin(), m.segments.end(), offset,
                             [](std::uint64_t o, const auto& s) { return o < s->base_offset(); });
  std::size_t i = static_cast<std::size_t>(std::prev(it) - m.segments.begin());
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

// A linear scan over batch headers: fine while it serves only occasional
// lookups; a per-segment time index is planned to replace it.
result<std::uint64_t> partition_log::offset_for_timestamp(std::int64_t timestamp) const {
  const impl& m = *impl_;
  for (const auto& seg : m.segments) {
    std::uint64_t pos = 0;
    while (pos < seg->size()) {
      auto h = seg->read_header(pos);
      if (!h) return h.error();
      if (h->max_timestamp >= timestamp) return h->base_offset;
      pos += h->length;
    }
  }
  return m.log_end;
}

} // namespace herald::storage
