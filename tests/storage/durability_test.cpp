// Issue 9 items 1, 2 and 4: every fsync failure cuts back, recovery reads
// the disk and not the page cache, and corruption (as opposed to a torn
// tail) keeps its bytes and marks the log damaged.
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fault_test_util.hpp"
#include "storage/atomic_file.hpp"
#include "storage/little_endian.hpp"
#include "storage/partition_log.hpp"
#include "storage/segment.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using namespace herald::storage::test;

namespace {

log_config rolling_segments() {
  log_config cfg;
  cfg.segment_bytes = 2048;
  cfg.index_interval_bytes = 200;
  return cfg;
}

bool present(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::exists(p, ec);
}

// The property every test here ends with: what an open log calls durable
// survives a power loss that keeps only what was really synced.
void durable_end_survives_power_loss(fi::injector& inj, const std::filesystem::path& dir, const log_config& cfg,
                                     std::uint64_t durable_end) {
  inj.clear_faults();
  inj.simulate_power_loss(fi::crash::lose_unsynced);
  auto after = open_log(dir, cfg);
  CHECK(after->log_end_offset() >= durable_end);
}

} // namespace

TEST_CASE("a failed fsync when a roll closes the old segment cuts the unsynced tail back") {
  scratch_dir dir;
  auto inj = make_injector();
  fi::scoped_install installed(inj);
  const auto cfg = rolling_segments();
  auto log = open_log(dir.path(), cfg);
  log_model model;
  model.append(*log, make_batch(2, 100, 40), 1);
  REQUIRE(log->sync().is_ok());
  const std::uint64_t synced = log->durable_end_offset();
  // Unsynced batches, then the one that makes the segment roll: the close's
  // fsync fails and Linux drops those pages from what reaches the disk.
  inj->add(fi::fault(fi::op::sync).on_files());
  status failed = status::ok();
  for (int i = 0; i < 100 && failed.is_ok(); ++i) {
    auto r = log->append(make_batch(2, 200 + i, 40), 1);
    if (!r) failed = r.error();
  }
  REQUIRE_FALSE(failed.is_ok());
  CHECK(failed.message.find("cut back") != std::string::npos);
  CHECK(log->log_end_offset() == synced);
  log.reset();

  // The actor restarts in the same boot: the reopened log must not count
  // the lost batches as durable (the page cache still served them).
  auto reopened = open_log(dir.path(), cfg);
  CHECK(reopened->log_end_offset() == synced);
  check_contents(*reopened, model);
  const auto durable = reopened->durable_end_offset();
  reopened.reset();
  durable_end_survives_power_loss(*inj, dir.path(), cfg, durable);
}

TEST_CASE("recovery whose own fsync failed validates the disk, not the page cache, when retried") {
  scratch_dir dir;
  auto inj = make_injector();
  fi::scoped_install installed(inj);
  const auto cfg = rolling_segments();
  log_model model;
  {
    auto log = open_log(dir.path(), cfg);
    model.append(*log, make_batch(2, 100, 40), 1);
    REQUIRE(log->sync().is_ok());
    REQUIRE(log->append(make_batch(3, 200, 40), 1).has_value());  // never synced: the process dies
  }
  inj->add(fi::fault(fi::op::sync).on_files());
  auto first = partition_log::open(dir.path(), cfg);
  REQUIRE_FALSE(first.has_value());
  // The retry's fsync succeeds (nothing is pending any more) though the
  // batch never reached the disk; recovery must read the disk.
  auto log = open_log(dir.path(), cfg);
  CHECK(log->log_end_offset() == model.end());
  check_contents(*log, model);
  const auto durable = log->durable_end_offset();
  log.reset();
  durable_end_survives_power_loss(*inj, dir.path(), cfg, durable);
}

TEST_CASE("a failed cut-back leaves a marker, and the next open validates from the disk") {
  scratch_dir dir;
  auto inj = make_injector();
  fi::scoped_install installed(inj);
  const auto cfg = rolling_segments();
  auto log = open_log(dir.path(), cfg);
  log_model model;
  model.append(*log, make_batch(2, 100, 40), 1);
  REQUIRE(log->sync().is_ok());
  REQUIRE(log->append(make_batch(3, 200, 40), 1).has_value());
  // Every fsync of a segment fails: the sync, then the cut-back's.
  inj->add(fi::fault(fi::op::sync).on_paths_containing(".log").forever());
  auto s = log->sync();
  REQUIRE_FALSE(s.is_ok());
  CHECK(s.message.find("also failed") != std::string::npos);
  CHECK(present(dir.path() / "unsynced_tail"));
  log.reset();
  inj->clear_faults();

  auto reopened = open_log(dir.path(), cfg);
  CHECK_FALSE(present(dir.path() / "unsynced_tail"));
  CHECK(reopened->log_end_offset() == model.end());
  check_contents(*reopened, model);
  const auto durable = reopened->durable_end_offset();
  reopened.reset();
  durable_end_survives_power_loss(*inj, dir.path(), cfg, durable);
}

namespace {

// Position of the batch with base offset `base` in segment file `seg`.
std::uint64_t position_of(const std::filesystem::path& seg, std::uint64_t base) {
  const auto bytes = read_file_bytes(seg);
  for (std::uint64_t pos = 0; pos + batch_header_size <= bytes.size();) {
    const auto h = decode_batch_header(std::span<const char>(bytes).subspan(pos));
    if (h.length == 0) break;
    if (h.base_offset == base) return pos;
    pos += h.length;
  }
  FAIL("no batch at offset " << base);
  return 0;
}

} // namespace

TEST_CASE("a flipped bit before valid batches in the active segment is damage: bytes kept, log refuses to open") {
  temp_dir dir;
  const auto data = dir.path() / "p";
  log_config cfg;  // one big active segment
  log_model model;
  {
    auto log = open_log(data, cfg);
    for (int i = 0; i < 10; ++i) model.append(*log, make_batch(2, 100 * i, 50), 1);
    REQUIRE(log->sync().is_ok());
  }
  const auto seg = segment_log(data, 0);
  const auto victim = model.batches[4];
  std::uint64_t bit = 0;
  SUBCASE("in the payload") { bit = (position_of(seg, victim.base) + 100) * 8 + 3; }
  SUBCASE("in the length") { bit = (position_of(seg, victim.base) + 8) * 8 + 12; }
  SUBCASE("in the magic") { bit = (position_of(seg, victim.base) + 12) * 8; }
  REQUIRE(fi::flip_bit(seg, bit).is_ok());
  const auto before = read_file_bytes(seg);

  auto opened = partition_log::open(data, cfg);
  REQUIRE_FALSE(opened.has_value());
  CHECK(opened.error().code == errc::damaged);
  CHECK(read_file_bytes(seg) == before);
  CHECK(present(data / "damaged"));
  // It stays damaged: nothing is cut by a later open either.
  auto again = partition_log::open(data, cfg);
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code == errc::damaged);
  CHECK(read_file_bytes(seg) == before);
}

TEST_CASE("a torn last batch is still a torn tail, cut at open") {
  temp_dir dir;
  const auto data = dir.path() / "p";
  log_config cfg;
  log_model model;
  {
    auto log = open_log(data, cfg);
    for (int i = 0; i < 5; ++i) model.append(*log, make_batch(2, 100 * i, 50), 1);
    REQUIRE(log->sync().is_ok());
  }
  const auto seg = segment_log(data, 0);
  auto bytes = read_file_bytes(seg);
  auto torn = make_batch(3, 5000, 300);
  stamp_batch(torn, model.end(), 1);
  torn.resize(torn.size() / 2);
  const auto end = position_of(seg, model.batches.back().base) + model.batches.back().bytes.size();
  bytes.resize(end + torn.size() + 4096, 0);  // the torn batch, then zeros
  std::copy(torn.begin(), torn.end(), bytes.begin() + static_cast<std::ptrdiff_t>(end));
  write_file_bytes(seg, bytes);
  auto log = open_log(data, cfg);
  CHECK(log->recovery().truncated_bytes > 0);
  check_contents(*log, model);
  CHECK_FALSE(present(data / "damaged"));
}

TEST_CASE("corruption in a closed segment found by a read marks the log damaged") {
  temp_dir dir;
  const auto cfg = rolling_segments();
  log_model model;
  auto log = open_log(dir.path(), cfg);
  for (int i = 0; i < 40; ++i) model.append(*log, make_batch(2, 100 * i, 50), 1);
  REQUIRE(log->sync().is_ok());
  REQUIRE(log->segment_count() >= 3);
  const auto seg = segment_log(dir.path(), 0);
  REQUIRE(fi::flip_bit(seg, (model.batches[1].bytes.size() + 100) * 8).is_ok());
  auto read = log->read(model.batches[1].base, unlimited, no_upto);
  REQUIRE_FALSE(read.has_value());
  CHECK(read.error().code == errc::damaged);
  CHECK(present(dir.path() / "damaged"));
  log.reset();
  auto reopened = partition_log::open(dir.path(), cfg);
  REQUIRE_FALSE(reopened.has_value());
  CHECK(reopened.error().code == errc::damaged);
}

TEST_CASE("an EIO reading a payload is an io_error, not corruption") {
  scratch_dir dir;
  const auto cfg = rolling_segments();
  log_model model;
  auto inj = make_injector();
  fi::scoped_install installed(inj);
  auto log = open_log(dir.path(), cfg);
  for (int i = 0; i < 10; ++i) model.append(*log, make_batch(2, 100 * i, 50), 1);
  // The header read succeeds, the payload read fails.
  inj->add(fi::fault(fi::op::read).after(1).on_paths_containing(".log"));
  auto read = log->read(model.batches[0].base, unlimited, no_upto);
  REQUIRE_FALSE(read.has_value());
  CHECK(read.error().code == errc::io_error);
  CHECK_FALSE(present(dir.path() / "damaged"));
  inj->clear_faults();
  check_contents(*log, model);
}

TEST_CASE("a plausible bad entry in an .index file is caught by its CRC and the index rebuilt") {
  temp_dir dir;
  const auto cfg = rolling_segments();
  log_model model;
  {
    auto log = open_log(dir.path(), cfg);
    for (int i = 0; i < 40; ++i) model.append(*log, make_batch(2, 100 * i, 50), 1);
  }
  const auto index = segment_index(dir.path(), 0);
  auto bytes = read_file_bytes(index);
  REQUIRE(bytes.size() >= 16 + 8);
  // The last entry's position moves by 8 (still in range, still ordered,
  // still aligned): the old format took it and reads started mid-batch.
  char* last_position = bytes.data() + bytes.size() - 4;
  le::put<std::uint32_t>(last_position, le::get<std::uint32_t>(last_position) + 8);
  write_file_bytes(index, bytes);
  auto log = open_log(dir.path(), cfg);
  check_contents(*log, model);
  CHECK(read_file_bytes(index) != bytes);  // rewritten
}

TEST_CASE("a flipped bit in the last batch below the durable watermark is damage, not a torn tail") {
  // The gap a first fix left: with nothing valid after it, a bad last batch
  // looked like a torn write and was cut, fsynced batch and all.
  temp_dir dir;
  const auto data = dir.path() / "p";
  log_config cfg;
  log_model model;
  SUBCASE("after a clean close") {
    auto log = open_log(data, cfg);
    for (int i = 0; i < 6; ++i) model.append(*log, make_batch(2, 100 * i, 50), 1);
    REQUIRE(log->sync().is_ok());
  }
  SUBCASE("after a crash, once 4 MiB were synced past the last watermark") {
    auto log = open_log(data, cfg);
    while (log->size_bytes() < preallocation_step + 1000) {
      model.append(*log, make_batch(8, 100, 8 << 10), 1);
      REQUIRE(log->sync().is_ok());
    }
    // The crash: a copy of the files while the log is open.
    const auto crashed = dir.path() / "crashed";
    std::filesystem::copy(data, crashed);
    log.reset();
    std::filesystem::remove_all(data);
    std::filesystem::rename(crashed, data);
  }
  const auto seg = segment_log(data, 0);
  const auto& last = model.batches.back();
  const std::uint64_t at = position_of(seg, last.base);
  REQUIRE(fi::flip_bit(seg, (at + last.bytes.size() - 10) * 8 + 5).is_ok());
  const auto before = read_file_bytes(seg);
  auto opened = partition_log::open(data, cfg);
  REQUIRE_FALSE(opened.has_value());
  CHECK(opened.error().code == errc::damaged);
  CHECK(read_file_bytes(seg) == before);
}
