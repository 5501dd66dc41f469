#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <map>
#include <random>

#include <sys/stat.h>

#include "storage/partition_log.hpp"
#include "storage/segment.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using namespace herald::storage::test;

namespace {

// A synced, closed log of several segments in `dir`; returns the model.
log_model build_log(const std::filesystem::path& dir, int batches) {
  auto log = open_log(dir, small_segments());
  log_model model;
  for (int i = 0; i < batches; ++i) {
    model.append(*log, make_batch(static_cast<std::uint32_t>(1 + i % 3), 100 * i, 30 + static_cast<std::size_t>(i % 7) * 11),
                 1);
  }
  REQUIRE(log->sync().is_ok());
  return model;
}

std::uint64_t active_base(const std::filesystem::path& dir) {
  std::uint64_t base = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".log") base = std::max<std::uint64_t>(base, std::stoull(e.path().stem().string()));
  }
  return base;
}

// Bytes from `from` up to the last non-zero one: what recovery reports as
// cut, a zero tail not being damage.
std::uint64_t nonzero_extent(const std::vector<char>& bytes, std::uint64_t from) {
  std::uint64_t end = from;
  for (std::uint64_t i = from; i < bytes.size(); ++i) {
    if (bytes[i] != 0) end = i + 1;
  }
  return end - from;
}

// The file holds `data_size` bytes of data, then zeros only (preallocation).
void check_data_then_zeros(const std::filesystem::path& p, std::uint64_t data_size) {
  const auto bytes = read_file_bytes(p);
  REQUIRE(bytes.size() >= data_size);
  CHECK(nonzero_extent(bytes, data_size) == 0);
}

void flip_byte(const std::filesystem::path& p, std::uint64_t at) {
  auto bytes = read_file_bytes(p);
  bytes.at(at) = static_cast<char>(bytes.at(at) ^ 0x5a);
  write_file_bytes(p, bytes);
}

} // namespace

TEST_CASE("a batch torn at any byte is cut at open and appends continue after it") {
  temp_dir dir;
  const auto pristine = dir.path() / "pristine";
  log_model model = build_log(pristine, 20);
  const std::uint64_t base = active_base(pristine);
  REQUIRE(base > 0);  // the torn batch is in the active segment, after closed ones
  const auto seg_name = segment_log(pristine, base).filename();
  const auto full_size = std::filesystem::file_size(pristine / seg_name);
  const stored_batch last = model.batches.back();
  REQUIRE(last.base >= base);
  log_model before = model;
  before.batches.pop_back();
  const std::uint64_t last_start = full_size - last.bytes.size();

  for (std::uint64_t cut = last_start + 1; cut < full_size; ++cut) {
    CAPTURE(cut);
    const auto work = dir.path() / ("cut-" + std::to_string(cut));
    std::filesystem::copy(pristine, work);
    // A torn batch was never synced, so no durable watermark covers it (the
    // clean close of build_log() left one that does: a synced batch torn
    // would be damage, durability_test.cpp).
    std::filesystem::remove(work / "durable_watermark");
    std::filesystem::resize_file(work / seg_name, cut);
    // A torn piece that happens to be all zeros is indistinguishable from
    // preallocation, so the bytes reported are those up to its last non-zero.
    const auto damaged = nonzero_extent(read_file_bytes(work / seg_name), last_start);

    auto log = open_log(work, small_segments());
    CHECK(log->recovery().truncated_bytes == damaged);
    CHECK(log->recovery().detail.empty() == (damaged == 0));
    check_data_then_zeros(work / seg_name, last_start);
    CHECK(log->durable_end_offset() == last.base);
    check_contents(*log, before);

    log_model after = before;
    const auto r = after.append(*log, make_batch(2), 7);
    CHECK(r.base_offset == last.base);
    log.reset();
    log = open_log(work, small_segments());
    CHECK(log->recovery().truncated_bytes == 0);
    CHECK(log->recovery().detail.empty());
    check_contents(*log, after);
    log.reset();
    std::filesystem::remove_all(work);
  }
}

TEST_CASE("junk after the last batch is cut at open") {
  temp_dir dir;
  log_model model = build_log(dir.path(), 12);
  const auto seg = segment_log(dir.path(), active_base(dir.path()));
  const auto good_size = std::filesystem::file_size(seg);
  std::vector<char> junk;

  SUBCASE("random garbage") {
    std::mt19937 rng(7);
    junk.resize(333);
    for (auto& c : junk) c = static_cast<char>(rng());
  }
  SUBCASE("zeros, as preallocation or a crash after an extended file size leaves") {
    junk.assign(4096, 0);
  }
  SUBCASE("the first half of a valid batch") {
    auto next = make_batch(3);
    stamp_batch(next, model.end(), 1);
    junk.assign(next.begin(), next.begin() + static_cast<std::ptrdiff_t>(next.size() / 2));
  }
  SUBCASE("a whole valid batch with the wrong base offset") {
    junk = make_batch(1);
    stamp_batch(junk, model.end() + 5, 1);
  }
  SUBCASE("a whole batch with a bad crc") {
    junk = make_batch(1);
    stamp_batch(junk, model.end(), 1);
    junk[90] ^= 1;
  }
  append_file_bytes(seg, junk);
  // Zeros at the end of the junk are not damage (a batch may end in zeros).
  const auto damaged = nonzero_extent(junk, 0);
  REQUIRE((damaged > 0) == std::any_of(junk.begin(), junk.end(), [](char c) { return c != 0; }));

  auto log = open_log(dir.path(), small_segments());
  CHECK(log->recovery().truncated_bytes == damaged);
  CHECK(log->recovery().detail.empty() == (damaged == 0));
  check_data_then_zeros(seg, good_size);
  check_contents(*log, model);
  const auto r = model.append(*log, make_batch(1), 2);
  CHECK(r.base_offset == model.batches[model.batches.size() - 2].last + 1);
  check_contents(*log, model);
}

TEST_CASE("a damaged batch inside the active segment is damage: open refuses and keeps every byte") {
  // Issue 9 item 2: it used to be cut, durably deleting the synced batches
  // after it.
  temp_dir dir;
  log_model model = build_log(dir.path(), 12);
  // Small batches until the active segment holds at least three.
  std::vector<stored_batch> active;
  {
    auto log = open_log(dir.path(), small_segments());
    for (;;) {
      active.clear();
      for (const auto& b : model.batches) {
        if (b.base >= active_base(dir.path())) active.push_back(b);
      }
      if (active.size() >= 3) break;
      model.append(*log, make_batch(1, 0, 8), 1);
    }
  }
  REQUIRE(active_base(dir.path()) > 0);
  const auto seg = segment_log(dir.path(), active_base(dir.path()));
  const std::uint64_t second_pos = active[0].bytes.size();
  flip_byte(seg, second_pos + 80);

  const auto damaged_bytes = read_file_bytes(seg);
  auto log = partition_log::open(dir.path(), small_segments());
  REQUIRE_FALSE(log.has_value());
  CHECK(log.error().code == errc::damaged);
  CHECK(log.error().message.find("crc") != std::string::npos);
  CHECK(read_file_bytes(seg) == damaged_bytes);
}

TEST_CASE("an empty active segment left by a crash just after a roll is fine") {
  temp_dir dir;
  log_model model = build_log(dir.path(), 10);
  write_file_bytes(segment_log(dir.path(), model.end()), {});
  auto log = open_log(dir.path(), small_segments());
  CHECK(log->recovery().truncated_bytes == 0);
  check_contents(*log, model);
  model.append(*log, make_batch(2), 1);
  check_contents(*log, model);
}

TEST_CASE("a damaged byte in a closed segment is reported as damaged and never served") {
  temp_dir dir;
  log_model model = build_log(dir.path(), 20);
  auto log = open_log(dir.path(), small_segments());
  REQUIRE(log->segment_count() >= 3);
  const auto seg = segment_log(dir.path(), 0);
  // The first segment's batches; damage the second one of them.
  std::vector<stored_batch> first;
  std::uint64_t pos = 0;
  std::uint64_t victim_pos = 0;
  for (const auto& b : model.batches) {
    if (pos + b.bytes.size() > std::filesystem::file_size(seg)) break;
    if (first.size() == 1) victim_pos = pos;
    first.push_back(b);
    pos += b.bytes.size();
  }
  REQUIRE(first.size() >= 3);
  const stored_batch& victim = first[1];

  for (std::uint64_t i = 0; i < victim.bytes.size(); ++i) {
    if (i >= 16 && i < 24) continue;  // the term is covered by neither the CRC nor continuity
    CAPTURE(i);
    flip_byte(seg, victim_pos + i);

    auto at_victim = log->read(victim.base, unlimited, no_upto);
    REQUIRE_FALSE(at_victim.has_value());
    CHECK(at_victim.error().code == errc::damaged);  // and the log is marked so
    CHECK(log->read(victim.last, 1, no_upto).error().code == errc::damaged);

    // A read from before the damage gets only the sound batch before it.
    auto before = log->read(0, unlimited, no_upto);
    REQUIRE(before.has_value());
    CHECK(before->bytes == first[0].bytes);

    // Reads past the damaged segment are unaffected.
    const auto& later = model.batches.back();
    auto after = log->read(later.base, unlimited, no_upto);
    REQUIRE(after.has_value());
    CHECK(after->bytes == later.bytes);

    flip_byte(seg, victim_pos + i);  // undo
  }
  check_contents(*log, model);

  SUBCASE("a log found damaged is not reopened: nothing cut, nothing hidden") {
    flip_byte(seg, victim_pos + 100);
    const auto damaged_bytes = read_file_bytes(seg);
    log.reset();
    auto reopened = partition_log::open(dir.path(), small_segments());
    REQUIRE_FALSE(reopened.has_value());
    CHECK(reopened.error().code == errc::damaged);
    CHECK(read_file_bytes(seg) == damaged_bytes);
  }
}

TEST_CASE("a missing or damaged index file is rebuilt") {
  temp_dir dir;
  log_model model = build_log(dir.path(), 30);
  const auto index = segment_index(dir.path(), 0);
  REQUIRE(std::filesystem::exists(index));
  const auto original = read_file_bytes(index);
  REQUIRE(original.size() >= 8);  // the test needs a non-trivial index

  SUBCASE("missing") { std::filesystem::remove(index); }
  SUBCASE("size not a multiple of the entry size") {
    append_file_bytes(index, {1, 2, 3});
  }
  SUBCASE("entries out of order") {
    auto bad = original;
    bad.insert(bad.end(), original.begin(), original.begin() + 8);
    write_file_bytes(index, bad);
  }
  SUBCASE("entries past the end of the segment") {
    write_file_bytes(index, {1, 0, 0, 0, 0, 0, 0, 1});
  }

  auto log = open_log(dir.path(), small_segments());
  CHECK(read_file_bytes(index) == original);
  check_contents(*log, model);
}

namespace {

// Segments large enough that preallocation shows: most of the file is zeros.
log_config preallocated_segments() {
  log_config cfg;
  cfg.segment_bytes = 1 << 20;
  cfg.index_interval_bytes = 200;
  return cfg;
}

void write_at(const std::filesystem::path& p, std::uint64_t at, const std::vector<char>& bytes) {
  std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
  REQUIRE(f.good());
  f.seekp(static_cast<std::streamoff>(at));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

} // namespace

TEST_CASE("a preallocated active segment survives a crash with exactly its data") {
  temp_dir dir;
  const auto data = dir.path() / "p";
  const auto cfg = preallocated_segments();
  auto log = open_log(data, cfg);
  log_model model;
  for (int i = 0; i < 30; ++i) model.append(*log, make_batch(1 + i % 3, 100 * i, 50), 1);
  const auto seg = segment_log(data, 0);
  CHECK(std::filesystem::file_size(seg) == cfg.segment_bytes);

  SUBCASE("synced") { REQUIRE(log->sync().is_ok()); }
  SUBCASE("not synced, but in the page cache when the files are copied") {}

  // A crash: the files as they are while the log is open, never closed.
  const auto crashed = dir.path() / "crashed";
  std::filesystem::copy(data, crashed);
  auto copy = open_log(crashed, cfg);
  CHECK(copy->recovery().truncated_bytes == 0);
  CHECK(copy->recovery().detail.empty());
  CHECK(copy->recovery().batches_validated == model.batches.size());
  CHECK(copy->size_bytes() == log->size_bytes());
  CHECK(copy->durable_end_offset() == model.end());
  check_contents(*copy, model);
  // The zeros stay as preallocation, and appends go where the data ends.
  CHECK(std::filesystem::file_size(segment_log(crashed, 0)) == cfg.segment_bytes);
  log_model more = model;
  more.append(*copy, make_batch(2, 9999, 50), 2);
  check_contents(*copy, more);

  // A clean close cuts the file to its data.
  copy.reset();
  CHECK(std::filesystem::file_size(segment_log(crashed, 0)) == log->size_bytes() + more.batches.back().bytes.size());
  copy = open_log(crashed, cfg);
  CHECK(copy->recovery().truncated_bytes == 0);
  check_contents(*copy, more);
}

TEST_CASE("closed segments hold exactly their batches and the active one is preallocated") {
  temp_dir dir;
  auto cfg = small_segments();
  cfg.segment_bytes = 4096;
  auto log = open_log(dir.path(), cfg);
  log_model model;
  for (int i = 0; i < 60; ++i) model.append(*log, make_batch(1 + i % 3, 100 * i, 50), 1);
  REQUIRE(log->segment_count() >= 3);
  const std::uint64_t newest = active_base(dir.path());

  // Bytes of the model's batches in each segment, by base offset.
  std::map<std::uint64_t, std::uint64_t> batch_bytes;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    if (e.path().extension() == ".log") batch_bytes[std::stoull(e.path().stem().string())] = 0;
  }
  for (const auto& b : model.batches) std::prev(batch_bytes.upper_bound(b.base))->second += b.bytes.size();

  for (const auto& [base, bytes] : batch_bytes) {
    CAPTURE(base);
    const auto size = std::filesystem::file_size(segment_log(dir.path(), base));
    CHECK(size == (base == newest ? cfg.segment_bytes : bytes));
  }
  log.reset();  // a clean close cuts the active one too
  CHECK(std::filesystem::file_size(segment_log(dir.path(), newest)) == batch_bytes[newest]);
}

TEST_CASE("a torn batch followed by zeros is cut and reported") {
  temp_dir dir;
  const auto data = dir.path() / "p";
  const auto cfg = preallocated_segments();
  auto log = open_log(data, cfg);
  log_model model;
  for (int i = 0; i < 10; ++i) model.append(*log, make_batch(2, 100 * i, 50), 1);
  REQUIRE(log->sync().is_ok());
  const std::uint64_t good = log->size_bytes();
  auto next = make_batch(3, 5000, 300);
  stamp_batch(next, model.end(), 1);

  const auto crashed = dir.path() / "crashed";
  std::filesystem::copy(data, crashed);
  const auto seg = segment_log(crashed, 0);
  std::vector<char> written;
  std::uint64_t damaged = 0;
  SUBCASE("the first half of the batch reached the disk") {
    written.assign(next.begin(), next.begin() + static_cast<std::ptrdiff_t>(next.size() / 2));
    write_at(seg, good, written);
    damaged = nonzero_extent(read_file_bytes(seg), good);
  }
  SUBCASE("only its header did") {
    written.assign(next.begin(), next.begin() + static_cast<std::ptrdiff_t>(batch_header_size));
    write_at(seg, good, written);
    damaged = nonzero_extent(read_file_bytes(seg), good);
  }
  SUBCASE("a later page did and the first did not: zeros, then data") {
    written = next;
    write_at(seg, good + 4096, written);
    damaged = nonzero_extent(read_file_bytes(seg), good);
    CHECK(damaged > 4096);
  }
  REQUIRE(damaged > 0);
  REQUIRE(std::filesystem::file_size(seg) == cfg.segment_bytes);

  auto copy = open_log(crashed, cfg);
  CHECK(copy->recovery().truncated_bytes == damaged);
  CHECK_FALSE(copy->recovery().detail.empty());
  check_contents(*copy, model);
  check_data_then_zeros(seg, good);
  CHECK(std::filesystem::file_size(seg) == cfg.segment_bytes);  // preallocated again
  log_model after = model;
  const auto r = after.append(*copy, make_batch(1), 2);
  CHECK(r.base_offset == model.end());
  copy.reset();
  copy = open_log(crashed, cfg);
  CHECK(copy->recovery().truncated_bytes == 0);
  CHECK(copy->recovery().detail.empty());
  check_contents(*copy, after);
}

namespace {
std::uint64_t allocated_bytes(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}
} // namespace

TEST_CASE("an empty partition allocates nothing, appends preallocate 4 MiB at a time") {
  // Issue 8 item 1: a whole segment (128 MiB) was reserved per partition at
  // creation, so an empty topic of thousands of partitions filled disks.
  temp_dir dir;
  const log_config cfg;  // the broker's defaults
  REQUIRE(cfg.segment_bytes > 2 * preallocation_step);
  const auto data = dir.path() / "p";
  auto log = open_log(data, cfg);
  const auto seg = segment_log(data, 0);
  CHECK(std::filesystem::file_size(seg) == 0);
  CHECK(allocated_bytes(seg) == 0);

  log_model model;
  model.append(*log, make_batch(2, 100, 50), 1);
  CHECK(std::filesystem::file_size(seg) == preallocation_step);
  // Batches of ~512 KiB until the data passes the first step.
  while (log->size_bytes() <= preallocation_step) model.append(*log, make_batch(8, 200, 64 << 10), 1);
  CHECK(std::filesystem::file_size(seg) == 2 * preallocation_step);
  REQUIRE(log->sync().is_ok());

  // Reopened (a crash: the copy is taken while the log is open), recovery
  // allocates only the step its data is in, not the whole segment.
  const auto crashed = dir.path() / "crashed";
  std::filesystem::copy(data, crashed);
  auto copy = open_log(crashed, cfg);
  CHECK(std::filesystem::file_size(segment_log(crashed, 0)) <= 2 * preallocation_step);
  check_contents(*copy, model);
}
