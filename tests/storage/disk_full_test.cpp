// A full disk and failing I/O: the fault injector's failures, and what the
// partition log makes of them. An append that fails must leave the log
// readable, unchanged and, for a failed write, ready to take the next append
// at the same offset; a failed fsync sticks until reopen.

#include <doctest/doctest.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "storage/fault_injection.hpp"
#include "storage/file.hpp"
#include "storage/partition_log.hpp"
#include "fault_test_util.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using namespace herald::storage::test;
namespace fi = herald::storage::fault_injection;

namespace {

// Batches of 1 to 3 records with varied values, so that a few of them roll
// a small segment.
std::vector<char> some_batch(std::size_t i) {
  return make_batch(static_cast<std::uint32_t>(1 + i % 3), 1000 + static_cast<std::int64_t>(i) * 10,
                    20 + (i * 37) % 100);
}

void fill(partition_log& log, log_model& model, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) model.append(log, some_batch(model.batches.size()), 1);
}


// Every segment file's bytes without its zero tail (the active segment is
// preallocated, and a failed append may cut the preallocation away).
std::map<std::string, std::vector<char>> segment_data(const std::filesystem::path& dir) {
  std::map<std::string, std::vector<char>> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".log") continue;
    auto bytes = read_file_bytes(e.path());
    while (!bytes.empty() && bytes.back() == 0) bytes.pop_back();
    out[e.path().filename().string()] = std::move(bytes);
  }
  return out;
}

} // namespace

// ---- The injector's faults on a single file ----

TEST_CASE("injected write faults fail with the errno asked for and write only what they say") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  auto f = file::open(dir.path() / "f", O_RDWR | O_CREAT);
  REQUIRE(f.has_value());
  const std::string data = "0123456789";

  SUBCASE("nothing written") {
    inj->add(fi::fault(fi::op::write, ENOSPC));
    const auto s = f->pwrite_all(as_bytes(data), 0);
    CHECK(s.code == errc::no_space);
    CHECK(s.message.find("(injected)") != std::string::npos);
    CHECK(s.message.find((dir.path() / "f").string()) != std::string::npos);
    CHECK(*f->size() == 0);
  }
  SUBCASE("a short write then the error") {
    inj->add(fi::fault(fi::op::write, ENOSPC).short_write(4));
    CHECK(f->pwrite_all(as_bytes(data), 0).code == errc::no_space);
    CHECK(read_file_bytes(dir.path() / "f") == std::vector<char>{'0', '1', '2', '3'});
  }
  SUBCASE("skip, times and path filters") {
    inj->add(fi::fault(fi::op::write, EIO).after(1).times(2).on_paths_containing("/f"));
    inj->add(fi::fault(fi::op::write, ENOSPC).on_paths_containing("/other"));
    CHECK(f->pwrite_all(as_bytes(data), 0).is_ok());
    CHECK(f->pwrite_all(as_bytes(data), 0).code == errc::io_error);
    CHECK(f->pwrite_all(as_bytes(data), 0).code == errc::io_error);
    CHECK(f->pwrite_all(as_bytes(data), 0).is_ok());
    CHECK(inj->calls(fi::op::write) == 4);
    CHECK(inj->injected(fi::op::write) == 2);
    auto other = file::open(dir.path() / "other", O_RDWR | O_CREAT);
    REQUIRE(other.has_value());
    CHECK(other->pwrite_all(as_bytes(data), 0).code == errc::no_space);
    CHECK(other->pwrite_all(as_bytes(data), 0).is_ok());
  }
  SUBCASE("forever until cleared") {
    inj->add(fi::fault(fi::op::write, ENOSPC).forever());
    for (int i = 0; i < 5; ++i) CHECK(f->pwrite_all(as_bytes(data), 0).code == errc::no_space);
    inj->clear_faults();
    CHECK(f->pwrite_all(as_bytes(data), 0).is_ok());
    CHECK(*f->size() == data.size());
  }
}

TEST_CASE("injected faults on open sync truncate allocate and read") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  auto f = file::open(dir.path() / "f", O_RDWR | O_CREAT);
  REQUIRE(f.has_value());
  REQUIRE(f->pwrite_all(as_bytes(std::string("abc")), 0).is_ok());

  inj->add(fi::fault(fi::op::open, ENOSPC));
  CHECK(file::open(dir.path() / "g", O_RDWR | O_CREAT).error().code == errc::no_space);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "g"));

  inj->add(fi::fault(fi::op::sync, EIO));
  CHECK(f->datasync().code == errc::io_error);
  CHECK(f->datasync().is_ok());

  inj->add(fi::fault(fi::op::truncate, EIO));
  CHECK(f->truncate(1).code == errc::io_error);
  CHECK(*f->size() == 3);

  inj->add(fi::fault(fi::op::allocate, ENOSPC));
  CHECK(f->allocate(4096).code == errc::no_space);
  CHECK(*f->size() == 3);
  CHECK(f->allocate(64).is_ok());

  inj->add(fi::fault(fi::op::read, EIO));
  char buf[3];
  CHECK(f->pread_exact(buf, 0).code == errc::io_error);
  CHECK(f->pread_exact(buf, 0).is_ok());
  CHECK(std::string(buf, 3) == "abc");
}

TEST_CASE("a fault that fails one call in n is reproducible from the seed") {
  auto run = [](std::uint64_t seed) {
    temp_dir dir;
    auto inj = make_injector(seed);
    fi::scoped_install scope(inj);
    auto f = file::open(dir.path() / "f", O_RDWR | O_CREAT);
    REQUIRE(f.has_value());
    inj->add(fi::fault(fi::op::write, ENOSPC).forever().one_in_n(3));
    std::string outcome;
    for (int i = 0; i < 64; ++i) outcome += f->pwrite_all(as_bytes(std::string("x")), 0).is_ok() ? '.' : 'F';
    return outcome;
  };
  const auto a = run(42);
  CHECK(a == run(42));
  CHECK(a.find('F') != std::string::npos);
  CHECK(a.find('.') != std::string::npos);
}

// ---- The partition log on a full disk ----

TEST_CASE("a write failing with ENOSPC fails the append and appends resume when space returns") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  fill(*log, model, 12);
  REQUIRE(log->sync().is_ok());
  fill(*log, model, 2);  // some unsynced data too
  REQUIRE(log->segment_count() >= 2);

  const auto end = log->log_end_offset();
  const auto durable = log->durable_end_offset();
  const auto bytes = log->size_bytes();
  const auto on_disk = segment_data(dir.path());
  // Small enough not to roll the segment: the failing append must land in
  // the active one.
  const auto batch = make_batch(1, 5000, 20);

  std::size_t written = 0;
  SUBCASE("nothing written") { written = 0; }
  SUBCASE("one byte") { written = 1; }
  SUBCASE("part of the header") { written = 40; }
  SUBCASE("all but the last byte") { written = batch.size() - 1; }
  SUBCASE("all of it and still the error") { written = batch.size(); }
  CAPTURE(written);

  inj->add(fi::fault(fi::op::write, ENOSPC).forever().short_write(written));
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto r = log->append(batch, 1);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::no_space);
    CHECK(r.error().message.find(".log") != std::string::npos);
  }
  CHECK(log->log_end_offset() == end);
  CHECK(log->durable_end_offset() == durable);
  CHECK(log->size_bytes() == bytes);
  CHECK(segment_data(dir.path()) == on_disk);  // the partial batch was cut back
  check_contents(*log, model);
  CHECK(log->sync().is_ok());  // a failed write does not poison sync

  inj->clear_faults();
  const auto r = model.append(*log, batch, 1);
  CHECK(r.base_offset == end);
  fill(*log, model, 8);
  REQUIRE(log->sync().is_ok());
  check_contents(*log, model);
  REQUIRE(inj->check_model().is_ok());

  log.reset();
  log = open_log(dir.path(), small_segments());
  CHECK(log->recovery().truncated_bytes == 0);
  check_contents(*log, model);
}

TEST_CASE("ENOSPC on the write into a freshly rolled segment leaves the log whole") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  // Append until the next batch needs a roll, then fail that batch's write.
  const auto big = make_batch(2, 7000, 300);
  while (log->segment_count() == 1) fill(*log, model, 1);
  const auto segments = log->segment_count();
  std::size_t guard = 0;
  for (;;) {
    REQUIRE(++guard < 100);
    const auto before = log->segment_count();
    inj->add(fi::fault(fi::op::write, ENOSPC).short_write(10).on_paths_containing(".log"));
    auto r = log->append(big, 1);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::no_space);
    inj->clear_faults();
    check_contents(*log, model);
    if (log->segment_count() > before) break;  // the roll happened, then the write failed
    fill(*log, model, 1);
  }
  CHECK(log->segment_count() > segments);
  const auto r = model.append(*log, big, 1);
  CHECK(r.base_offset == model.batches[model.batches.size() - 2].last + 1);
  REQUIRE(log->sync().is_ok());
  log.reset();
  log = open_log(dir.path(), small_segments());
  check_contents(*log, model);
}

TEST_CASE("ENOSPC creating a segment file fails the roll cleanly") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  fill(*log, model, 1);
  REQUIRE(log->segment_count() == 1);
  inj->add(fi::fault(fi::op::open, ENOSPC).forever().on_paths_containing(".log"));
  std::size_t failures = 0;
  for (int i = 0; i < 20; ++i) {
    const auto batch = some_batch(model.batches.size());
    auto r = log->append(batch, 1);
    if (r.has_value()) {
      stored_batch b{r->base_offset, r->last_offset, decode_batch_header(batch).max_timestamp, batch};
      stamp_batch(b.bytes, r->base_offset, 1);
      model.batches.push_back(std::move(b));
      continue;
    }
    CHECK(r.error().code == errc::no_space);
    ++failures;
  }
  CHECK(failures > 0);
  CHECK(log->segment_count() == 1);
  check_contents(*log, model);
  inj->clear_faults();
  fill(*log, model, 10);
  CHECK(log->segment_count() > 1);
  REQUIRE(log->sync().is_ok());
  log.reset();
  log = open_log(dir.path(), small_segments());
  check_contents(*log, model);
}

TEST_CASE("ENOSPC from fallocate fails cleanly wherever the log preallocates") {
  // The log may or may not preallocate segments; either way every append
  // must succeed or fail with no_space, and the log must stay whole.
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  fill(*log, model, 2);
  inj->add(fi::fault(fi::op::allocate, ENOSPC).forever());
  for (int i = 0; i < 30; ++i) {
    const auto batch = some_batch(model.batches.size());
    auto r = log->append(batch, 1);
    if (!r) {
      CHECK(r.error().code == errc::no_space);
      continue;
    }
    stored_batch b{r->base_offset, r->last_offset, decode_batch_header(batch).max_timestamp, batch};
    stamp_batch(b.bytes, r->base_offset, 1);
    model.batches.push_back(std::move(b));
  }
  check_contents(*log, model);
  if (inj->calls(fi::op::allocate) == 0) MESSAGE("partition_log does not preallocate: nothing to fail");
  inj->clear_faults();
  fill(*log, model, 10);
  REQUIRE(log->sync().is_ok());
  check_contents(*log, model);
  log.reset();
  log = open_log(dir.path(), small_segments());
  check_contents(*log, model);
}

TEST_CASE("random ENOSPC and short writes never corrupt the log") {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    temp_dir dir;
    auto inj = make_injector(seed);
    fi::scoped_install scope(inj);
    std::mt19937_64 rng(seed);
    auto log = open_log(dir.path(), small_segments());
    log_model model;
    const auto written = static_cast<std::size_t>(rng() % 200);
    inj->add(fi::fault(fi::op::write, ENOSPC).forever().one_in_n(4).short_write(written));
    inj->add(fi::fault(fi::op::open, ENOSPC).forever().one_in_n(3).on_paths_containing(".log"));
    inj->add(fi::fault(fi::op::allocate, ENOSPC).forever().one_in_n(2));
    std::size_t failed = 0;
    for (int i = 0; i < 60; ++i) {
      const auto batch = some_batch(static_cast<std::size_t>(rng() % 1000));
      const auto end = log->log_end_offset();
      auto r = log->append(batch, 1);
      if (!r) {
        REQUIRE_MESSAGE(r.error().code == errc::no_space, r.error().message);
        CHECK(log->log_end_offset() == end);
        ++failed;
        continue;
      }
      CHECK(r->base_offset == end);
      stored_batch b{r->base_offset, r->last_offset, decode_batch_header(batch).max_timestamp, batch};
      stamp_batch(b.bytes, r->base_offset, 1);
      model.batches.push_back(std::move(b));
      if (rng() % 5 == 0) REQUIRE(log->sync().is_ok());
    }
    CHECK(failed > 0);
    check_contents(*log, model);
    REQUIRE(log->sync().is_ok());
    REQUIRE(inj->check_model().is_ok());
    inj->clear_faults();
    log.reset();
    log = open_log(dir.path(), small_segments());
    CHECK(log->recovery().truncated_bytes == 0);
    check_contents(*log, model);
  }
}

TEST_CASE("a failed write whose cut back also fails sticks and reopen cuts the partial batch") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  fill(*log, model, 3);
  REQUIRE(log->sync().is_ok());
  const auto end = log->log_end_offset();

  inj->add(fi::fault(fi::op::write, ENOSPC).short_write(50));
  inj->add(fi::fault(fi::op::truncate, EIO));
  auto r = log->append(make_batch(2, 9000, 100), 1);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == errc::no_space);
  CHECK(r.error().message.find("truncating back also failed") != std::string::npos);
  // The segment now ends in half a batch: no more appends or syncs, but what
  // is there still reads.
  CHECK_FALSE(log->append(make_batch(1), 1).has_value());
  CHECK_FALSE(log->sync().is_ok());
  CHECK(log->log_end_offset() == end);
  check_contents(*log, model);

  log.reset();
  log = open_log(dir.path(), small_segments());
  // The 50 bytes written, up to the last non-zero one.
  CHECK(log->recovery().truncated_bytes > 0);
  CHECK(log->recovery().truncated_bytes <= 50);
  check_contents(*log, model);
  fill(*log, model, 3);
  check_contents(*log, model);
}

// ---- Failed fsyncs ----

TEST_CASE("EIO from fsync sticks until reopen and reopen serves everything synced") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  fill(*log, model, 10);
  REQUIRE(log->sync().is_ok());
  // Up to a roll, so that sync() has a segment and the directory to fsync.
  const auto segments = log->segment_count();
  while (log->segment_count() == segments) fill(*log, model, 1);
  fill(*log, model, 1);

  fi::fault f(fi::op::sync, EIO);
  SUBCASE("on the segment") { f.on_files(); }
  SUBCASE("on the directory") { f.on_directories(); }
  inj->add(f);
  const auto durable = log->durable_end_offset();
  CHECK(durable < model.end());
  const auto s = log->sync();
  CHECK(s.code == errc::io_error);
  CHECK(s.message.find("(injected)") != std::string::npos);
  CHECK(inj->injected(fi::op::sync) == 1);
  // Sticky: nothing more is accepted, though the disk is fine again.
  CHECK(log->sync().code == errc::io_error);
  auto again = log->append(make_batch(1), 1);
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code == errc::io_error);
  // The unsynced tail was cut back (its pages may never reach the disk);
  // what the last good sync covered stays readable.
  log_model synced = model;
  while (!synced.batches.empty() && synced.batches.back().last >= durable) synced.batches.pop_back();
  CHECK(s.message.find("cut back to offset " + std::to_string(durable)) != std::string::npos);
  CHECK(log->log_end_offset() == durable);
  CHECK(log->durable_end_offset() == durable);
  check_contents(*log, synced);

  // The machine goes down before anything else: only what was durable counts.
  inj->simulate_power_loss(fi::crash::lose_unsynced);
  log.reset();
  log = open_log(dir.path(), small_segments());
  check_contents(*log, synced);
  fill(*log, synced, 5);
  REQUIRE(log->sync().is_ok());
  log.reset();
  log = open_log(dir.path(), small_segments());
  check_contents(*log, synced);
}

TEST_CASE("a read failing with EIO serves nothing and later reads succeed") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  fill(*log, model, 12);
  for (std::uint32_t skip = 0; skip < 6; ++skip) {
    CAPTURE(skip);
    inj->add(fi::fault(fi::op::read, EIO).after(skip));
    auto r = log->read(0, unlimited, no_upto);
    if (r) {
      // A failure after some sound batches ends the read with those.
      const auto all = model.expected_read(0, unlimited, no_upto);
      REQUIRE(r->bytes.size() <= all.size());
      CHECK(std::equal(r->bytes.begin(), r->bytes.end(), all.begin()));
    }
    inj->clear_faults();
    check_contents(*log, model);
  }
}

// A transient EIO is not "bytes on disk failed validation": a caller that
// repairs corrupt logs (truncate, re-fetch from the leader) must not act on a
// disk that is merely failing to read. Only a short read is corruption.
TEST_CASE("an EIO reading a segment is reported as io_error not corrupt") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  fill(*log, model, 4);
  inj->add(fi::fault(fi::op::read, EIO));
  auto r = log->read(0, unlimited, no_upto);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == errc::io_error);
}

// After a failed fdatasync Linux marks the dirty pages clean, so the data
// stays readable from the page cache but will never be written back. A
// reopen without a reboot must not validate that data and call it durable:
// sync() cuts the log back to the last good sync before it reports failure.
TEST_CASE("after a failed fsync a reopen never reports durable what a power loss then loses") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  fill(*log, model, 6);
  REQUIRE(log->sync().is_ok());
  fill(*log, model, 2);
  inj->add(fi::fault(fi::op::sync, EIO).on_paths_containing(".log"));
  CHECK(log->sync().code == errc::io_error);
  log.reset();

  log = open_log(dir.path(), small_segments());  // no reboot: the page cache still has the data
  const auto durable = log->durable_end_offset();
  inj->simulate_power_loss(fi::crash::lose_unsynced);
  log.reset();
  log = open_log(dir.path(), small_segments());
  CHECK(log->log_end_offset() >= durable);
}
