#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "storage/partition_log.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using namespace herald::storage::test;

namespace {

// What the model says each segment holds.
struct segment_info {
  std::uint64_t base = 0;
  std::int64_t max_timestamp = std::numeric_limits<std::int64_t>::min();
  std::uint64_t bytes = 0;
};

std::vector<segment_info> segments_of(const std::filesystem::path& dir, const log_model& model) {
  std::vector<segment_info> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".log") out.push_back({std::stoull(e.path().stem().string())});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.base < b.base; });
  for (const auto& b : model.batches) {
    auto it = std::prev(std::upper_bound(out.begin(), out.end(), b.base,
                                         [](std::uint64_t o, const segment_info& s) { return o < s.base; }));
    it->max_timestamp = std::max(it->max_timestamp, b.max_timestamp);
    it->bytes += b.bytes.size();
  }
  return out;
}

// Batch i has timestamps from 1000 i on.
log_model fill_aging(partition_log& log, int batches) {
  log_model model;
  for (int i = 0; i < batches; ++i) {
    model.append(log, make_batch(1 + static_cast<std::uint32_t>(i % 3), 1000 * i, 40), 1);
  }
  return model;
}

void check_start(const partition_log& log, const log_model& model, std::uint64_t start) {
  CHECK(log.log_start_offset() == start);
  CHECK(log.log_end_offset() == model.end());
  auto r = log.read(start, unlimited, no_upto);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(r->bytes == model.expected_read(start, unlimited, no_upto));
  if (start > 0) CHECK(log.read(start - 1, unlimited, no_upto).error().code == errc::offset_out_of_range);
}

} // namespace

TEST_CASE("retention by time deletes only whole closed segments older than the limit") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  const log_model model = fill_aging(*log, 60);
  const auto segs = segments_of(dir.path(), model);
  REQUIRE(segs.size() >= 6);

  auto none = log->apply_retention(1'000'000'000, -1, -1);
  REQUIRE(none.has_value());
  CHECK(none->segments_removed == 0);
  CHECK(none->log_start_offset == 0);

  // Segments 0 to 2 end before the cutoff; 3 ends exactly at it, which is
  // not older.
  const std::int64_t retention = 10'000;
  auto r = log->apply_retention(segs[2].max_timestamp + 1 + retention, retention, -1);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(r->segments_removed == 3);
  CHECK(r->bytes_removed == segs[0].bytes + segs[1].bytes + segs[2].bytes);
  CHECK(r->log_start_offset == segs[3].base);
  check_start(*log, model, segs[3].base);
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(std::filesystem::exists(segment_log(dir.path(), segs[i].base)));
    CHECK_FALSE(std::filesystem::exists(segment_index(dir.path(), segs[i].base)));
  }
  r = log->apply_retention(segs[3].max_timestamp + retention, retention, -1);
  CHECK(r->segments_removed == 0);

  // Everything is older than the limit: all closed segments go, the active
  // one stays.
  r = log->apply_retention(1'000'000'000, 0, -1);
  CHECK(r->segments_removed == segs.size() - 4);
  CHECK(log->segment_count() == 1);
  check_start(*log, model, segs.back().base);

  log.reset();
  log = open_log(dir.path(), small_segments());
  check_start(*log, model, segs.back().base);
}

TEST_CASE("retention by size deletes the oldest closed segments while the log exceeds the limit") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  const log_model model = fill_aging(*log, 60);
  const auto segs = segments_of(dir.path(), model);
  REQUIRE(segs.size() >= 4);
  const std::uint64_t total = log->size_bytes();

  // Over the limit by one byte after dropping segment 0, under it after 1.
  const auto limit = static_cast<std::int64_t>(total - segs[0].bytes - segs[1].bytes + 1);
  auto r = log->apply_retention(0, -1, limit);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(r->segments_removed == 2);
  CHECK(r->bytes_removed == segs[0].bytes + segs[1].bytes);
  CHECK(log->size_bytes() == total - r->bytes_removed);
  check_start(*log, model, segs[2].base);

  r = log->apply_retention(0, -1, static_cast<std::int64_t>(log->size_bytes()));
  CHECK(r->segments_removed == 0);

  r = log->apply_retention(0, -1, 0);
  CHECK(r->segments_removed == segs.size() - 3);
  CHECK(log->segment_count() == 1);
  CHECK(log->size_bytes() == segs.back().bytes);
  check_start(*log, model, segs.back().base);
}

TEST_CASE("retention stops at the first segment it keeps even when later ones are older") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  while (log->segment_count() < 2) model.append(*log, make_batch(2, 1'000'000, 40), 1);
  while (log->segment_count() < 4) model.append(*log, make_batch(2, 0, 40), 1);
  auto r = log->apply_retention(500'000, 100'000, -1);
  REQUIRE(r.has_value());
  CHECK(r->segments_removed == 0);
  CHECK(log->log_start_offset() == 0);
}

TEST_CASE("retention decides from memory and the time indexes without reading data") {
  temp_dir dir;
  log_model model;
  {
    auto log = open_log(dir.path(), small_segments());
    model = fill_aging(*log, 40);
  }
  const auto segs = segments_of(dir.path(), model);
  REQUIRE(segs.size() >= 4);

  SUBCASE("time indexes from the files") {}
  SUBCASE("time indexes rebuilt at open") {
    for (const auto& s : segs) std::filesystem::remove(std::filesystem::path(segment_log(dir.path(), s.base)).replace_extension(".timeindex"));
  }
  auto log = open_log(dir.path(), small_segments());
  // Damage the oldest segment's data behind the log's back: a decision that
  // read it would fail.
  std::filesystem::resize_file(segment_log(dir.path(), segs[0].base), 0);
  auto r = log->apply_retention(segs[1].max_timestamp + 1, 0, -1);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(r->segments_removed == 2);
  CHECK(r->bytes_removed == segs[0].bytes + segs[1].bytes);
  check_start(*log, model, segs[2].base);
}
