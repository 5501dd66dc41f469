#include <doctest/doctest.h>

#include <filesystem>
#include <limits>
#include <random>
#include <set>

#include "storage/partition_log.hpp"
#include "storage/time_index.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using namespace herald::storage::test;
using entry = time_index::entry;

namespace {

constexpr std::int64_t min_ts = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t max_ts = std::numeric_limits<std::int64_t>::max();

// What offset_for_timestamp must answer, by brute force over the model.
std::uint64_t expected_offset(const log_model& model, std::uint64_t log_start, std::int64_t t) {
  for (const auto& b : model.batches) {
    if (b.last >= log_start && b.max_timestamp >= t) return std::max(b.base, log_start);
  }
  return model.end();
}

// Every timestamp that can change the answer, and its neighbours.
std::set<std::int64_t> probe_timestamps(const log_model& model) {
  std::set<std::int64_t> out{min_ts, max_ts, 0};
  for (const auto& b : model.batches) {
    for (std::int64_t d : {-1, 0, 1}) out.insert(b.max_timestamp + d);
  }
  return out;
}

void check_lookups(const partition_log& log, const log_model& model) {
  for (const std::int64_t t : probe_timestamps(model)) {
    CAPTURE(t);
    auto r = log.offset_for_timestamp(t);
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    CHECK(*r == expected_offset(model, log.log_start_offset(), t));
  }
}

std::vector<std::filesystem::path> files_with(const std::filesystem::path& dir, const std::string& ext) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ext) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Batches whose timestamps jump back and forth, so the running maximum of
// the index differs from the batches' own maxima.
log_model fill_jumpy(partition_log& log, int batches, unsigned seed) {
  log_model model;
  std::mt19937 rng(seed);
  for (int i = 0; i < batches; ++i) {
    const auto ts = static_cast<std::int64_t>(rng() % 100'000);
    model.append(log, make_batch(1 + static_cast<std::uint32_t>(rng() % 3), ts, 30), 1);
  }
  return model;
}

} // namespace

TEST_CASE("time_index keeps a running maximum and finds where a search starts") {
  time_index index;
  CHECK_FALSE(index.last_before(0).has_value());
  CHECK(index.append({100, 3}));
  CHECK(index.append({100, 7}));    // an equal maximum further on is still useful
  CHECK(index.append({250, 12}));
  CHECK_FALSE(index.append({240, 20}));  // a running maximum never decreases
  CHECK_FALSE(index.append({300, 12}));  // offsets strictly increase
  CHECK(index.entries().size() == 3);

  CHECK_FALSE(index.last_before(100).has_value());  // batch 3 may be the answer
  CHECK(index.last_before(101) == entry{100, 7});
  CHECK(index.last_before(250) == entry{100, 7});
  CHECK(index.last_before(251) == entry{250, 12});
  CHECK(index.last_before(max_ts) == entry{250, 12});
  CHECK_FALSE(index.last_before(min_ts).has_value());
}

TEST_CASE("time_index file bytes roundtrip and damaged files are refused") {
  time_index index;
  index.append({-5, 0});
  index.append({0x0102030405060708, 0x0a0b0c0d});
  const auto bytes = index.encode();
  REQUIRE(bytes.size() == 8 + 2 * 12);
  CHECK(std::string(bytes.begin(), bytes.begin() + 4) == "HTI1");
  CHECK(static_cast<unsigned char>(bytes[8]) == 0xfb);   // -5, i64 little-endian
  CHECK(static_cast<unsigned char>(bytes[15]) == 0xff);
  CHECK(static_cast<unsigned char>(bytes[16]) == 0);     // relative offset 0
  CHECK(static_cast<unsigned char>(bytes[20]) == 0x08);  // second timestamp, low byte first
  CHECK(static_cast<unsigned char>(bytes[28]) == 0x0d);  // second relative offset

  auto back = time_index::decode(bytes, 0x0a0b0c0e);
  REQUIRE_MESSAGE(back.has_value(), back.error().message);
  CHECK(back->entries() == index.entries());

  // Relative offset past the segment's end.
  CHECK(time_index::decode(bytes, 0x0a0b0c0d).error().code == errc::corrupt);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    CAPTURE(i);
    auto bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x02);
    CHECK(time_index::decode(bad, 0x0a0b0c0e).error().code == errc::corrupt);
  }
  auto longer = bytes;
  longer.push_back(0);
  CHECK(time_index::decode(longer, 0x0a0b0c0e).error().code == errc::corrupt);
  CHECK(time_index::decode({}, 0).error().code == errc::corrupt);

  const auto empty = time_index{}.encode();
  CHECK(time_index::decode(empty, 0).has_value());
  // A segment with batches always has at least its closing entry.
  CHECK(time_index::decode(empty, 5).error().code == errc::corrupt);
}

TEST_CASE("offset_for_timestamp is exact with timestamps that jump back and forth") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  log_model model = fill_jumpy(*log, 80, 11);
  REQUIRE(log->segment_count() >= 5);
  check_lookups(*log, model);

  // Closed segments' time indexes were written at the roll, with entries
  // between the first and the closing one.
  const auto files = files_with(dir.path(), ".timeindex");
  REQUIRE(files.size() == log->segment_count() - 1);
  std::size_t entries = 0;
  for (const auto& f : files) entries += (std::filesystem::file_size(f) - 8) / 12;
  CHECK(entries > files.size());

  SUBCASE("after a reopen, from the index files") {
    log.reset();
    log = open_log(dir.path(), small_segments());
    check_lookups(*log, model);
    // Appends after the reopen keep the active segment's index up to date.
    std::mt19937 rng(5);
    for (int i = 0; i < 20; ++i) model.append(*log, make_batch(2, static_cast<std::int64_t>(rng() % 200'000), 30), 2);
    check_lookups(*log, model);
  }

  SUBCASE("rebuilt from the batches when index files are missing or damaged") {
    log.reset();
    std::vector<std::vector<char>> originals;
    for (const auto& f : files) originals.push_back(read_file_bytes(f));
    std::filesystem::remove(files[0]);
    auto flipped = originals[1];
    flipped[flipped.size() - 6] ^= 0x10;  // a timestamp byte of the closing entry
    write_file_bytes(files[1], flipped);
    write_file_bytes(files[2], {1, 2, 3});
    log = open_log(dir.path(), small_segments());
    check_lookups(*log, model);
    // Written back as they were.
    for (std::size_t i = 0; i < 3; ++i) CHECK(read_file_bytes(files[i]) == originals[i]);
  }
}

TEST_CASE("offset_for_timestamp never answers below the log start") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  log_model model = fill_jumpy(*log, 40, 3);
  // The start walks through the log, at batch starts and inside batches,
  // so that batches below it reach timestamps the batches above it do not.
  for (const auto& b : model.batches) {
    for (const std::uint64_t start : {b.base, b.last}) {
      CAPTURE(start);
      REQUIRE(log->remove_prefix(start).is_ok());
      check_lookups(*log, model);
    }
  }
  CHECK(*log->offset_for_timestamp(min_ts) == model.batches.back().last);
  log.reset();
  log = open_log(dir.path(), small_segments());
  check_lookups(*log, model);
}
