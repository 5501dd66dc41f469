// The log operations Raft needs: append_at, truncate_suffix, remove_prefix,
// term_at and last_term.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "storage/log_start.hpp"
#include "storage/partition_log.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using namespace herald::storage::test;

namespace {

std::uint64_t term_of(const stored_batch& b) { return decode_batch_header(b.bytes).term; }

// Batches of 1 to 3 records, so offsets and batches differ.
void fill(partition_log& log, log_model& model, int batches, std::uint64_t term) {
  for (int i = 0; i < batches; ++i) {
    model.append(log, make_batch(1 + static_cast<std::uint32_t>(model.batches.size() % 3), 1000, 40), term);
  }
}

// A follower's append: at the log end, with the leader's term.
append_result append_at(partition_log& log, log_model& model, std::vector<char> batch, std::uint64_t term) {
  const std::uint64_t at = log.log_end_offset();
  auto r = log.append_at(batch, at, term);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(r->base_offset == at);
  stored_batch b{r->base_offset, r->last_offset, decode_batch_header(batch).max_timestamp, batch};
  stamp_batch(b.bytes, r->base_offset, term);
  model.batches.push_back(std::move(b));
  return *r;
}

void truncate_model(log_model& model, std::uint64_t offset) {
  while (!model.batches.empty() && model.batches.back().base >= offset) model.batches.pop_back();
}

// Everything the log answers must agree with the model, for a log starting
// at `start`.
void check_log(const partition_log& log, const log_model& model, std::uint64_t start) {
  REQUIRE(log.log_end_offset() == model.end());
  REQUIRE(log.log_start_offset() == start);
  const std::uint64_t end = model.end();
  auto all = log.read(start, unlimited, no_upto);
  REQUIRE_MESSAGE(all.has_value(), all.error().message);
  CHECK(all->bytes == model.expected_read(start, unlimited, no_upto));
  for (const auto& b : model.batches) {
    if (b.last < start) continue;
    auto one = log.read(b.last, 1, no_upto);
    REQUIRE_MESSAGE(one.has_value(), one.error().message);
    CHECK(one->bytes == b.bytes);
    for (std::uint64_t o = std::max(b.base, start); o <= b.last; ++o) {
      auto t = log.term_at(o);
      REQUIRE_MESSAGE(t.has_value(), t.error().message);
      CHECK(*t == term_of(b));
    }
  }
  if (start > 0) {
    CHECK(log.read(start - 1, unlimited, no_upto).error().code == errc::offset_out_of_range);
    CHECK(log.term_at(start - 1).error().code == errc::offset_out_of_range);
  }
  CHECK(log.term_at(end).error().code == errc::offset_out_of_range);
  CHECK(log.last_term() == (end > start ? term_of(model.batches.back()) : 0));
}

} // namespace

TEST_CASE("append_at appends at the log end and refuses a gap or an overlap") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  CHECK(log->last_term() == 0);
  CHECK(log->append_at(make_batch(1), 1, 1).error().code == errc::offset_out_of_range);
  CHECK(log->log_end_offset() == 0);
  CHECK(log->size_bytes() == 0);

  append_at(*log, model, make_batch(3), 4);
  append_at(*log, model, make_batch(1), 4);
  const auto end = log->log_end_offset();
  const auto size = log->size_bytes();
  CHECK(log->append_at(make_batch(1), end + 1, 4).error().code == errc::offset_out_of_range);  // a gap
  CHECK(log->append_at(make_batch(1), end - 1, 4).error().code == errc::offset_out_of_range);  // an overlap
  CHECK(log->log_end_offset() == end);
  CHECK(log->size_bytes() == size);

  // The leader's stamp in the header gives way to the arguments.
  auto stamped = make_batch(2);
  stamp_batch(stamped, 999, 9);
  append_at(*log, model, stamped, 5);
  auto bad = make_batch(1);
  bad[100] ^= 1;
  CHECK(log->append_at(bad, log->log_end_offset(), 5).error().code == errc::invalid_batch);
  check_log(*log, model, 0);
  CHECK(log->last_term() == 5);

  log.reset();
  log = open_log(dir.path(), small_segments());
  check_log(*log, model, 0);
}

TEST_CASE("truncate_suffix cuts across segments durably and appends continue with a new term") {
  temp_dir dir;
  const auto data = dir.path() / "p";
  const auto cfg = small_segments();
  auto log = open_log(data, cfg);
  log_model model;
  fill(*log, model, 40, 1);
  fill(*log, model, 20, 2);
  REQUIRE(log->sync().is_ok());
  fill(*log, model, 3, 2);  // not synced
  CHECK(log->durable_end_offset() < log->log_end_offset());
  const auto bases = segment_bases(data);
  REQUIRE(bases.size() >= 5);

  std::uint64_t cut = 0;
  std::size_t kept_segments = 0;
  SUBCASE("inside an early segment") {
    // The second batch of segment 1.
    for (const auto& b : model.batches) {
      if (b.base > bases[1] && b.base < bases[2]) {
        cut = b.base;
        break;
      }
    }
    kept_segments = 2;
  }
  SUBCASE("at the first batch of a segment") {
    cut = bases[2];
    kept_segments = 3;  // segment 2 stays, empty, as the active one
  }
  SUBCASE("inside the active segment") {
    cut = model.batches.back().base;
    kept_segments = bases.size();
  }
  SUBCASE("everything") {
    cut = 0;
    kept_segments = 1;
  }
  REQUIRE((cut > 0 || kept_segments == 1));

  REQUIRE(log->truncate_suffix(cut).is_ok());
  truncate_model(model, cut);
  CHECK(log->log_end_offset() == cut);
  CHECK(log->durable_end_offset() == cut);
  CHECK(log->segment_count() == kept_segments);
  const auto left = segment_bases(data);
  CHECK(left == std::vector<std::uint64_t>(bases.begin(), bases.begin() + static_cast<std::ptrdiff_t>(kept_segments)));
  // The cut segment is active again; its old index files are gone.
  CHECK_FALSE(std::filesystem::exists(segment_index(data, left.back())));
  std::uint64_t batch_bytes = 0;
  for (const auto& b : model.batches) batch_bytes += b.bytes.size();
  CHECK(log->size_bytes() == batch_bytes);
  check_log(*log, model, 0);
  auto at_cut = log->read(cut, unlimited, no_upto);
  REQUIRE(at_cut.has_value());
  CHECK(at_cut->bytes.empty());

  // Durable on return: a crash now (a copy of the files as they are) shows
  // the cut, with nothing to repair.
  const auto crashed = dir.path() / "crashed";
  std::filesystem::copy(data, crashed);
  {
    auto copy = open_log(crashed, cfg);
    CHECK(copy->recovery().truncated_bytes == 0);
    check_log(*copy, model, 0);
  }

  log.reset();
  log = open_log(data, cfg);
  CHECK(log->recovery().truncated_bytes == 0);
  check_log(*log, model, 0);

  const auto r = append_at(*log, model, make_batch(2, 5000, 40), 3);
  CHECK(r.base_offset == cut);
  CHECK(*log->term_at(cut) == 3);
  CHECK(log->last_term() == 3);
  if (cut > 0) CHECK(*log->term_at(cut - 1) == term_of(model.batches[model.batches.size() - 2]));
  for (int i = 0; i < 30; ++i) append_at(*log, model, make_batch(1 + i % 3, 6000, 40), 3);  // rolls again
  check_log(*log, model, 0);
  log.reset();
  log = open_log(data, cfg);
  check_log(*log, model, 0);
}

TEST_CASE("truncate_suffix refuses an offset inside a batch or outside the log and changes nothing") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  fill(*log, model, 20, 1);
  const auto size = log->size_bytes();
  const auto segments = log->segment_count();
  const stored_batch* multi = nullptr;
  for (const auto& b : model.batches) {
    if (b.last > b.base && b.base > 0) multi = &b;
  }
  REQUIRE(multi != nullptr);
  auto inside = log->truncate_suffix(multi->base + 1);
  CHECK(inside.code == errc::offset_out_of_range);
  CHECK(inside.message.find("batch boundary") != std::string::npos);
  CHECK(log->truncate_suffix(model.end() + 1).code == errc::offset_out_of_range);
  CHECK(log->truncate_suffix(model.end()).is_ok());  // nothing to remove
  CHECK(log->size_bytes() == size);
  CHECK(log->segment_count() == segments);
  check_log(*log, model, 0);

  REQUIRE(log->remove_prefix(multi->base).is_ok());
  CHECK(log->truncate_suffix(multi->base - 1).code == errc::offset_out_of_range);
  check_log(*log, model, multi->base);
}

TEST_CASE("term_at and last_term answer for every offset, also after a reopen") {
  temp_dir dir;
  const auto data = dir.path() / "p";
  auto log = open_log(data, small_segments());
  CHECK(log->term_at(0).error().code == errc::offset_out_of_range);
  log_model model;
  std::uint64_t term = 1;
  for (int i = 0; i < 30; ++i) {
    if (i % 7 == 6) term += 1 + static_cast<std::uint64_t>(i % 2);
    model.append(*log, make_batch(1 + static_cast<std::uint32_t>(i % 4), 1000, 40), term);
  }
  check_log(*log, model, 0);
  REQUIRE(log->sync().is_ok());
  log.reset();

  SUBCASE("reopened") {}
  SUBCASE("reopened after a crash just after a roll: the last term is in a closed segment") {
    write_file_bytes(segment_log(data, model.end()), {});
  }
  log = open_log(data, small_segments());
  check_log(*log, model, 0);
}

TEST_CASE("remove_prefix inside a segment survives a reopen and reads below the start fail") {
  temp_dir dir;
  const auto data = dir.path() / "p";
  const auto cfg = small_segments();
  auto log = open_log(data, cfg);
  log_model model;
  fill(*log, model, 50, 1);
  const auto bases = segment_bases(data);
  REQUIRE(bases.size() >= 5);

  // Inside a batch of several records that is not the first of segment 2.
  std::uint64_t start = 0;
  for (const auto& b : model.batches) {
    if (b.base > bases[2] && b.last > b.base && b.last < bases[3]) {
      start = b.base + 1;
      break;
    }
  }
  REQUIRE(start > 0);
  REQUIRE(log->remove_prefix(start).is_ok());
  CHECK(log->log_start_offset() == start);
  CHECK(log->segment_count() == bases.size() - 2);
  CHECK_FALSE(std::filesystem::exists(segment_log(data, bases[0])));
  CHECK_FALSE(std::filesystem::exists(segment_log(data, bases[1])));
  CHECK(std::filesystem::exists(data / "log_start"));
  check_log(*log, model, start);
  // A read at the start gets the batch holding it, which begins before it.
  CHECK(decode_batch_header(log->read(start, 1, no_upto)->bytes).base_offset == start - 1);

  CHECK(log->remove_prefix(start - 1).is_ok());  // never moves back
  CHECK(log->remove_prefix(model.end() + 1).code == errc::offset_out_of_range);
  check_log(*log, model, start);

  // A crash now keeps the start.
  std::filesystem::copy(data, dir.path() / "crashed");
  check_log(*open_log(dir.path() / "crashed", cfg), model, start);

  log.reset();
  log = open_log(data, cfg);
  check_log(*log, model, start);
  fill(*log, model, 10, 2);
  check_log(*log, model, start);

  SUBCASE("up to the log end: an empty log that continues there") {
    const auto end = model.end();
    REQUIRE(log->remove_prefix(end).is_ok());
    CHECK(log->segment_count() == 1);
    CHECK(log->last_term() == 0);
    check_log(*log, model, end);
    append_at(*log, model, make_batch(2), 7);
    check_log(*log, model, end);
    log.reset();
    log = open_log(data, cfg);
    check_log(*log, model, end);
  }
}

TEST_CASE("segments below a saved log start are deleted at open") {
  // As a crash between saving the start and deleting the segments leaves it.
  temp_dir dir;
  log_model model;
  {
    auto log = open_log(dir.path(), small_segments());
    fill(*log, model, 40, 1);
  }
  const auto bases = segment_bases(dir.path());
  REQUIRE(bases.size() >= 4);
  const std::uint64_t start = bases[2] + 1;
  REQUIRE(save_log_start(dir.path(), start).is_ok());
  auto log = open_log(dir.path(), small_segments());
  CHECK(segment_bases(dir.path()) == std::vector<std::uint64_t>(bases.begin() + 2, bases.end()));
  check_log(*log, model, start);
}

TEST_CASE("a log start beyond the data a crash lost starts an empty log there") {
  temp_dir dir;
  log_model model;
  {
    auto log = open_log(dir.path(), small_segments());
    fill(*log, model, 20, 1);
  }
  const std::uint64_t start = model.end() + 50;
  REQUIRE(save_log_start(dir.path(), start).is_ok());
  auto log = open_log(dir.path(), small_segments());
  CHECK(log->log_start_offset() == start);
  CHECK(log->log_end_offset() == start);
  CHECK(segment_bases(dir.path()) == std::vector<std::uint64_t>{start});
  CHECK(log->last_term() == 0);
  const auto r = log->append_at(make_batch(1), start, 2);
  REQUIRE(r.has_value());
  CHECK(r->base_offset == start);
  log.reset();
  log = open_log(dir.path(), small_segments());
  CHECK(log->log_start_offset() == start);
  CHECK(log->log_end_offset() == start + 1);
  CHECK(*log->term_at(start) == 2);
}

TEST_CASE("a damaged log_start file fails open as corrupt") {
  temp_dir dir;
  {
    auto log = open_log(dir.path(), small_segments());
    log_model model;
    fill(*log, model, 5, 1);
    REQUIRE(log->remove_prefix(2).is_ok());
  }
  auto bytes = read_file_bytes(dir.path() / "log_start");
  REQUIRE(bytes.size() == 20);
  bytes[9] ^= 1;
  write_file_bytes(dir.path() / "log_start", bytes);
  auto log = partition_log::open(dir.path(), small_segments());
  REQUIRE_FALSE(log.has_value());
  CHECK(log.error().code == errc::corrupt);
}
