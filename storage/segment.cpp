#include "storage/segment.hpp"

#include <fcntl.h>

#include <cinttypes>
#include <cstdio>
#include <limits>
#include <system_error>
#include <vector>

#include "storage/atomic_file.hpp"

namespace herald::storage {
namespace {

constexpr std::uint64_t u32_max = std::numeric_limits<std::uint32_t>::max();

// The index only holds what fits its u32 fields; partition_log rolls before
// a segment outgrows them, so this only skips damaged headers.
void index_batch(offset_index& index, std::uint64_t segment_base, const batch_header& h, std::uint64_t pos) {
  if (h.base_offset < segment_base || h.base_offset - segment_base > u32_max || pos > u32_max) return;
  index.on_batch(static_cast<std::uint32_t>(h.base_offset - segment_base), static_cast<std::uint32_t>(pos));
}

} // namespace

std::string segment_file_stem(std::uint64_t base_offset) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64, base_offset);
  return buf;
}

std::filesystem::path segment::log_path() const { return dir_ / (segment_file_stem(base_) + ".log"); }
std::filesystem::path segment::index_path() const { return dir_ / (segment_file_stem(base_) + ".index"); }

std::string segment::where(std::uint64_t pos) const {
  return "segment " + segment_file_stem(base_) + ".log byte " + std::to_string(pos);
}

result<std::unique_ptr<segment>> segment::create(const std::filesystem::path& dir, std::uint64_t base_offset,
                                                 std::uint32_t index_interval_bytes) {
  const auto stem = segment_file_stem(base_offset);
  // An index left over from some earlier segment of this name would be
  // trusted once this segment is closed; it must go.
  std::error_code ignored;
  std::filesystem::remove(dir / (stem + ".index"), ignored);
  auto f = file::open(dir / (stem + ".log"), O_RDWR | O_CREAT | O_EXCL);
  if (!f) return f.error();
  return std::unique_ptr<segment>(new segment(dir, base_offset, std::move(*f), 0, index_interval_bytes));
}

result<std::unique_ptr<segment>> segment::open(const std::filesystem::path& dir, std::uint64_t base_offset,
                                               std::uint32_t index_interval_bytes) {
  auto f = file::open(dir / (segment_file_stem(base_offset) + ".log"), O_RDWR);
  if (!f) return f.error();
  auto size = f->size();
  if (!size) return size.error();
  return std::unique_ptr<segment>(new segment(dir, base_offset, std::move(*f), *size, index_interval_bytes));
}

void segment::load_index() {
  if (auto bytes = read_whole_file(index_path())) {
    if (auto loaded = offset_index::decode(*bytes, interval_, size_)) {
      index_ = std::move(*loaded);
      return;
    }
  }
  rebuild_index();
  // Best effort: without the file the next open just rebuilds again.
  (void)write_index();
}

void segment::rebuild_index() {
  index_.clear();
  std::uint64_t pos = 0;
  while (pos < size_) {
    auto h = read_header(pos);
    if (!h) break;  // reads of what follows will report the damage
    index_batch(index_, base_, *h, pos);
    pos += h->length;
  }
}

result<std::uint64_t> segment::recover(recovery_report& report) {
  index_.clear();
  std::uint64_t pos = 0;
  std::uint64_t expected = base_;
  std::string problem;
  std::vector<char> buf;
  while (pos < size_) {
    const std::uint64_t left = size_ - pos;
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
    index_batch(index_, base_, h, pos);
    expected = h.next_offset();
    pos += h.length;
  }

  if (pos < size_) {
    const std::uint64_t cut = size_ - pos;
    if (auto s = file_.truncate(pos); !s) return s;
    size_ = pos;
    report.truncated_bytes += cut;
    report.detail = "truncated " + std::to_string(cut) + " bytes at " + where(pos) + ": " + problem;
  }
  // Whatever survived must be durable before the log reports it as such,
  // even when the previous process died with it still in the page cache.
  if (auto s = file_.datasync(); !s) return s;
  return expected;
}

result<batch_header> segment::read_header(std::uint64_t pos) const {
  if (pos > size_ || size_ - pos < batch_header_size) {
    return status{errc::corrupt, where(pos) + ": truncated batch header"};
  }
  char buf[batch_header_size];
  if (auto s = file_.pread_exact(buf, pos); !s) return status{errc::corrupt, where(pos) + ": " + s.message};
  const batch_header h = decode_batch_header(buf);
  if (h.magic != batch_magic) return status{errc::corrupt, where(pos) + ": bad magic"};
  if (h.length < batch_header_size || h.length % 8 != 0 || h.length > size_ - pos) {
    return status{errc::corrupt, where(pos) + ": bad batch length " + std::to_string(h.length)};
  }
  return h;
}

status segment::read(std::uint64_t pos, std::span<char> out) const {
  if (auto s = file_.pread_exact(out, pos); !s) return {errc::corrupt, where(pos) + ": " + s.message};
  return status::ok();
}

status segment::append(std::span<const char> batch) {
  const std::uint64_t pos = size_;
  if (auto s = file_.pwrite_all(batch, pos); !s) {
    // Leave nothing half-written behind: the log must stay a sequence of
    // whole batches for the next append and for recovery.
    if (auto t = file_.truncate(pos); !t) {
      broken_ = true;
      s.message += "; truncating back also failed: " + t.message;
    }
    return s;
  }
  index_batch(index_, base_, decode_batch_header(batch), pos);
  size_ += batch.size();
  return status::ok();
}

status segment::write_index() const {
  const auto bytes = index_.encode();
  return write_file_atomically(index_path(), bytes);
}

} // namespace herald::storage
