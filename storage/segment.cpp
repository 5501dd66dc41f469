#include "storage/segment.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <system_error>
#include <vector>

#include "storage/atomic_file.hpp"
#include "storage/crc32c.hpp"
#include "storage/little_endian.hpp"

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

// The offset index file is framed: magic (u32 LE) | CRC32C of the body
// (u32 LE) | body (offset_index.hpp); the time index has its own CRC. Their own checks (sizes, order,
// ranges) let a plausible bad entry through, which would make intact data
// unreadable; the CRC catches any flipped bit, and the file is rebuilt.
constexpr std::uint32_t offset_index_magic = 0x58495248;  // "HRIX"
constexpr std::size_t index_frame_size = 8;

std::vector<char> frame_index(std::uint32_t magic, const std::vector<char>& body) {
  std::vector<char> out(index_frame_size + body.size());
  le::put<std::uint32_t>(out.data(), magic);
  le::put<std::uint32_t>(out.data() + 4, crc32c(body.data(), body.size()));
  std::copy(body.begin(), body.end(), out.begin() + index_frame_size);
  return out;
}

// The body of a framed index file, or nullopt when magic or CRC is wrong.
std::optional<std::span<const char>> unframe_index(std::uint32_t magic, const std::vector<char>& bytes) {
  if (bytes.size() < index_frame_size || le::get<std::uint32_t>(bytes.data()) != magic) return std::nullopt;
  const std::span<const char> body(bytes.data() + index_frame_size, bytes.size() - index_frame_size);
  if (le::get<std::uint32_t>(bytes.data() + 4) != crc32c(body.data(), body.size())) return std::nullopt;
  return body;
}

// A missing index file is rebuilt at open, a stale one would be believed:
// when the new one cannot be written, the old one must not stay.
void write_or_remove(const std::filesystem::path& p, const std::vector<char>& bytes) {
  if (!write_file_atomically(p, bytes)) (void)remove_if_exists(p);
}
void write_or_remove(const std::filesystem::path& p, std::uint32_t magic, const std::vector<char>& body) {
  write_or_remove(p, frame_index(magic, body));
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
  seg->prealloc_limit_ = preallocate_bytes;
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

void segment::preallocate_ahead(std::uint64_t data_end) {
  if (prealloc_limit_ == 0 || data_end == 0) return;
  const std::uint64_t step_end = (data_end + preallocation_step - 1) / preallocation_step * preallocation_step;
  preallocate(std::min(step_end, prealloc_limit_));
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
    if (auto body = unframe_index(offset_index_magic, *bytes)) {
      if (auto loaded = offset_index::decode(*body, interval_, size_)) {
        index_ = std::move(*loaded);
        index_ok = true;
      }
    }
  }
  if (auto bytes = read_whole_file(time_index_path())) {
    if (auto loaded = time_index::decode(*bytes, end_offset - base_)) {  // has its own CRC
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
  if (!index_ok) write_or_remove(index_path(), offset_index_magic, index_.encode());
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

result<std::uint64_t> segment::recover(recovery_report& report, std::uint64_t preallocate_bytes,
                                       std::uint64_t durable_bytes) {
  clear_indexes();
  // Validate what the disk holds, not what the page cache shows: the
  // previous owner of this file (a process that died, or this one before
  // its log failed) may have seen an fsync fail, after which Linux marks the
  // lost pages clean and keeps serving them from the cache, and a fresh
  // descriptor's fsync succeeds. So sync first (if that fails, open fails:
  // nothing here counts as durable), then drop the cached pages and read
  // the file back from the disk. What validates then is durable.
  if (auto s = file_.sync(); !s) return s;
  if (auto s = file_.drop_cache(); !s) return s;
  if (auto sz = file_.size(); sz) {
    file_size_ = *sz;
  } else {
    return sz.error();
  }
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
  if (pos < durable_bytes) {
    // These bytes were fsynced: no crash can have torn them.
    return status{errc::damaged, where(pos) + ": " + (problem.empty() ? std::string("the data ends") : problem) +
                                     ", below the durable watermark at byte " + std::to_string(durable_bytes) +
                                     ": corruption, not a torn write"};
  }

  bool cut = false;
  if (pos < file_end) {
    // Zeros are what preallocation leaves, and what a crash leaves when the
    // file's size reached the disk before its data: the end of the data, not
    // damage, and kept as preallocation. Anything else is a torn or corrupt
    // write: cut from the bad batch on (its zero tail included).
    auto nonzero_end = end_of_nonzero(pos, file_end);
    if (!nonzero_end) return nonzero_end.error();
    if (*nonzero_end > pos) {
      // A torn write leaves nothing valid after it: the batches after a
      // crash's first lost write were never acknowledged. A whole valid
      // batch after the bad one means the bad one was written and then
      // damaged (a flipped bit, a lost sector): corruption, not a torn
      // tail. Cutting would durably delete acknowledged batches, so the
      // bytes stay and the log reports itself damaged.
      auto later = valid_batch_after(pos, *nonzero_end);
      if (!later) return later.error();
      // Unless a page is missing: writeback reorders pages, so a crash can
      // keep unsynced batches after a page (or a sector of a torn page) that
      // never reached the disk: an aligned 512-byte block of zeros between
      // the bad batch and the valid one. That is a torn tail too.
      bool hole = false;
      if (*later) {
        auto h = has_zero_block(pos, **later);
        if (!h) return h.error();
        hole = *h;
      }
      if (*later && !hole) {
        return status{errc::damaged, where(pos) + ": " + problem + ", but a valid batch follows at byte " +
                                         std::to_string(**later) + ": corruption, not a torn write"};
      }
      if (auto s = file_.truncate(pos); !s) return s;
      file_size_ = pos;
      cut = true;
      const std::uint64_t damaged = *nonzero_end - pos;
      report.truncated_bytes += damaged;
      report.detail = "truncated " + std::to_string(damaged) + " bytes at " + where(pos) + ": " + problem;
    }
  }
  // A cut changed the size, which fsync (not fdatasync) is sure to persist.
  if (cut) {
    if (auto s = file_.sync(); !s) return s;
  }
  prealloc_limit_ = preallocate_bytes;
  preallocate_ahead(size_);
  return expected;
}

result<std::optional<std::uint64_t>> segment::valid_batch_after(std::uint64_t from, std::uint64_t to) const {
  // Batches start 8-byte aligned (lengths are multiples of 8). Chunks
  // overlap by a header so that no candidate straddles two of them.
  constexpr std::size_t chunk = std::size_t{1} << 20;
  std::vector<char> buf;
  std::vector<char> batch;
  for (std::uint64_t at = (from + 8) & ~std::uint64_t{7}; at + batch_header_size <= to;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk + batch_header_size, to - at));
    buf.resize(n);
    if (auto s = file_.pread_exact(buf, at); !s) return s;
    for (std::size_t i = 0; i + batch_header_size <= n && i < chunk; i += 8) {
      const batch_header h = decode_batch_header(std::span<const char>(buf).subspan(i));
      if (h.magic != batch_magic || h.length < batch_header_size || h.length % 8 != 0 || at + i + h.length > to) {
        continue;
      }
      batch.resize(h.length);
      if (auto s = file_.pread_exact(batch, at + i); !s) return s;
      if (validate_batch(batch)) return std::optional<std::uint64_t>{at + i};
    }
    at += chunk;
  }
  return std::optional<std::uint64_t>{};
}

result<bool> segment::has_zero_block(std::uint64_t from, std::uint64_t to) const {
  // A sector, not a page: writeback sends pages, but a device may tear one
  // at sector granularity.
  constexpr std::uint64_t block = 512;
  std::vector<char> buf(block);
  for (std::uint64_t at = (from + block - 1) / block * block; at + block <= to; at += block) {
    if (auto s = file_.pread_exact(buf, at); !s) return s;
    if (std::all_of(buf.begin(), buf.end(), [](char c) { return c == 0; })) return true;
  }
  return false;
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
  if (pos + batch.size() > file_size_) preallocate_ahead(pos + batch.size());
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

  write_or_remove(index_path(), offset_index_magic, index_.encode());
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
  prealloc_limit_ = preallocate_bytes;
  preallocate_ahead(size_);
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
