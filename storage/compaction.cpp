#include "storage/compaction.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <memory>

#include <algorithm>
#include <limits>
#include <optional>

#include <xxhash.h>

#include "storage/atomic_file.hpp"
#include "storage/batch_header.hpp"
#include "storage/control_batch.hpp"
#include "storage/file.hpp"
#include "storage/record_batch.hpp"
#include "storage/segment.hpp"

namespace herald::storage {
namespace {

constexpr std::uint64_t u32_max = std::numeric_limits<std::uint32_t>::max();
// Any fixed seed other than 0 (the first hash's) makes the check hash
// independent of the first.
constexpr std::uint64_t check_seed = 0x9e3779b97f4a7c15ull;
constexpr std::size_t write_buffer_bytes = std::size_t{1} << 20;

std::uint64_t xxh3(std::string_view key, std::uint64_t seed) {
  return XXH3_64bits_withSeed(key.data(), key.size(), seed);
}

// a - b, saturating: now_ms and the limits are configuration, not trusted to
// stay clear of overflow.
std::int64_t sub_sat(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_sub_overflow(a, b, &out)) {
    out = b > 0 ? std::numeric_limits<std::int64_t>::min() : std::numeric_limits<std::int64_t>::max();
  }
  return out;
}

status corrupt(std::string what) { return {errc::corrupt, std::move(what)}; }

// The batches of one closed segment file, in order, each validated (header,
// CRC) and checked for offset continuity from the segment's base.
class segment_reader {
public:
  static result<segment_reader> open(const std::filesystem::path& dir, std::uint64_t base) {
    const auto name = segment_file_stem(base) + ".log";
    auto f = file::open(dir / name, O_RDONLY);
    if (!f) return f.error();
    auto size = f->size();
    if (!size) return size.error();
    return segment_reader(std::move(*f), name, base, *size);
  }

  std::uint64_t size() const { return size_; }
  std::uint64_t next_offset() const { return expected_; }

  // The next batch into `batch`; false at the end of the file.
  result<bool> next(std::vector<char>& batch) {
    if (pos_ == size_) return false;
    const auto where = name_ + " byte " + std::to_string(pos_);
    if (size_ - pos_ < batch_header_size) return corrupt(where + ": truncated batch header");
    batch.resize(batch_header_size);
    if (auto s = file_.pread_exact(batch, pos_); !s) return s;
    const batch_header h = decode_batch_header(batch);
    if (h.length < batch_header_size || h.length > size_ - pos_) {
      return corrupt(where + ": bad batch length " + std::to_string(h.length));
    }
    batch.resize(h.length);
    const std::span<char> rest(batch.data() + batch_header_size, h.length - batch_header_size);
    if (auto s = file_.pread_exact(rest, pos_ + batch_header_size); !s) return s;
    if (auto s = validate_batch(batch); !s) return corrupt(where + ": " + s.message);
    if (h.base_offset != expected_) {
      return corrupt(where + ": base offset " + std::to_string(h.base_offset) + ", expected " +
                     std::to_string(expected_));
    }
    expected_ = h.next_offset();
    pos_ += h.length;
    return true;
  }

private:
  segment_reader(file f, std::string name, std::uint64_t base, std::uint64_t size)
      : file_(std::move(f)), name_(std::move(name)), expected_(base), size_(size) {}
  file file_;
  std::string name_;
  std::uint64_t expected_;
  std::uint64_t size_;
  std::uint64_t pos_ = 0;
};

// The output file, written sequentially through a buffer; cut() takes back
// what was written after a position (a segment that did not fit).
class output_writer {
public:
  explicit output_writer(file f) : file_(std::move(f)) {}
  std::uint64_t position() const { return flushed_ + buf_.size(); }
  status write(std::span<const char> bytes) {
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
    return buf_.size() >= write_buffer_bytes ? flush() : status::ok();
  }
  status flush() {
    if (auto s = file_.pwrite_all(buf_, flushed_); !s) return s;
    flushed_ += buf_.size();
    buf_.clear();
    return status::ok();
  }
  status cut(std::uint64_t pos) {
    if (pos >= flushed_) {
      buf_.resize(pos - flushed_);
      return status::ok();
    }
    buf_.clear();
    flushed_ = pos;
    return file_.truncate(pos);
  }
  status sync() { return file_.sync(); }

private:
  file file_;
  std::vector<char> buf_;
  std::uint64_t flushed_ = 0;
};

// Calls fn(batch) for every batch of the segments, in order, checking that
// each segment starts where the one before it ended. Records each
// segment's size and end offset.
template <class Fn>
status for_each_input_batch(const std::filesystem::path& dir, std::span<const std::uint64_t> bases,
                            std::vector<std::uint64_t>* sizes, std::vector<std::uint64_t>* ends, Fn&& fn) {
  std::vector<char> batch;
  for (std::size_t i = 0; i < bases.size(); ++i) {
    auto reader = segment_reader::open(dir, bases[i]);
    if (!reader) return reader.error();
    if (i > 0 && ends && (*ends)[i - 1] != bases[i]) {
      return corrupt("segment " + segment_file_stem(bases[i - 1]) + ".log ends at offset " +
                     std::to_string((*ends)[i - 1]) + " but the next segment starts at " + std::to_string(bases[i]));
    }
    for (;;) {
      auto more = reader->next(batch);
      if (!more) return more.error();
      if (!*more) break;
      if (auto s = fn(batch); !s) return s;
    }
    if (sizes) sizes->push_back(reader->size());
    if (ends) ends->push_back(reader->next_offset());
  }
  return status::ok();
}

status io_error(const std::string& what, const std::error_code& ec) {
  return {errc::io_error, what + ": " + ec.message()};
}

status remove_if_exists(const std::filesystem::path& p) {
  std::error_code ec;
  std::filesystem::remove(p, ec);
  return ec ? io_error("remove " + p.string(), ec) : status::ok();
}

status sync_file(const std::filesystem::path& p) {
  auto f = file::open(p, O_RDONLY);
  if (!f) return f.error();
  return f->sync();
}

// The base of a "<20 digits><suffix>" file name, nullopt for other names.
std::optional<std::uint64_t> base_of(const std::string& name, std::string_view suffix) {
  if (name.size() != 20 + suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  if (!std::all_of(name.begin(), name.begin() + 20, [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return std::stoull(name.substr(0, 20));
}

result<std::vector<std::pair<std::uint64_t, std::string>>> list_dir(const std::filesystem::path& dir) {
  std::vector<std::pair<std::uint64_t, std::string>> out;  // (base, suffix) of segment-named files
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), e; !ec && it != e; it.increment(ec)) {
    const auto name = it->path().filename().string();
    for (const std::string_view suffix : {".log", ".log.cleaned", ".log.swap"}) {
      if (auto b = base_of(name, suffix)) out.emplace_back(*b, std::string(suffix));
    }
  }
  if (ec) return io_error("list " + dir.string(), ec);
  return out;
}

// The offset after the last batch of a file of contiguous batches from
// `base` (headers only); errc::corrupt if a header is damaged.
result<std::uint64_t> scan_end(const std::filesystem::path& path, std::uint64_t base, std::uint64_t* size_out,
                               bool check_crc = false) {
  auto f = file::open(path, O_RDONLY);
  if (!f) return f.error();
  auto size = f->size();
  if (!size) return size.error();
  if (size_out) *size_out = *size;
  std::uint64_t pos = 0;
  std::uint64_t expected = base;
  char buf[batch_header_size];
  std::vector<char> batch;
  while (pos < *size) {
    if (*size - pos < batch_header_size) return corrupt(path.string() + ": truncated batch header");
    if (auto s = f->pread_exact(buf, pos); !s) return s;
    const batch_header h = decode_batch_header(buf);
    if (h.magic != batch_magic || h.length < batch_header_size || h.length % 8 != 0 || h.length > *size - pos ||
        h.base_offset != expected) {
      return corrupt(path.string() + " byte " + std::to_string(pos) + ": damaged batch header");
    }
    if (check_crc) {
      batch.resize(h.length);
      if (auto s = f->pread_exact(batch, pos); !s) return s;
      if (auto s = validate_batch(batch); !s) {
        return corrupt(path.string() + " byte " + std::to_string(pos) + ": " + s.message);
      }
    }
    expected = h.next_offset();
    pos += h.length;
  }
  return expected;
}

} // namespace

status check_cleaned_file(const std::filesystem::path& path, std::uint64_t base, std::uint64_t end,
                          std::uint64_t size) {
  std::uint64_t actual = 0;
  // Every batch's CRC too: the swap deletes the only other copy of these
  // records, so a cleaned file damaged between writing and committing (a
  // bad sector, a bug in the rewrite) must not replace sound segments.
  auto got = scan_end(path, base, &actual, /*check_crc=*/true);
  if (!got) return got.error();
  if (*got != end || actual != size) {
    return corrupt(path.string() + " ends at offset " + std::to_string(*got) + " after " + std::to_string(actual) +
                   " bytes; expected offset " + std::to_string(end) + " after " + std::to_string(size));
  }
  return status::ok();
}

status commit_cleaned(const std::filesystem::path& dir, std::uint64_t base) {
  const auto stem = segment_file_stem(base);
  if (auto s = sync_file(dir / (stem + ".log.cleaned")); !s) return s;
  if (auto s = sync_directory(dir); !s) return s;
  std::error_code ec;
  std::filesystem::rename(dir / (stem + ".log.cleaned"), dir / (stem + ".log.swap"), ec);
  if (ec) return io_error("rename " + stem + ".log.cleaned", ec);
  return sync_directory(dir);
}

status finish_swap(const std::filesystem::path& dir, std::uint64_t base, std::uint64_t end) {
  auto files = list_dir(dir);
  if (!files) return files.error();
  for (const auto& [x, suffix] : *files) {
    if (suffix != ".log" || x <= base || x >= end) continue;
    for (const char* ext : {".log", ".index", ".timeindex"}) {
      if (auto s = remove_if_exists(dir / (segment_file_stem(x) + ext)); !s) return s;
    }
  }
  const auto stem = segment_file_stem(base);
  if (auto s = remove_if_exists(dir / (stem + ".index")); !s) return s;
  if (auto s = remove_if_exists(dir / (stem + ".timeindex")); !s) return s;
  if (auto s = sync_directory(dir); !s) return s;
  std::error_code ec;
  std::filesystem::rename(dir / (stem + ".log.swap"), dir / (stem + ".log"), ec);
  if (ec) return io_error("rename " + stem + ".log.swap", ec);
  return sync_directory(dir);
}

status recover_cleaned_files(const std::filesystem::path& dir) {
  auto files = list_dir(dir);
  if (!files) return files.error();
  for (const auto& [base, suffix] : *files) {
    const auto path = dir / (segment_file_stem(base) + suffix);
    if (suffix == ".log.cleaned") {
      if (auto s = remove_if_exists(path); !s) return s;
    } else if (suffix == ".log.swap") {
      auto end = scan_end(path, base, nullptr);
      if (!end) return status{end.error().code, "committed compaction: " + end.error().message};
      if (auto s = finish_swap(dir, base, *end); !s) return s;
    }
  }
  return status::ok();
}

key_offset_map::key_offset_map(hash_fn hash) : hash_(hash ? hash : &xxh3) {}

void key_offset_map::add(std::string_view key, std::uint64_t offset) {
  const std::uint64_t check = hash_(key, check_seed);
  auto [it, inserted] = slots_.try_emplace(hash_(key, 0), slot{offset, check, false});
  if (inserted) return;
  slot& s = it->second;
  if (!s.collided && s.check != check) {
    s.collided = true;
    ++collisions_;
  }
  s.latest = std::max(s.latest, offset);
}

bool key_offset_map::collided(std::string_view key) const {
  const auto it = slots_.find(hash_(key, 0));
  return it != slots_.end() && it->second.collided;
}

void key_offset_map::add_exact(std::string_view key, std::uint64_t offset) {
  auto [it, inserted] = exact_.try_emplace(std::string(key), offset);
  if (!inserted) it->second = std::max(it->second, offset);
}

bool key_offset_map::is_latest(std::string_view key, std::uint64_t offset) const {
  const auto it = slots_.find(hash_(key, 0));
  if (it == slots_.end()) return true;
  if (!it->second.collided) return offset >= it->second.latest;
  const auto e = exact_.find(std::string(key));
  return e == exact_.end() || offset >= e->second;
}

namespace {

// flock on <dir>/cleaner.lock for one compact_segments() call: a worker
// that outlived its partition actor's restart must not write the same
// .cleaned file beside the new actor's worker (both open it with O_TRUNC).
// flock locks belong to the open file description, so two workers in one
// process exclude each other too; the kernel drops it if the process dies.
class cleaner_lock {
public:
  static result<std::unique_ptr<cleaner_lock>> acquire(const std::filesystem::path& dir) {
    const auto path = dir / "cleaner.lock";
    auto f = file::open(path, O_RDWR | O_CREAT);
    if (!f) return f.error();
    int rc;
    while ((rc = ::flock(f->fd(), LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
      if (errno == EWOULDBLOCK) {
        return status{errc::locked, "another cleaner is working on " + dir.string() + " (" + path.string() + ")"};
      }
      return make_errno_status(errno, "flock " + path.string());
    }
    return std::unique_ptr<cleaner_lock>(new cleaner_lock(std::move(*f)));
  }

private:
  explicit cleaner_lock(file f) : file_(std::move(f)) {}
  file file_;  // closing it releases the lock
};

} // namespace

result<cleaned_segments> compact_segments(const std::filesystem::path& dir, std::span<const std::uint64_t> bases,
                                          const compaction_policy& policy, std::uint64_t max_output_bytes,
                                          const std::function<bool()>& cancelled) {
  if (bases.empty()) return status{errc::invalid_argument, "no segments to clean"};
  const auto stop_requested = [&cancelled] { return cancelled && cancelled(); };
  const status cancel{errc::cancelled, "cleaning " + dir.string() + " cancelled: its partition stopped"};
  if (stop_requested()) return cancel;
  auto lock = cleaner_lock::acquire(dir);
  if (!lock) return lock.error();
  const std::int64_t young_after = sub_sat(policy.now_ms, policy.min_lag_ms);
  const std::int64_t tombstone_cutoff = sub_sat(policy.now_ms, policy.tombstone_retention_ms);

  // Pass 1: contiguity, each segment's end, the first young batch, and the
  // latest offset of each key (records of control batches are no keys).
  key_offset_map keys;
  std::vector<std::uint64_t> sizes;
  std::vector<std::uint64_t> ends;
  std::uint64_t young_from = std::numeric_limits<std::uint64_t>::max();
  status s = for_each_input_batch(dir, bases, &sizes, &ends, [&](std::span<const char> batch) {
    if (stop_requested()) return cancel;
    const batch_header h = decode_batch_header(batch);
    if (h.is_control()) return status::ok();  // the broker's timestamps, and no keys
    if (h.max_timestamp > young_after) young_from = std::min(young_from, h.base_offset);
    if (!policy.compact_keys) return status::ok();
    return for_each_record(batch, 0, [&](record&& r) {
      if (r.key) keys.add(*r.key, r.offset);
    });
  });
  if (!s) return s;
  if (keys.needs_exact()) {
    s = for_each_input_batch(dir, bases, nullptr, nullptr, [&](std::span<const char> batch) {
      if (stop_requested()) return cancel;
      if (is_control_batch(batch)) return status::ok();
      return for_each_record(batch, 0, [&](record&& r) {
        if (r.key && keys.collided(*r.key)) keys.add_exact(*r.key, r.offset);
      });
    });
    if (!s) return s;
  }

  // How many segments fit: by offsets here, by output bytes while writing.
  std::size_t count = 1;
  while (count < bases.size() && ends[count] - 1 - bases[0] <= u32_max) ++count;
  const std::uint64_t byte_limit = std::min(max_output_bytes, u32_max);

  cleaned_segments out;
  out.path = dir / (segment_file_stem(bases[0]) + ".log.cleaned");
  auto f = file::open(out.path, O_WRONLY | O_CREAT | O_TRUNC);
  if (!f) return f.error();
  output_writer writer(std::move(*f));
  auto fail = [&](status error) -> result<cleaned_segments> {
    std::error_code ec;
    std::filesystem::remove(out.path, ec);
    return error;
  };

  // Pass 2: every batch, copied or rewritten, segment by segment, until one
  // would take the output past the byte limit. The first segment is always
  // taken: it was a segment, and its cleaned batches are smaller, except
  // that a rewrite compresses at the codec's default level, which may be
  // worse than the producer's; only the u32 positions of the indexes are a
  // hard limit for it.
  std::vector<char> batch;
  std::vector<bool> keep;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t start = writer.position();
    compaction_report seg;
    auto reader = segment_reader::open(dir, bases[i]);
    if (!reader) return fail(reader.error());
    bool fits = true;
    for (;;) {
      if (stop_requested()) return fail(cancel);
      auto more = reader->next(batch);
      if (!more) return fail(more.error());
      if (!*more) break;
      const batch_header h = decode_batch_header(batch);
      std::optional<std::vector<char>> rewritten;
      if (!h.is_control()) {
        const bool by_key = policy.compact_keys && h.base_offset < young_from;
        std::uint64_t removed = 0;
        keep.clear();
        s = for_each_record(batch, 0, [&](record&& r) {
          bool k = !expired(r, policy.now_ms);
          if (k && by_key && r.key) {
            k = keys.is_latest(*r.key, r.offset) && !(r.tombstone && h.max_timestamp < tombstone_cutoff);
          }
          removed += k ? 0 : 1;
          keep.push_back(k);
        });
        if (!s) return fail(corrupt("batch at offset " + std::to_string(h.base_offset) + ": " + s.message));
        if (removed > 0) {
          auto filtered = filter_batch(batch, keep);
          if (!filtered) return fail(filtered.error());
          rewritten = std::move(*filtered);
          seg.records_removed += removed;
          ++seg.batches_rewritten;
        }
      }
      if (auto w = writer.write(rewritten ? std::span<const char>(*rewritten) : std::span<const char>(batch)); !w) {
        return fail(w);
      }
      ++seg.batches;
      if (writer.position() > (i == 0 ? u32_max : byte_limit)) {
        if (i == 0) return fail({errc::invalid_argument, "segment " + segment_file_stem(bases[0]) +
                                                             ".log cleans to more than 4 GiB"});
        fits = false;
        break;
      }
    }
    if (!fits) {
      if (auto c = writer.cut(start); !c) return fail(c);
      break;
    }
    out.bases.push_back(bases[i]);
    out.sizes.push_back(sizes[i]);
    out.end_offset = ends[i];
    out.report.segments_merged++;
    out.report.batches += seg.batches;
    out.report.batches_rewritten += seg.batches_rewritten;
    out.report.records_removed += seg.records_removed;
    out.report.bytes_before += sizes[i];
  }
  out.report.bytes_after = writer.position();
  // Synced here, off the owner's thread: replace_segments() syncs it again,
  // which is then cheap.
  if (auto w = writer.flush(); !w) return fail(w);
  if (auto w = writer.sync(); !w) return fail(w);
  return out;
}

} // namespace herald::storage
