#include "storage/segment.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <system_error>
#include <vector>

#include "storage/atomic_file.hpp"

namespace herald::storage {
namespace {

constexpr std::uint64_t u32_max = std::numeric_limits<std::uint32_t>::max();

status corrupt(std::string what) { return {errc::corrupt, std::move(what)}; }

status remove_if_exists(const std::filesystem::path& p) {
  std::error_code ec;
  std::filesystem::remove(p, ec);
  if (ec) return {errc::io_error, "remove " + p.string() + ": " + ec.message()};
  return status::ok();
}

// A missing index file is rebuilt at open, a stale one would be believed:
// when the new one cannot be written, the old one must not stay.
void write_or_remove(const std::filesystem::path& p, const std::vector<char>& bytes) {
  if (!write_file_atomically(p, bytes)) (void)remove_if_exists(p);
}

} // namespace

std::string segment_file_stem(std::uint64_t base_offset) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64, base_offset);
  return buf;
}

std::filesystem::path segment::log_path() const { return dir_ / (segment_file_stem(base_) + ".log"); }
std::filesystem::path segment::index_path() const { return dir_ / (segment_file_stem(base_) + ".index"); }
std::filesystem::path segment::time_index_path() const { return dir_ / (segment_file_stem(base_) + ".timeindex"); }

std::string segment::where(std::uint64_t pos) const {
  return "segment " + segment_file_stem(base_) + ".log byte " + std::to_string(pos);
}

result<std::unique_ptr<segment>> segment::create(const std::filesystem::path& dir, std::uint64_t base_offset,
                                                 std::uint32_t index_interval_bytes, std::uint64_t preallocate_bytes) {
  const auto stem = segment_file_stem(base_offset);
  // Index files left over from some earlier segment of this name would be
  // trusted once this segment is closed; they must go.
  (void)remove_if_exists(dir / (stem + ".index"));
  (void)remove_if_exists(dir / (stem + ".timeindex"));
  auto f = file::open(dir / (stem + ".log"), O_RDWR | O_CREAT | O_EXCL);
  if (!f) return f.error();
  std::unique_ptr<segment> seg(new segment(dir, base_offset, std::move(*f), 0, index_interval_bytes));
  seg->preallocate(preallocate_bytes);
  return seg;
}

result<std::unique_ptr<segment>> segment::open(const std::filesystem::path& dir, std::uint64_t base_offset,
                                               std::uint32_t index_interval_bytes) {
  auto f = file::open(dir / (segment_file_stem(base_offset) + ".log"), O_RDWR);
  if (!f) return f.error();
  auto size = f->size();
  if (!size) return size.error();
  return std::unique_ptr<segment>(new segment(dir, base_offset, std::move(*f), *size, index_interval_bytes));
}

void segment::preallocate(std::uint64_t bytes) {
  if (bytes <= file_size_) return;
  // Best effort: without it the file grows as it is written, which is only
  // slower. A failure may still have extended the file, so ask for its size.
  (void)file_.allocate(bytes);
  if (auto s = file_.size()) file_size_ = std::max(*s, size_);
}

void segment::clear_indexes() {
  index_.clear();
  time_index_.clear();
  max_timestamp_ = no_timestamp;
  last_relative_offset_ = 0;
}

void segment::index_batch(const batch_header& h, std::uint64_t pos) {
  max_timestamp_ = std::max(max_timestamp_, h.max_timestamp);
  // The indexes only hold what fits their u32 fields; partition_log rolls
  // before a segment outgrows them, so this only skips damaged headers.
  if (h.base_offset < base_ || h.base_offset - base_ > u32_max || pos > u32_max) return;
  const auto rel = static_cast<std::uint32_t>(h.base_offset - base_);
  last_relative_offset_ = rel;
  if (index_.on_batch(rel, static_cast<std::uint32_t>(pos))) time_index_.append({max_timestamp_, rel});
}

bool segment::rebuild_indexes() {
  clear_indexes();
  std::uint64_t pos = 0;
  std::uint64_t expected = base_;
  while (pos < size_) {
    auto h = read_header(pos);
    if (!h || h->base_offset != expected) {
      // Reads of what follows will report the damage; what it hides might
      // be recent, so the segment must not look old to retention.
      max_timestamp_ = unknown_timestamp;
      return false;
    }
    index_batch(*h, pos);
    expected = h->next_offset();
    pos += h->length;
  }
  return true;
}

void segment::load_indexes(std::uint64_t end_offset) {
  bool index_ok = false;
  bool time_ok = false;
  if (auto bytes = read_whole_file(index_path())) {
    if (auto loaded = offset_index::decode(*bytes, interval_, size_)) {
      index_ = std::move(*loaded);
      index_ok = true;
    }
  }
  if (auto bytes = read_whole_file(time_index_path())) {
    if (auto loaded = time_index::decode(*bytes, end_offset - base_)) {
      time_index_ = std::move(*loaded);
      time_ok = true;
    }
  }
  if (index_ok && time_ok) {
    // The closing entry holds the segment's maximum (time_index.hpp).
    max_timestamp_ = time_index_.entries().empty() ? no_timestamp : time_index_.entries().back().max_timestamp;
    return;
  }
  const bool complete = rebuild_indexes();
  // Best effort: without the files the next open just rebuilds again.
  if (!index_ok) write_or_remove(index_path(), index_.encode());
  if (!time_ok && complete) {
    if (time_index_.entries().empty() || time_index_.entries().back().max_timestamp < max_timestamp_) {
      time_index_.append({max_timestamp_, last_relative_offset_});
    }
    write_or_remove(time_index_path(), time_index_.encode());
  }
}

result<std::uint64_t> segment::end_of_nonzero(std::uint64_t from, std::uint64_t to) const {
  // SEEK_DATA skips what the file system knows to be unwritten (holes and
  // preallocated extents) without reading it; where it is not supported it
  // returns `pos` itself and everything is read.
  std::vector<char> buf(std::size_t{64} << 10);
  std::uint64_t last = from;
  std::uint64_t pos = from;
  while (pos < to) {
    const off_t data = ::lseek(file_.fd(), static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;
    if (data >= 0 && static_cast<std::uint64_t>(data) > pos) pos = static_cast<std::uint64_t>(data);
    if (pos >= to) break;
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), to - pos));
    if (auto s = file_.pread_exact(std::span<char>(buf.data(), n), pos); !s) return s;
    for (std::size_t i = n; i > 0; --i) {
      if (buf[i - 1] != 0) {
        last = pos + i;
        break;
      }
    }
    pos += n;
  }
  return last;
}

result<std::uint64_t> segment::recover(recovery_report& report, std::uint64_t preallocate_bytes) {
  clear_indexes();
  const std::uint64_t file_end = file_size_;
  std::uint64_t pos = 0;
  std::uint64_t expected = base_;
  std::string problem;
  std::vector<char> buf;
  while (pos < file_end) {
    const std::uint64_t left = file_end - pos;
    if (left < batch_header_size) {
      problem = "torn batch header (" + std::to_string(left) + " bytes)";
      break;
    }
    buf.resize(batch_header_size);
    if (auto s = file_.pread_exact(buf, pos); !s) return s;
    const batch_header h = decode_batch_header(buf);
    if (h.magic != batch_magic) {
      problem = "bad magic";
      break;
    }
    if (h.length < batch_header_size || h.length % 8 != 0) {
      problem = "bad length " + std::to_string(h.length);
      break;
    }
    if (h.length > left) {
      problem = "torn batch: " + std::to_string(h.length) + " bytes long, " + std::to_string(left) + " on disk";
      break;
    }
    buf.resize(h.length);
    if (auto s = file_.pread_exact(buf, pos); !s) return s;
    if (auto s = validate_batch(buf); !s) {
      problem = s.message;
      break;
    }
    if (h.base_offset != expected) {
      problem = "base offset " + std::to_string(h.base_offset) + ", expected " + std::to_string(expected);
      break;
    }
    ++report.batches_validated;
    index_batch(h, pos);
    expected = h.next_offset();
    pos += h.length;
  }
  size_ = pos;

  bool cut = false;
  if (pos < file_end) {
    // Zeros are what preallocation leaves, and what a crash leaves when the
    // file's size reached the disk before its data: the end of the data, not
    // damage, and kept as preallocation. Anything else is a torn or corrupt
    // write: cut from the bad batch on (its zero tail included).
    auto nonzero_end = end_of_nonzero(pos, file_end);
    if (!nonzero_end) return nonzero_end.error();
    if (*nonzero_end > pos) {
      if (auto s = file_.truncate(pos); !s) return s;
      file_size_ = pos;
      cut = true;
      const std::uint64_t damaged = *nonzero_end - pos;
      report.truncated_bytes += damaged;
      report.detail = "truncated " + std::to_string(damaged) + " bytes at " + where(pos) + ": " + problem;
    }
  }
  // Whatever survived must be durable before the log reports it as such,
  // even when the previous process died with it still in the page cache; a
  // cut changed the size, which fsync (not fdatasync) is sure to persist.
  if (auto s = cut ? file_.sync() : file_.datasync(); !s) return s;
  preallocate(preallocate_bytes);
  return expected;
}

result<batch_header> segment::read_header(std::uint64_t pos) const {
  if (pos > size_ || size_ - pos < batch_header_size) {
    return status{errc::corrupt, where(pos) + ": truncated batch header"};
  }
  char buf[batch_header_size];
  if (auto s = read(pos, buf); !s) return s;
  const batch_header h = decode_batch_header(buf);
  if (h.magic != batch_magic) return status{errc::corrupt, where(pos) + ": bad magic"};
  if (h.length < batch_header_size || h.length % 8 != 0 || h.length > size_ - pos) {
    return status{errc::corrupt, where(pos) + ": bad batch length " + std::to_string(h.length)};
  }
  return h;
}

status segment::read(std::uint64_t pos, std::span<char> out) const {
  // A failing read (EIO) is the disk's trouble, not proof of bad bytes: only
  // a file that ends early is corruption. Callers that repair corrupt logs
  // must not act on a disk that merely fails to read.
  auto got = file_.pread_some(out, pos);
  if (!got) return got.error();
  if (*got < out.size()) return {errc::corrupt, where(pos) + ": file ends " + std::to_string(out.size() - *got) +
                                                   " bytes early"};
  return status::ok();
}

result<std::optional<segment::located_batch>> segment::locate(std::uint64_t offset) const {
  const auto start = index_.lookup(offset - base_);
  std::uint64_t pos = start.position;
  std::uint64_t expected = base_ + start.relative_offset;
  while (pos < size_) {
    auto h = read_header(pos);
    if (!h) return h.error();
    // base_offset is outside the CRC, so continuity is what vouches for it.
    if (h->base_offset != expected) {
      return corrupt(where(pos) + ": base offset " + std::to_string(h->base_offset) + ", expected " +
                     std::to_string(expected));
    }
    if (h->last_offset() >= offset) return std::optional<located_batch>{located_batch{pos, *h}};
    expected = h->next_offset();
    pos += h->length;
  }
  return std::optional<located_batch>{};
}

result<std::optional<std::uint64_t>> segment::find_timestamp(std::int64_t timestamp, std::uint64_t min_offset) const {
  std::uint64_t pos = 0;
  std::uint64_t expected = base_;
  // Start at the later of the two places known to be too early.
  auto skip_to = [&](std::uint64_t relative_offset) {
    const auto e = index_.lookup(relative_offset);
    if (e.position > pos) {
      pos = e.position;
      expected = base_ + e.relative_offset;
    }
  };
  if (const auto e = time_index_.last_before(timestamp)) skip_to(e->relative_offset);
  if (min_offset > base_) skip_to(min_offset - base_);
  while (pos < size_) {
    auto h = read_header(pos);
    if (!h) return h.error();
    if (h->base_offset != expected) {
      return corrupt(where(pos) + ": base offset " + std::to_string(h->base_offset) + ", expected " +
                     std::to_string(expected));
    }
    if (h->last_offset() >= min_offset && h->max_timestamp >= timestamp) {
      return std::optional<std::uint64_t>{h->base_offset};
    }
    expected = h->next_offset();
    pos += h->length;
  }
  return std::optional<std::uint64_t>{};
}

status segment::append(std::span<const char> batch) {
  const std::uint64_t pos = size_;
  if (auto s = file_.pwrite_all(batch, pos); !s) {
    // Leave nothing half-written behind: the log must stay a sequence of
    // whole batches for the next append and for recovery.
    if (auto t = file_.truncate(pos); !t) {
      broken_ = true;
      s.message += "; truncating back also failed: " + t.message;
    } else {
      file_size_ = pos;
    }
    return s;
  }
  index_batch(decode_batch_header(batch), pos);
  size_ += batch.size();
  file_size_ = std::max(file_size_, size_);
  return status::ok();
}

status segment::close(bool unsynced) {
  // The file system's view of the size, not ours: a failed preallocation may
  // have extended the file without telling.
  auto actual = file_.size();
  if (!actual) return actual.error();
  if (*actual != size_) {
    if (auto s = file_.truncate(size_); !s) return s;
    file_size_ = size_;
    if (auto s = file_.sync(); !s) return s;
  } else if (unsynced) {
    if (auto s = file_.datasync(); !s) return s;
  }

  write_or_remove(index_path(), index_.encode());
  if (max_timestamp_ == unknown_timestamp) {
    (void)remove_if_exists(time_index_path());
    return status::ok();
  }
  if (size_ > 0 && (time_index_.entries().empty() || time_index_.entries().back().max_timestamp < max_timestamp_)) {
    time_index_.append({max_timestamp_, last_relative_offset_});
  }
  write_or_remove(time_index_path(), time_index_.encode());
  return status::ok();
}

void segment::trim() {
  if (broken_) return;
  if (auto actual = file_.size(); actual && *actual != size_) {
    if (file_.truncate(size_)) file_size_ = size_;
  }
}

status segment::cut(std::uint64_t pos, std::uint64_t preallocate_bytes) {
  if (auto s = file_.truncate(pos); !s) return s;
  size_ = pos;
  file_size_ = pos;
  // Recovery would otherwise find the removed batches again: they are
  // valid, with the very offsets the log is about to reuse.
  if (auto s = file_.sync(); !s) return s;
  if (auto s = remove_if_exists(index_path()); !s) return s;
  if (auto s = remove_if_exists(time_index_path()); !s) return s;
  (void)rebuild_indexes();
  preallocate(preallocate_bytes);
  return status::ok();
}

status segment::remove_files() {
  if (auto s = remove_if_exists(log_path()); !s) return s;
  // Leftover index files are harmless: no .log names them, and create()
  // removes them before a segment of that name exists again.
  (void)remove_if_exists(index_path());
  (void)remove_if_exists(time_index_path());
  return status::ok();
}

} // namespace herald::storage
