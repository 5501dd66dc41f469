// partition_log::for_each_header, reset and retention_point: what the Raft
// store (replication/raft_store.hpp) builds its index map and snapshot
// installs on.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <tuple>
#include <vector>

#include "storage/partition_log.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using namespace herald::storage::test;

namespace {

// Batches of 1 to 4 records, batch i with timestamps from 1000 i on, so
// segments age in order.
void fill(partition_log& log, log_model& model, int batches, std::uint64_t term = 1) {
  for (int i = 0; i < batches; ++i) {
    const auto n = static_cast<std::uint32_t>(1 + i % 4);
    model.append(log, make_batch(n, 1000 * static_cast<std::int64_t>(model.batches.size()), 30), term);
  }
}

std::vector<batch_header> headers_from(const partition_log& log, std::uint64_t offset) {
  std::vector<batch_header> out;
  const status s = log.for_each_header(offset, [&](const batch_header& h) {
    out.push_back(h);
    return true;
  });
  REQUIRE_MESSAGE(s.is_ok(), s.message);
  return out;
}

// The walk from `offset` visits the model's batches from the one holding it.
void check_walk(const partition_log& log, const log_model& model, std::uint64_t offset) {
  const auto headers = headers_from(log, offset);
  const std::size_t first = model.batch_of(offset);
  REQUIRE_MESSAGE(headers.size() == model.batches.size() - first, "from offset ", offset);
  for (std::size_t k = 0; k < headers.size(); ++k) {
    const stored_batch& b = model.batches[first + k];
    const batch_header expected = decode_batch_header(b.bytes);
    CHECK(headers[k].base_offset == b.base);
    CHECK(headers[k].last_offset() == b.last);
    CHECK(headers[k].term == expected.term);
    CHECK(headers[k].length == b.bytes.size());
    CHECK(headers[k].crc == expected.crc);
  }
}

void check_empty_at(const partition_log& log, std::uint64_t offset) {
  CHECK(log.log_start_offset() == offset);
  CHECK(log.log_end_offset() == offset);
  CHECK(log.size_bytes() == 0);
  CHECK(log.last_term() == 0);
  auto r = log.read(offset, unlimited, no_upto);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(r->bytes.empty());
  CHECK(r->next_offset == offset);
  if (offset > 0) CHECK(log.read(offset - 1, unlimited, no_upto).error().code == errc::offset_out_of_range);
  CHECK(headers_from(log, offset).empty());
}

} // namespace

TEST_CASE("for_each_header walks every header across segments from the batch holding the offset") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  fill(*log, model, 20, 1);
  fill(*log, model, 20, 3);
  REQUIRE(log->segment_count() >= 5);
  REQUIRE(log->sync().is_ok());

  for (std::uint64_t o = 0; o < model.end(); ++o) check_walk(*log, model, o);

  // From disk after a reopen: closed segments and the recovered active one.
  log.reset();
  log = open_log(dir.path(), small_segments());
  for (std::uint64_t o = 0; o < model.end(); o += 7) check_walk(*log, model, o);
}

TEST_CASE("for_each_header stops as soon as the callback returns false") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  fill(*log, model, 30);
  REQUIRE(log->segment_count() >= 3);

  for (std::size_t stop_after : {std::size_t{1}, std::size_t{2}, std::size_t{17}}) {
    std::vector<std::uint64_t> seen;
    const status s = log->for_each_header(model.batches[3].base, [&](const batch_header& h) {
      seen.push_back(h.base_offset);
      return seen.size() < stop_after;
    });
    REQUIRE_MESSAGE(s.is_ok(), s.message);
    REQUIRE(seen.size() == stop_after);
    for (std::size_t k = 0; k < stop_after; ++k) CHECK(seen[k] == model.batches[3 + k].base);
  }
}

TEST_CASE("for_each_header at the log end calls nothing and refuses offsets outside the log") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  CHECK(headers_from(*log, 0).empty());  // an empty log
  CHECK(log->for_each_header(1, [](const batch_header&) { return true; }).code == errc::offset_out_of_range);

  log_model model;
  fill(*log, model, 25);
  int calls = 0;
  auto count = [&](const batch_header&) {
    ++calls;
    return true;
  };
  CHECK(log->for_each_header(model.end(), count).is_ok());
  CHECK(log->for_each_header(model.end() + 1, count).code == errc::offset_out_of_range);
  CHECK(calls == 0);

  // A start inside a batch: the walk begins with the batch holding it, and
  // nothing below the start is reachable.
  const stored_batch& b = model.batches[10];
  REQUIRE(b.last > b.base);
  REQUIRE(log->remove_prefix(b.base + 1).is_ok());
  check_walk(*log, model, b.base + 1);
  CHECK(log->for_each_header(b.base, count).code == errc::offset_out_of_range);
  CHECK(calls == 0);
}

TEST_CASE("reset empties the log durably and restarts it at the offset") {
  temp_dir dir;
  const auto data = dir.path() / "p";
  const auto cfg = small_segments();
  auto log = open_log(data, cfg);
  log_model old;
  fill(*log, old, 40, 2);
  REQUIRE(log->sync().is_ok());
  REQUIRE(segment_bases(data).size() >= 4);

  // Past the old end, as a snapshot install the log does not reach.
  const std::uint64_t at = old.end() + 100;
  REQUIRE(log->reset(at).is_ok());
  check_empty_at(*log, at);
  CHECK(log->durable_end_offset() == at);
  CHECK(log->segment_count() == 1);
  CHECK(segment_bases(data) == std::vector<std::uint64_t>{at});
  CHECK_FALSE(std::filesystem::exists(segment_index(data, 0)));

  // A crash right now (a copy of the directory) keeps the reset.
  std::filesystem::copy(data, dir.path() / "crashed");
  check_empty_at(*open_log(dir.path() / "crashed", cfg), at);

  // Appends continue at the offset, across new segments.
  log_model fresh;
  fill(*log, fresh, 15, 5);
  CHECK(fresh.batches.front().base == at);
  CHECK(log->log_start_offset() == at);
  CHECK(log->last_term() == 5);
  check_contents(*log, fresh);
  check_walk(*log, fresh, at);

  log.reset();
  log = open_log(data, cfg);
  CHECK(log->log_start_offset() == at);
  check_contents(*log, fresh);
  CHECK(*log->term_at(at) == 5);
  CHECK(log->term_at(at - 1).error().code == errc::offset_out_of_range);
}

TEST_CASE("reset to an offset inside the log discards the batches from there on too") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  log_model old;
  fill(*log, old, 30);
  const std::uint64_t at = old.batches[12].base;
  REQUIRE(log->reset(at).is_ok());
  check_empty_at(*log, at);

  auto r = log->append_at(make_batch(2), at, 4);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(r->base_offset == at);
  log.reset();
  log = open_log(dir.path(), small_segments());
  CHECK(log->log_start_offset() == at);
  CHECK(log->log_end_offset() == at + 2);
  CHECK(*log->term_at(at + 1) == 4);
}

TEST_CASE("reset below the log start is refused and changes nothing") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  fill(*log, model, 30);
  const std::uint64_t start = model.batches[5].base;
  REQUIRE(log->remove_prefix(start).is_ok());
  const auto bases = segment_bases(dir.path());

  CHECK(log->reset(start - 1).code == errc::offset_out_of_range);
  CHECK(log->reset(0).code == errc::offset_out_of_range);
  CHECK(log->log_start_offset() == start);
  CHECK(log->log_end_offset() == model.end());
  CHECK(segment_bases(dir.path()) == bases);
  check_walk(*log, model, start);
  // The log still works.
  model.append(*log, make_batch(1), 1);
  check_walk(*log, model, start);

  SUBCASE("at the log start itself it is allowed") {
    REQUIRE(log->reset(start).is_ok());
    check_empty_at(*log, start);
    log.reset();
    check_empty_at(*open_log(dir.path(), small_segments()), start);
  }
}

TEST_CASE("retention_point is where apply_retention then moves the log start and changes nothing itself") {
  const std::int64_t never = -1;
  // (now, retention_ms, retention_bytes): nothing, by time, by size, both,
  // everything (the active segment stays), and a limit above the log.
  const std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>> cases = {
      {1'000'000, never, never}, {20'000, 5'000, never}, {0, never, 2000},   {30'000, 20'000, 3000},
      {10'000'000, 0, never},    {0, never, 0},          {0, never, 1 << 30}, {40'000, 10'000, 2500},
  };
  std::vector<std::uint64_t> points;
  for (const auto& [now, ms, bytes] : cases) {
    CAPTURE(now);
    CAPTURE(ms);
    CAPTURE(bytes);
    temp_dir dir;
    auto log = open_log(dir.path(), small_segments());
    log_model model;
    fill(*log, model, 45);
    const auto bases = segment_bases(dir.path());
    REQUIRE(bases.size() >= 5);
    const std::uint64_t size = log->size_bytes();

    const std::uint64_t point = log->retention_point(now, ms, bytes);
    CHECK(log->retention_point(now, ms, bytes) == point);
    CHECK(log->log_start_offset() == 0);
    CHECK(log->size_bytes() == size);
    CHECK(log->segment_count() == bases.size());
    CHECK(segment_bases(dir.path()) == bases);
    // Always a segment boundary, never past the active segment.
    CHECK(std::find(bases.begin(), bases.end(), point) != bases.end());

    auto report = log->apply_retention(now, ms, bytes);
    REQUIRE_MESSAGE(report.has_value(), report.error().message);
    CHECK(report->log_start_offset == point);
    CHECK(log->log_start_offset() == point);
    CHECK(segment_bases(dir.path()).front() == point);
    // Retention reached its fixed point.
    CHECK(log->retention_point(now, ms, bytes) == point);
    points.push_back(point);
  }
  // The cases do exercise different answers.
  std::sort(points.begin(), points.end());
  CHECK(std::unique(points.begin(), points.end()) - points.begin() >= 4);
}

TEST_CASE("retention_point after a log start inside a segment keeps that start or moves to a later segment") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  fill(*log, model, 45);
  const auto bases = segment_bases(dir.path());
  REQUIRE(bases.size() >= 5);
  const std::uint64_t start = bases[1] + 1;
  REQUIRE(log->remove_prefix(start).is_ok());
  REQUIRE(segment_bases(dir.path()).front() == bases[1]);

  // Nothing to delete: the start inside segment 1, not its base.
  CHECK(log->retention_point(0, -1, -1) == start);
  CHECK(log->retention_point(0, 1'000'000, -1) == start);
  // Everything is too old: all but the active segment.
  CHECK(log->retention_point(10'000'000, 0, -1) == bases.back());
  CHECK(log->retention_point(0, -1, 0) == bases.back());
  CHECK(log->log_start_offset() == start);

  auto report = log->apply_retention(0, -1, -1);
  REQUIRE(report.has_value());
  CHECK(report->segments_removed == 0);
  CHECK(report->log_start_offset == start);
  CHECK(log->log_start_offset() == start);
}
