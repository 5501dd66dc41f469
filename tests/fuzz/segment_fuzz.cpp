// Fuzz target: segment recovery (storage/partition_log.hpp, segment.hpp).
//
// The input (for odd sizes, with its batch chain re-sealed: see below)
// becomes the only (so the active) segment file of a partition
// directory, named after the base offset in the input's first 8 bytes when
// that is below 2^62 (so the first batch can pass the continuity check at
// any offset), else 00000000000000000000.log. partition_log::open() recovers
// it; then:
//  - open succeeds, log_start is the file's base, log_end >= log_start;
//  - reading the whole log gives back a prefix of the input, followed in the
//    input by the bytes recovery reports cutting and then only zeros
//    (preallocation); as batches that each pass validate_batch() with
//    contiguous offsets, as many as recovery reports; reading at each
//    batch's first and last offset starts at it;
//  - decoding records never crashes (recovery checks CRCs, not payloads);
//  - an append afterwards gets offset log_end and reads back as written;
//  - a reopen finds nothing more to cut and the same log_end.
// The directory lives under $HERALD_FUZZ_TMPDIR, else /dev/shm (tmpfs, so the
// fsyncs recovery does are cheap), else /tmp.

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "storage/batch_header.hpp"
#include "storage/partition_log.hpp"
#include "storage/record_batch.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace herald::storage;
namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t unlimited = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t no_upto = std::numeric_limits<std::uint64_t>::max();

// One scratch directory per process, removed at exit.
struct scratch {
  fs::path root;
  scratch() {
    const char* env = std::getenv("HERALD_FUZZ_TMPDIR");
    fs::path base = env != nullptr ? fs::path(env) : fs::path("/dev/shm");
    std::error_code ec;
    if (env == nullptr && !fs::is_directory(base, ec)) base = fs::temp_directory_path();
    std::string tmpl = (base / "herald-segment-fuzz-XXXXXX").string();
    HERALD_FUZZ_CHECK(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp %s failed", tmpl.c_str());
    root = tmpl;
  }
  ~scratch() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

fs::path fresh_dir() {
  static scratch s;
  const fs::path dir = s.root / "p";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  return dir;
}

std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

std::string stem(std::uint64_t base) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020llu", static_cast<unsigned long long>(base));
  return buf;
}

std::unique_ptr<partition_log> open_log(const fs::path& dir, const log_config& cfg) {
  auto log = partition_log::open(dir, cfg);
  HERALD_FUZZ_CHECK(log.has_value(), "open failed: %s", log.has_value() ? "" : log.error().message.c_str());
  return std::move(*log);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size) {
  // Inputs of odd size get their batch chain repaired: from the start, while
  // a header with a sane length fits, its magic is set and its CRC
  // recomputed. Mutations behind the CRC then survive, so recovery's checks
  // of lengths, offsets and counts, and reads of what it keeps, see them.
  std::vector<std::uint8_t> bytes(input, input + size);
  if (size % 2 == 1) {
    std::size_t pos = 0;
    while (size - pos >= batch_header_size) {
      const std::span<char> rest(reinterpret_cast<char*>(bytes.data()) + pos, size - pos);
      batch_header h = decode_batch_header(rest);
      if (h.length < batch_header_size || h.length % 8 != 0 || h.length > rest.size()) break;
      h.magic = batch_magic;
      encode_batch_header(h, rest);
      seal_batch(rest.first(h.length));
      pos += h.length;
    }
  }
  const std::uint8_t* data = bytes.data();

  const fs::path dir = fresh_dir();
  std::uint64_t base = size >= 8 ? get_u64(data) : 0;
  if (base >= (std::uint64_t{1} << 62)) base = 0;
  {
    std::ofstream out(dir / (stem(base) + ".log"), std::ios::binary);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    HERALD_FUZZ_CHECK(out.good(), "cannot write the segment");
  }

  log_config cfg;
  cfg.segment_bytes = 4096;  // small, so the append after recovery may roll
  cfg.index_interval_bytes = 128;
  auto log = open_log(dir, cfg);

  const recovery_report& rep = log->recovery();
  const std::uint64_t start = log->log_start_offset();
  const std::uint64_t end = log->log_end_offset();
  HERALD_FUZZ_CHECK(start == base, "log_start %llu, segment base %llu", static_cast<unsigned long long>(start),
                    static_cast<unsigned long long>(base));
  HERALD_FUZZ_CHECK(end >= start, "log_end %llu < log_start %llu", static_cast<unsigned long long>(end),
                    static_cast<unsigned long long>(start));
  HERALD_FUZZ_CHECK(log->durable_end_offset() == end, "recovered data is not all durable");
  HERALD_FUZZ_CHECK(rep.segments == 1, "%llu segments", static_cast<unsigned long long>(rep.segments));
  HERALD_FUZZ_CHECK(log->segment_count() == 1, "%zu segments", log->segment_count());

  // The whole log, as recovery kept it: a prefix of the input, then the
  // damage it reports cutting, then nothing but zeros (preallocated space is
  // not damage, partition_log.hpp).
  auto all = log->read(start, unlimited, no_upto);
  HERALD_FUZZ_CHECK(all.has_value(), "read of the recovered log failed: %s",
                    all.has_value() ? "" : all.error().message.c_str());
  const std::size_t kept = all->bytes.size();
  HERALD_FUZZ_CHECK(kept <= size && (kept == 0 || std::memcmp(all->bytes.data(), data, kept) == 0),
                    "read %zu bytes that are not a prefix of the %zu-byte segment", kept, size);
  HERALD_FUZZ_CHECK(rep.truncated_bytes <= size - kept, "cut %llu bytes, %zu after the kept ones",
                    static_cast<unsigned long long>(rep.truncated_bytes), size - kept);
  const std::size_t damage_end = kept + rep.truncated_bytes;
  for (std::size_t i = damage_end; i < size; ++i) {
    HERALD_FUZZ_CHECK(data[i] == 0, "non-zero byte %zu after the %llu cut bytes at %zu", i,
                      static_cast<unsigned long long>(rep.truncated_bytes), kept);
  }
  HERALD_FUZZ_CHECK(rep.truncated_bytes == 0 || data[damage_end - 1] != 0, "cut bytes end in a zero");
  HERALD_FUZZ_CHECK((rep.truncated_bytes == 0) == rep.detail.empty(), "detail '%s' with %llu bytes cut",
                    rep.detail.c_str(), static_cast<unsigned long long>(rep.truncated_bytes));
  HERALD_FUZZ_CHECK(log->size_bytes() == kept, "size %llu, kept %zu",
                    static_cast<unsigned long long>(log->size_bytes()), kept);
  HERALD_FUZZ_CHECK((kept == 0) == (end == start), "kept %zu bytes but offsets [%llu, %llu)", kept,
                    static_cast<unsigned long long>(start), static_cast<unsigned long long>(end));
  HERALD_FUZZ_CHECK(all->next_offset == end, "read ends at %llu, log at %llu",
                    static_cast<unsigned long long>(all->next_offset), static_cast<unsigned long long>(end));

  std::uint64_t expected = start;
  std::uint64_t batches = 0;
  std::int64_t first_max_ts = 0;
  const status split = for_each_batch(all->bytes, [&](std::span<const char> batch) {
    const batch_header h = decode_batch_header(batch);
    HERALD_FUZZ_CHECK(validate_batch(batch).is_ok(), "recovered batch fails validation");
    HERALD_FUZZ_CHECK(h.base_offset == expected, "batch at %llu, expected %llu",
                      static_cast<unsigned long long>(h.base_offset), static_cast<unsigned long long>(expected));
    if (batches == 0) first_max_ts = h.max_timestamp;
    ++batches;
    expected = h.next_offset();
    // Recovery vouches for CRCs only; the payload may still be refused, but
    // never crash a reader.
    const status deep = validate_batch_deep(batch);
    const status each = for_each_record(batch, 0, [](record&&) {});
    HERALD_FUZZ_CHECK(!deep || each, "deep-validated batch does not decode: %s", each.message.c_str());
    for (const std::uint64_t at : {h.base_offset, h.last_offset()}) {
      auto one = log->read(at, 1, no_upto);
      HERALD_FUZZ_CHECK(one.has_value(), "read at %llu failed: %s", static_cast<unsigned long long>(at),
                        one.has_value() ? "" : one.error().message.c_str());
      HERALD_FUZZ_CHECK(one->bytes.size() == batch.size() &&
                            std::memcmp(one->bytes.data(), batch.data(), batch.size()) == 0,
                        "read at %llu does not give its batch", static_cast<unsigned long long>(at));
    }
  });
  HERALD_FUZZ_CHECK(split.is_ok(), "recovered log does not split: %s", split.message.c_str());
  HERALD_FUZZ_CHECK(expected == end, "batches end at %llu, log at %llu", static_cast<unsigned long long>(expected),
                    static_cast<unsigned long long>(end));
  HERALD_FUZZ_CHECK(batches == rep.batches_validated, "%llu batches read, recovery validated %llu",
                    static_cast<unsigned long long>(batches),
                    static_cast<unsigned long long>(rep.batches_validated));
  auto ts = log->offset_for_timestamp(std::numeric_limits<std::int64_t>::min());
  HERALD_FUZZ_CHECK(ts.has_value() && *ts == (batches > 0 ? start : end), "offset_for_timestamp(min) is wrong");
  if (batches > 0) {
    auto first = log->offset_for_timestamp(first_max_ts);
    HERALD_FUZZ_CHECK(first.has_value() && *first == start, "offset_for_timestamp(first batch) is wrong");
  }

  // The log takes appends after recovery.
  batch_builder b;
  b.add(1, std::string_view("k"), "after recovery");
  b.add(2, std::nullopt, "");
  auto batch = b.build();
  auto appended = log->append(batch, 7);
  HERALD_FUZZ_CHECK(appended.has_value(), "append after recovery failed: %s",
                    appended.has_value() ? "" : appended.error().message.c_str());
  HERALD_FUZZ_CHECK(appended->base_offset == end && appended->last_offset == end + 1, "append got offset %llu",
                    static_cast<unsigned long long>(appended->base_offset));
  HERALD_FUZZ_CHECK(log->sync().is_ok(), "sync failed");
  stamp_batch(batch, end, 7);
  auto back = log->read(end, unlimited, no_upto);
  HERALD_FUZZ_CHECK(back.has_value() && back->bytes == batch, "appended batch does not read back");

  // A second open finds a clean log.
  log.reset();
  auto again = open_log(dir, cfg);
  HERALD_FUZZ_CHECK(again->recovery().truncated_bytes == 0, "second recovery cut: %s",
                    again->recovery().detail.c_str());
  HERALD_FUZZ_CHECK(again->log_start_offset() == start && again->log_end_offset() == end + 2,
                    "reopened log is [%llu, %llu)", static_cast<unsigned long long>(again->log_start_offset()),
                    static_cast<unsigned long long>(again->log_end_offset()));
  auto whole = again->read(start, unlimited, no_upto);
  HERALD_FUZZ_CHECK(whole.has_value() && whole->bytes.size() == kept + batch.size() &&
                        (kept == 0 || std::memcmp(whole->bytes.data(), data, kept) == 0),
                    "reopened log reads differently");
  return 0;
}
