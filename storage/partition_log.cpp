#include "storage/partition_log.hpp"
#include "storage/partition_log_impl.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <system_error>

#include "storage/atomic_file.hpp"
#include "storage/batch_header.hpp"
#include "storage/durable_watermark.hpp"
#include "storage/log_start.hpp"
#include "storage/record_batch.hpp"
#include "storage/segment.hpp"

namespace herald::storage {
namespace {

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

bool file_exists(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::exists(p, ec);
}

} // namespace

std::filesystem::path damaged_marker_path(const std::filesystem::path& dir) { return dir / "damaged"; }
std::filesystem::path unsynced_marker_path(const std::filesystem::path& dir) { return dir / "unsynced_tail"; }

status mark_damaged(const std::filesystem::path& dir, const status& why) {
  const std::string text = why.message + "\n";
  status out{errc::damaged, "partition " + dir.string() + " is damaged: " + why.message};
  if (auto s = write_file_atomically(damaged_marker_path(dir), std::span<const char>(text.data(), text.size())); !s) {
    out.message += " (writing the damaged marker failed too: " + s.message + ")";
  }
  return out;
}

// Recovery trusts closed segments, so a segment may only become closed once
// it is entirely durable and cut to its data: both are synced (and so is its
// directory entry) before the next segment file can exist.
status partition_log::impl::roll() {
  segment& old = active();
  const bool dirty = std::find(unsynced.begin(), unsynced.end(), &old) != unsynced.end();
  // A failure here is a failed fsync (or a cut of the preallocation that
  // could not be made durable): the caller routes it through fail_sync(),
  // which cuts the unsynced tail back before anything can reopen the log.
  if (auto s = old.close(dirty); !s) {
    sync_failed = true;
    return s;
  }
  unsynced.clear();  // only the active segment is ever written
  if (dir_dirty) {
    if (auto s = sync_directory(dir); !s) {
      sync_failed = true;
      return s;
    }
    dir_dirty = false;
  }
  durable_end = log_end;

  auto seg = segment::create(dir, log_end, cfg.index_interval_bytes, preallocate_bytes());
  if (!seg) return seg.error();
  segments.push_back(std::move(*seg));
  dir_dirty = true;
  watermark = 0;  // the saved one speaks of the closed segment: ignored from now on
  return status::ok();
}

result<append_result> partition_log::impl::append(std::span<const char> batch, std::uint64_t term,
                                                  partition_log::check how) {
  if (batch.size() > cfg.max_batch_bytes) {
    return status{errc::batch_too_large, "batch of " + std::to_string(batch.size()) + " bytes exceeds max_batch_bytes " +
                                             std::to_string(cfg.max_batch_bytes)};
  }
  if (auto s = how == partition_log::check::deep ? validate_batch_deep(batch, cfg.max_batch_bytes) : validate_batch(batch);
      !s)
    return s;
  const batch_header h = decode_batch_header(batch);

  if (needs_roll(batch.size(), h.last_offset_delta)) {
    if (auto s = roll(); !s) return s;
  }
  segment& seg = active();
  scratch.assign(batch.begin(), batch.end());
  stamp_batch(scratch, log_end, term);
  if (auto s = seg.append(scratch); !s) {
    if (seg.broken()) failed = s;
    return s;
  }
  mark_unsynced(&seg);
  total_bytes += batch.size();
  const append_result r{log_end, log_end + h.last_offset_delta};
  log_end = r.last_offset + 1;
  last_term = term;
  return r;
}

result<std::uint64_t> partition_log::impl::term_of(std::uint64_t offset) const {
  const segment& seg = *segments[segment_of(offset)];
  auto at = seg.locate(offset);
  if (!at) return at.error();
  if (!*at) {
    return corrupt("segment " + segment_file_stem(seg.base_offset()) + ".log ends before offset " +
                   std::to_string(offset));
  }
  return (*at)->header.term;
}

void partition_log::impl::advance_watermark(bool force) {
  const std::uint64_t synced = active().size();
  if (synced <= watermark || (!force && synced - watermark < preallocation_step)) return;
  if (save_durable_watermark(dir, {active().base_offset(), synced})) watermark = synced;
}

status partition_log::impl::drop_watermark() {
  if (auto s = remove_durable_watermark(dir); !s) return s;
  watermark = 0;
  return status::ok();
}

// Segments wholly below the log start; the active one always stays.
status partition_log::impl::drop_below_start() {
  while (segments.size() > 1 && segments[1]->base_offset() <= log_start) {
    segment& seg = *segments.front();
    if (auto s = seg.remove_files(); !s) return s;
    total_bytes -= seg.size();
    forget(&seg);
    segments.erase(segments.begin());
  }
  return status::ok();
}

partition_log::partition_log(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

partition_log::~partition_log() {
  // A clean close leaves the active segment's file holding exactly its data,
  // and, when all of it is durable, says so for the next recovery.
  if (impl_ && !impl_->failed && !impl_->segments.empty()) {
    impl_->active().trim();
    if (impl_->unsynced.empty() && !impl_->dir_dirty) impl_->advance_watermark(true);
  }
}

result<std::unique_ptr<partition_log>> partition_log::open(const std::filesystem::path& dir, const log_config& cfg) {
  auto p = std::make_unique<impl>();
  p->dir = dir;
  p->cfg = cfg;

  std::error_code ec;
  // A partition directory (and a topic directory above it) created now must
  // survive a crash before anything in it counts as durable.
  if (auto s = create_directories_durably(dir); !s) return s;
  if (auto s = check_directory_trusted(dir); !s) return s;

  // A damaged log stays damaged until someone repairs it and removes the
  // marker: its bytes are kept as evidence and for repair, and nothing is
  // served or counted from it meanwhile.
  if (file_exists(damaged_marker_path(dir))) {
    auto why = read_whole_file(damaged_marker_path(dir));
    std::string text = why ? std::string(why->begin(), why->end()) : std::string("(unreadable marker)");
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return status{errc::damaged, "partition " + dir.string() + " is damaged: " + text};
  }

  // A compaction's swap that a crash interrupted is completed or discarded
  // before anything reads the segments (compaction.hpp: recovery rule).
  if (auto s = recover_cleaned_files(dir); !s) return s;

  auto saved_start = load_log_start(dir);
  if (!saved_start) return saved_start.error();
  std::uint64_t log_start = saved_start->value_or(0);

  auto bases = list_segments(dir);
  if (!bases) return bases.error();
  const bool created = bases->empty();
  if (created) {
    auto seg = segment::create(dir, log_start, cfg.index_interval_bytes, p->preallocate_bytes());
    if (!seg) return seg.error();
    p->segments.push_back(std::move(*seg));
  } else {
    // Segments wholly below the log start are left over from a crash between
    // saving the start and deleting them (or their deletion was not synced).
    std::size_t first = 0;
    for (; first + 1 < bases->size() && (*bases)[first + 1] <= log_start; ++first) {
      auto seg = segment::open(dir, (*bases)[first], cfg.index_interval_bytes);
      if (!seg) return seg.error();
      if (auto s = (*seg)->remove_files(); !s) return s;
    }
    // A log whose unsynced tail could not be cut back after a failed fsync
    // (fail_sync()) may hold, in closed segments too, batches the disk never
    // got while the page cache still serves them. Until each segment has
    // been validated from the disk itself, the log stays closed; here it is:
    // the first segment that ends early (a torn tail: those batches were
    // never acknowledged) becomes the active one and every later one goes.
    if (file_exists(unsynced_marker_path(dir))) {
      // What the disk holds decides; a watermark may speak of lost writes.
      if (auto s = remove_durable_watermark(dir); !s) return s;
      for (std::size_t i = first; i + 1 < bases->size(); ++i) {
        auto seg = segment::open(dir, (*bases)[i], cfg.index_interval_bytes);
        if (!seg) return seg.error();
        auto end = (*seg)->recover(p->report, 0);
        if (!end) return end.error().code == errc::damaged ? mark_damaged(dir, end.error()) : end.error();
        (void)std::filesystem::remove(dir / (segment_file_stem((*bases)[i]) + ".index"), ec);
        (void)std::filesystem::remove(dir / (segment_file_stem((*bases)[i]) + ".timeindex"), ec);
        if (*end == (*bases)[i + 1]) continue;
        while (bases->size() > i + 1) {
          auto later = segment::open(dir, bases->back(), cfg.index_interval_bytes);
          if (!later) return later.error();
          if (auto s = (*later)->remove_files(); !s) return s;
          if (auto s = sync_directory(dir); !s) return s;
          bases->pop_back();
        }
      }
    }
    for (std::size_t i = first; i + 1 < bases->size(); ++i) {
      auto seg = segment::open(dir, (*bases)[i], cfg.index_interval_bytes);
      if (!seg) return seg.error();
      (*seg)->load_indexes((*bases)[i + 1]);
      p->segments.push_back(std::move(*seg));
    }
    auto seg = segment::open(dir, bases->back(), cfg.index_interval_bytes);
    if (!seg) return seg.error();
    p->segments.push_back(std::move(*seg));
  }

  // A segment just created holds nothing to recover; scanning its
  // preallocation for damage would read all of it where the file system
  // reports unwritten extents as data.
  auto mark = load_durable_watermark(dir);
  if (!mark) return mark.error();
  if (*mark && (*mark)->segment_base == p->active().base_offset()) p->watermark = (*mark)->position;
  auto end = created ? result<std::uint64_t>(log_start)
                     : p->active().recover(p->report, p->preallocate_bytes(), p->watermark);
  if (!end) return end.error().code == errc::damaged ? mark_damaged(dir, end.error()) : end.error();
  p->log_end = *end;
  if (log_start > p->log_end) {
    // The start was moved past data a crash then lost: nothing of the log is
    // left at or above it, so it starts over, empty, at its start.
    for (auto& seg : p->segments) {
      if (auto s = seg->remove_files(); !s) return s;
    }
    p->segments.clear();
    if (auto s = p->drop_watermark(); !s) return s;
    auto seg = segment::create(dir, log_start, cfg.index_interval_bytes, p->preallocate_bytes());
    if (!seg) return seg.error();
    p->segments.push_back(std::move(*seg));
    p->log_end = log_start;
  }
  p->log_start = std::max(log_start, p->segments.front()->base_offset());
  // The active segment was synced by recover(); its directory entry (or the
  // one just created, or deletions) is made durable too, so everything that
  // survived recovery counts as durable. Validated from the disk, the log
  // no longer needs the unsynced_tail marker.
  if (file_exists(unsynced_marker_path(dir))) (void)std::filesystem::remove(unsynced_marker_path(dir), ec);
  if (auto s = sync_directory(dir); !s) return s;
  p->durable_end = p->log_end;
  p->report.segments = p->segments.size();
  for (const auto& seg : p->segments) p->total_bytes += seg->size();
  if (p->log_end > p->log_start) {
    auto term = p->term_of(p->log_end - 1);
    if (!term && term.error().code == errc::corrupt) {
      // Only a closed segment's header can be bad here (the active one was
      // just validated), and closed segments were durable: damage.
      return mark_damaged(dir, status{errc::damaged, "reading the last batch's term: " + term.error().message});
    }
    if (!term) return status{term.error().code, "reading the last batch's term: " + term.error().message};
    p->last_term = *term;
  }
  return std::unique_ptr<partition_log>(new partition_log(std::move(p)));
}

const recovery_report& partition_log::recovery() const { return impl_->report; }

result<append_result> partition_log::append(std::span<const char> batch, std::uint64_t term, check how) {
  impl& m = *impl_;
  if (m.failed) return *m.failed;
  auto r = m.append(batch, term, how);
  if (!r && m.sync_failed) return fail_sync(r.error());
  return r;
}

result<append_result> partition_log::append_at(std::span<const char> batch, std::uint64_t base_offset,
                                               std::uint64_t term) {
  impl& m = *impl_;
  if (m.failed) return *m.failed;
  if (base_offset != m.log_end) {
    return status{errc::offset_out_of_range, "append_at offset " + std::to_string(base_offset) +
                                                 ", but the log ends at " + std::to_string(m.log_end)};
  }
  auto r = m.append(batch, term, check::deep);
  if (!r && m.sync_failed) return fail_sync(r.error());
  return r;
}

status partition_log::sync() {
  impl& m = *impl_;
  if (m.failed) return *m.failed;
  for (segment* seg : m.unsynced) {
    if (auto s = seg->datasync(); !s) return fail_sync(s);
  }
  m.unsynced.clear();
  if (m.dir_dirty) {
    if (auto s = sync_directory(m.dir); !s) return fail_sync(s);
    m.dir_dirty = false;
  }
  m.durable_end = m.log_end;
  m.advance_watermark(false);
  return status::ok();
}

status partition_log::fail_sync(status error) {
  impl& m = *impl_;
  // After a failed writeback Linux marks the pages clean while reads still
  // return them, so a reopen (a restarted actor, not a reboot) would
  // validate bytes the disk never got and call them durable. Cut the log
  // back to what the last good sync covered first; only then is "reopen and
  // recover" honest.
  m.sync_failed = false;
  const std::uint64_t keep = std::max(m.durable_end, m.log_start);
  if (keep < m.log_end) {
    auto cut = truncate_suffix(keep);
    if (!cut) {
      // The page cache may still serve batches the disk never got, and a
      // reopen in this boot would believe them: the marker makes the next
      // open validate every segment from the disk (partition_log.hpp).
      const std::string text = "an fsync failed and cutting the unsynced tail back to offset " +
                               std::to_string(keep) + " failed too\n";
      auto marked = write_file_atomically(unsynced_marker_path(m.dir), std::span<const char>(text.data(), text.size()));
      error.message += "; cutting the unsynced tail back to offset " + std::to_string(keep) + " also failed (" +
                       cut.message + ")" +
                       (marked ? std::string("; the next open validates the log from the disk")
                               : "; writing the unsynced_tail marker failed too (" + marked.message +
                                     "): do not reopen this log before a reboot");
      return m.fail(error);
    }
    error.message += "; the unsynced tail was cut back to offset " + std::to_string(keep);
  }
  return m.fail(error);
}

status partition_log::truncate_suffix(std::uint64_t offset) {
  impl& m = *impl_;
  if (m.failed) return *m.failed;
  if (offset < m.log_start || offset > m.log_end) return m.out_of_range(offset, true);
  if (offset == m.log_end) return status::ok();

  const std::size_t i = m.segment_of(offset);
  segment& seg = *m.segments[i];
  auto at = seg.locate(offset);
  if (!at) return at.error();
  if (!*at) {
    return corrupt("segment " + segment_file_stem(seg.base_offset()) + ".log ends before offset " +
                   std::to_string(offset));
  }
  const batch_header& h = (*at)->header;
  if (h.base_offset != offset) {
    return status{errc::offset_out_of_range, "offset " + std::to_string(offset) + " is inside the batch [" +
                                                 std::to_string(h.base_offset) + ", " +
                                                 std::to_string(h.last_offset()) +
                                                 "]: the log can only be truncated at a batch boundary"};
  }

  // From here on a failure leaves a state only recovery can vouch for.
  if (auto s = m.drop_watermark(); !s) return m.fail(s);
  // Newest first, each deletion durable before the next: a crash must never
  // keep a later segment while losing an earlier one (a hole in the log).
  while (m.segments.size() > i + 1) {
    segment& last = *m.segments.back();
    if (auto s = last.remove_files(); !s) return m.fail(s);
    if (auto s = sync_directory(m.dir); !s) return m.fail(s);
    m.total_bytes -= last.size();
    m.forget(&last);
    m.segments.pop_back();
  }
  const std::uint64_t removed = seg.size() - (*at)->position;
  if (auto s = seg.cut((*at)->position, m.preallocate_bytes()); !s) return m.fail(s);
  m.total_bytes -= removed;
  // The deleted index files must not come back: they describe the batches
  // the log is about to replace.
  if (auto s = sync_directory(m.dir); !s) return m.fail(s);
  m.unsynced.clear();  // what is left of the active segment was fsynced by cut()
  m.dir_dirty = false;
  m.log_end = offset;
  m.durable_end = offset;
  m.last_term = 0;
  if (offset > m.log_start) {
    auto term = m.term_of(offset - 1);
    if (!term) return m.fail(term.error());
    m.last_term = *term;
  }
  return status::ok();
}

status partition_log::remove_prefix(std::uint64_t offset) {
  impl& m = *impl_;
  if (m.failed) return *m.failed;
  if (offset > m.log_end) return m.out_of_range(offset, true);
  if (offset > m.log_start) {
    if (auto s = save_log_start(m.dir, offset); !s) return s;
    m.log_start = offset;
  }
  // Also retries deletions that failed last time.
  return m.drop_below_start();
}

result<std::uint64_t> partition_log::term_at(std::uint64_t offset) const {
  const impl& m = *impl_;
  if (offset < m.log_start || offset >= m.log_end) return m.out_of_range(offset, false);
  return m.term_of(offset);
}

std::uint64_t partition_log::last_term() const {
  return impl_->log_end > impl_->log_start ? impl_->last_term : 0;
}

std::uint64_t partition_log::retention_point(std::int64_t now_ms, std::int64_t retention_ms,
                                             std::int64_t retention_bytes) const {
  const impl& m = *impl_;
  const std::size_t n = m.segments.size();
  std::size_t keep_from = 0;  // first segment kept; never past the active one
  if (retention_ms >= 0) {
    std::int64_t cutoff = 0;
    if (__builtin_sub_overflow(now_ms, retention_ms, &cutoff)) cutoff = std::numeric_limits<std::int64_t>::min();
    while (keep_from + 1 < n && m.segments[keep_from]->max_timestamp() < cutoff) ++keep_from;
  }
  if (retention_bytes >= 0) {
    std::uint64_t remaining = m.total_bytes;
    for (std::size_t i = 0; i < keep_from; ++i) remaining -= m.segments[i]->size();
    while (keep_from + 1 < n && remaining > static_cast<std::uint64_t>(retention_bytes)) {
      remaining -= m.segments[keep_from]->size();
      ++keep_from;
    }
  }
  return keep_from > 0 ? std::max(m.log_start, m.segments[keep_from]->base_offset()) : m.log_start;
}

result<retention_report> partition_log::apply_retention(std::int64_t now_ms, std::int64_t retention_ms,
                                                        std::int64_t retention_bytes) {
  impl& m = *impl_;
  if (m.failed) return *m.failed;
  const std::size_t n = m.segments.size();
  const std::uint64_t bytes_before = m.total_bytes;
  const std::uint64_t point = retention_point(now_ms, retention_ms, retention_bytes);
  if (point > m.log_start) {
    if (auto s = remove_prefix(point); !s) return s;
  }
  return retention_report{n - m.segments.size(), bytes_before - m.total_bytes, m.log_start};
}

status partition_log::reset(std::uint64_t offset) {
  impl& m = *impl_;
  if (m.failed) return *m.failed;
  if (offset < m.log_start) return m.out_of_range(offset, false);
  // From here on a failure leaves a state only recovery can vouch for.
  if (auto s = m.drop_watermark(); !s) return m.fail(s);
  while (!m.segments.empty()) {
    segment& last = *m.segments.back();
    if (auto s = last.remove_files(); !s) return m.fail(s);
    if (auto s = sync_directory(m.dir); !s) return m.fail(s);
    m.forget(&last);
    m.segments.pop_back();
  }
  if (auto s = save_log_start(m.dir, offset); !s) return m.fail(s);
  auto seg = segment::create(m.dir, offset, m.cfg.index_interval_bytes, m.preallocate_bytes());
  if (!seg) return m.fail(seg.error());
  m.segments.push_back(std::move(*seg));
  if (auto s = sync_directory(m.dir); !s) return m.fail(s);
  m.unsynced.clear();
  m.dir_dirty = false;
  m.total_bytes = 0;
  m.log_start = m.log_end = m.durable_end = offset;
  m.last_term = 0;
  return status::ok();
}

std::uint64_t partition_log::active_segment_base() const { return impl_->segments.back()->base_offset(); }

std::vector<std::uint64_t> partition_log::closed_segment_bases() const {
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i + 1 < impl_->segments.size(); ++i) out.push_back(impl_->segments[i]->base_offset());
  return out;
}

status partition_log::replace_segments(const cleaned_segments& cleaned) {
  impl& m = *impl_;
  if (m.failed) return *m.failed;
  const std::size_t n = cleaned.bases.size();
  if (n == 0 || cleaned.sizes.size() != n || cleaned.end_offset <= cleaned.bases[0] ||
      cleaned.path != m.dir / (segment_file_stem(cleaned.bases[0]) + ".log.cleaned")) {
    return status{errc::invalid_argument, "not the output of compact_segments() for this log"};
  }
  auto stale = [&](const std::string& why) {
    std::error_code ec;
    std::filesystem::remove(cleaned.path, ec);
    return status{errc::invalid_argument, "cleaned segment " + cleaned.path.filename().string() + " is stale: " + why};
  };
  const auto it = std::find_if(m.segments.begin(), m.segments.end(),
                               [&](const auto& seg) { return seg->base_offset() == cleaned.bases[0]; });
  const auto i0 = static_cast<std::size_t>(it - m.segments.begin());
  if (i0 + n >= m.segments.size()) return stale("its segments are gone or one of them is the active one");
  std::uint64_t old_bytes = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const segment& seg = *m.segments[i0 + j];
    if (seg.base_offset() != cleaned.bases[j] || seg.size() != cleaned.sizes[j]) {
      return stale("segment " + segment_file_stem(cleaned.bases[j]) + ".log changed");
    }
    old_bytes += seg.size();
  }
  if (m.segments[i0 + n]->base_offset() != cleaned.end_offset) return stale("the run's end moved");
  if (auto s = check_cleaned_file(cleaned.path, cleaned.bases[0], cleaned.end_offset, cleaned.report.bytes_after);
      !s) {
    return s.code == errc::corrupt ? stale(s.message) : s;
  }

  // The swap (compaction.hpp). Before the commit a failure changes nothing;
  // after it (once the .swap name exists, durable or not) only open() can
  // finish the job, so the error sticks.
  if (auto s = commit_cleaned(m.dir, cleaned.bases[0]); !s) {
    std::error_code ec;
    const bool renamed = std::filesystem::exists(m.dir / (segment_file_stem(cleaned.bases[0]) + ".log.swap"), ec);
    return renamed || ec ? m.fail(s) : s;
  }
  if (auto s = finish_swap(m.dir, cleaned.bases[0], cleaned.end_offset); !s) return m.fail(s);
  auto seg = segment::open(m.dir, cleaned.bases[0], m.cfg.index_interval_bytes);
  if (!seg) return m.fail(seg.error());
  (*seg)->load_indexes(cleaned.end_offset);
  m.total_bytes = m.total_bytes - old_bytes + (*seg)->size();
  for (std::size_t j = 0; j < n; ++j) m.forget(m.segments[i0 + j].get());
  m.segments.erase(m.segments.begin() + static_cast<std::ptrdiff_t>(i0),
                   m.segments.begin() + static_cast<std::ptrdiff_t>(i0 + n));
  m.segments.insert(m.segments.begin() + static_cast<std::ptrdiff_t>(i0), std::move(*seg));
  return status::ok();
}

std::uint64_t partition_log::log_start_offset() const { return impl_->log_start; }
std::uint64_t partition_log::log_end_offset() const { return impl_->log_end; }
std::uint64_t partition_log::durable_end_offset() const { return impl_->durable_end; }
std::uint64_t partition_log::size_bytes() const { return impl_->total_bytes; }
std::size_t partition_log::segment_count() const { return impl_->segments.size(); }

} // namespace herald::storage
