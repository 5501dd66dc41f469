// Power loss and disk damage to a partition log (the injector's model itself
// is tested in fault_model_test.cpp): randomized, seeded runs crash a
// partition log over and over and check
// that no synced record is ever lost and no corrupt byte is ever served, and
// flipped bits and cut files in closed and active segments are never served.
// A failing iteration prints its seed.

#include <doctest/doctest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

#include "storage/atomic_file.hpp"
#include "storage/fault_injection.hpp"
#include "storage/file.hpp"
#include "storage/hard_state.hpp"
#include "storage/partition_log.hpp"
#include "fault_test_util.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using namespace herald::storage::test;
namespace fi = herald::storage::fault_injection;

namespace {


// ---- Partition log helpers ----

std::vector<char> random_batch(std::mt19937_64& rng) {
  const auto count = static_cast<std::uint32_t>(1 + rng() % 4);
  const auto value = static_cast<std::size_t>(1 + rng() % 150);
  return make_batch(count, static_cast<std::int64_t>(1000 + rng() % 100000), value,
                    static_cast<char>('a' + rng() % 26));
}


// After a crash and reopen: the log must hold the first k appended batches,
// byte for byte, for a k that covers every offset it called durable before
// the crash, and nothing else. `exact`: k covers exactly those. Trims the
// model to what survived.
// Returns how many batches past `durable` survived.
std::size_t check_survivors(const partition_log& log, log_model& model, std::uint64_t durable, bool exact) {
  const std::uint64_t end = log.log_end_offset();
  INFO("log end after the crash ", end, ", durable before it ", durable, ", appended up to ", model.end());
  REQUIRE(end >= durable);  // no synced record lost
  std::size_t k = 0;
  while (k < model.batches.size() && model.batches[k].last < end) ++k;
  // No gaps, nothing made up: the end is the end of an appended batch.
  REQUIRE(end == (k == 0 ? 0 : model.batches[k - 1].last + 1));
  if (exact) CHECK(end == durable);
  std::size_t beyond = 0;
  for (std::size_t i = 0; i < k; ++i) beyond += model.batches[i].base >= durable ? 1 : 0;
  model.batches.resize(k);
  CHECK(log.durable_end_offset() == end);  // what recovery kept, it made durable
  if (log.recovery().truncated_bytes > 0) CHECK_FALSE(log.recovery().detail.empty());
  check_contents(log, model);
  return beyond;
}

// What the crashes of a loop did, so that a test can show it exercised them.
struct crash_stats {
  std::size_t crashes = 0;
  std::size_t lost_unsynced = 0;      // crashes after which unsynced batches were gone
  std::size_t kept_unsynced = 0;      // crashes after which some unsynced batches survived
  std::size_t tails_cut = 0;          // reopens whose recovery cut a damaged tail
  std::size_t entries_reverted = 0;   // crashes that undid a directory entry
};

// Appends random batches, syncing at random points, crashes, reopens and
// checks; a few rounds per seed, then a clean reopen at the end.
crash_stats crash_loop(fi::crash mode, std::uint64_t first_seed, int wanted_iterations) {
  const int iterations = herald::storage::test::iterations(wanted_iterations);
  const bool exact = mode == fi::crash::lose_unsynced;
  crash_stats stats;
  auto after_crash = [&](const partition_log& log, log_model& model, std::uint64_t durable) {
    const std::uint64_t appended = model.end();
    const std::size_t kept = check_survivors(log, model, durable, exact);
    stats.kept_unsynced += kept > 0 ? 1 : 0;
    stats.lost_unsynced += model.end() < appended ? 1 : 0;
    stats.tails_cut += log.recovery().truncated_bytes > 0 ? 1 : 0;
  };
  for (int iteration = 0; iteration < iterations; ++iteration) {
    const std::uint64_t seed = first_seed + static_cast<std::uint64_t>(iteration);
    CAPTURE(seed);
    std::string crash_detail;
    INFO("last power loss:\n", crash_detail);
    std::mt19937_64 rng(seed);
    scratch_dir dir;
    auto inj = make_injector(seed);
    fi::scoped_install scope(inj);
    const auto cfg = small_segments();
    log_model model;
    std::uint64_t durable = 0;
    std::uint64_t term = 1;

    for (int round = 0; round < 4; ++round) {
      auto log = open_log(dir.path(), cfg);
      if (round > 0) after_crash(*log, model, durable);
      durable = log->durable_end_offset();
      const auto appends = rng() % 30;
      const auto sync_one_in = 2 + rng() % 8;
      for (std::uint64_t i = 0; i < appends; ++i) {
        model.append(*log, random_batch(rng), term);
        if (rng() % sync_one_in == 0) REQUIRE(log->sync().is_ok());
        durable = log->durable_end_offset();
      }
      ++term;
      if (round == 0) {  // the model follows the files (once per seed: it reads them all)
        const auto model_ok = inj->check_model();
        REQUIRE_MESSAGE(model_ok.is_ok(), model_ok.message);
      }
      // The power goes either while the log is still open (whatever its
      // destructor would do then happens on dead files) or after it was
      // closed without a sync (closing is not syncing).
      if (rng() % 2 == 0) log.reset();
      const auto report = inj->simulate_power_loss(mode);
      crash_detail = report.detail;
      ++stats.crashes;
      stats.entries_reverted += report.entries_reverted > 0 ? 1 : 0;
      log.reset();
    }

    auto log = open_log(dir.path(), cfg);
    after_crash(*log, model, durable);
    for (int i = 0; i < 5; ++i) model.append(*log, random_batch(rng), term);
    REQUIRE(log->sync().is_ok());
    log.reset();
    log = open_log(dir.path(), cfg);
    CHECK(log->recovery().truncated_bytes == 0);
    check_contents(*log, model);
  }
  MESSAGE("crashes ", stats.crashes, ", unsynced batches lost ", stats.lost_unsynced, ", partly kept ",
          stats.kept_unsynced, ", damaged tails cut ", stats.tails_cut, ", entries reverted ", stats.entries_reverted);
  return stats;
}

// Where each batch of a synced log lies: its segment and byte position.
struct placement {
  std::size_t segment = 0;  // index into the sorted segment bases
  std::uint64_t pos = 0;
};

std::vector<placement> place(const log_model& model, const std::vector<std::uint64_t>& bases) {
  std::vector<placement> out;
  std::size_t seg = 0;
  std::uint64_t pos = 0;
  for (const auto& b : model.batches) {
    while (seg + 1 < bases.size() && bases[seg + 1] <= b.base) {
      ++seg;
      pos = 0;
    }
    out.push_back({seg, pos});
    pos += b.bytes.size();
  }
  return out;
}

// A synced log of several segments whose active segment holds at least
// three batches, built once and copied for each case.
log_model build_log(const std::filesystem::path& dir, std::uint64_t seed, int batches) {
  auto inj = make_injector(seed);
  fi::scoped_install scope(inj);
  std::mt19937_64 rng(seed);
  auto log = open_log(dir, small_segments());
  log_model model;
  for (int i = 0; i < batches; ++i) model.append(*log, random_batch(rng), 1);
  for (;;) {
    const auto bases = segment_bases(dir);
    const auto where = place(model, bases);
    const auto in_active = [&](const placement& p) { return p.segment == bases.size() - 1; };
    if (std::count_if(where.begin(), where.end(), in_active) >= 3) break;
    model.append(*log, make_batch(1, 5, 8), 1);
  }
  REQUIRE(log->sync().is_ok());
  return model;
}

// With the bytes of batch `bad` (in segment `seg`) damaged: every read of a
// batch is either refused as damaged (the read marks the log so) or exactly right; batches outside that
// segment, and before `bad` in it, are always served; `bad` never is.
void check_damaged(const partition_log& log, const log_model& model, const std::vector<placement>& where,
                   std::size_t bad) {
  for (std::size_t j = 0; j < model.batches.size(); ++j) {
    CAPTURE(j);
    const auto& b = model.batches[j];
    auto r = log.read(b.base, 1, no_upto);
    const bool must_serve = where[j].segment != where[bad].segment || j < bad;
    if (j == bad) {
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().code == errc::damaged);
    } else if (r.has_value()) {
      CHECK(r->bytes == b.bytes);
    } else {
      CHECK_FALSE(must_serve);
      CHECK(r.error().code == errc::damaged);
    }
  }
  // A read from the start stops just before the damage.
  auto all = log.read(0, unlimited, no_upto);
  if (bad == 0) {
    REQUIRE_FALSE(all.has_value());
    CHECK(all.error().code == errc::damaged);
  } else {
    REQUIRE(all.has_value());
    log_model before = model;
    before.batches.resize(bad);
    CHECK(all->bytes == before.expected_read(0, unlimited, no_upto));
  }
}

} // namespace

// ---- A partition log through power losses ----

TEST_CASE("no synced batch is lost when every unsynced write is") {
  const auto stats = crash_loop(fi::crash::lose_unsynced, 1000, 200);
  CHECK(stats.lost_unsynced > scaled(100, 200));
  CHECK(stats.entries_reverted > scaled(50, 200));  // segments created since the last sync vanished
  CHECK(stats.kept_unsynced == 0);
}

TEST_CASE("no synced batch is lost and nothing corrupt served when unsynced writes partly survive") {
  const auto stats = crash_loop(fi::crash::keep_prefix, 2000, 200);
  CHECK(stats.lost_unsynced > scaled(50, 200));
  CHECK(stats.kept_unsynced > scaled(50, 200));
}

TEST_CASE("no synced batch is lost and nothing corrupt served when the last unsynced write is torn") {
  const auto stats = crash_loop(fi::crash::keep_prefix_torn, 3000, 200);
  CHECK(stats.kept_unsynced > scaled(50, 200));
  CHECK(stats.tails_cut > scaled(50, 200));
}

// ---- Raft's truncations and prefix removals through power losses ----

namespace {

// What a log holding truncations and prefix removals should hold: its
// batches from the log start on (the first may begin before it), and the
// offset the next append gets.
struct ops_model {
  std::vector<stored_batch> batches;
  std::uint64_t next = 0;
  std::uint64_t start = 0;  // the log start as last moved durably

  void append(partition_log& log, const std::vector<char>& batch, std::uint64_t term) {
    auto r = log.append(batch, term);
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    REQUIRE(r->base_offset == next);
    stored_batch b{r->base_offset, r->last_offset, 0, batch};
    stamp_batch(b.bytes, r->base_offset, term);
    batches.push_back(std::move(b));
    next = r->last_offset + 1;
  }

  // Keeps what lies below `end`; `end` is a batch end or the log start.
  void cut(std::uint64_t end) {
    while (!batches.empty() && batches.back().last >= end) batches.pop_back();
    next = end;
  }

  void forget_below(std::uint64_t offset) {
    while (!batches.empty() && batches.front().last < offset) batches.erase(batches.begin());
  }
};

void check_ops_log(const partition_log& log, const ops_model& model) {
  REQUIRE(log.log_start_offset() == model.start);
  REQUIRE(log.log_end_offset() == model.next);
  std::vector<char> all;
  for (const auto& b : model.batches) {
    all.insert(all.end(), b.bytes.begin(), b.bytes.end());
    auto one = log.read(b.last, 1, no_upto);
    REQUIRE_MESSAGE(one.has_value(), one.error().message);
    CHECK(one->bytes == b.bytes);
  }
  auto r = log.read(model.start, unlimited, no_upto);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(r->bytes == all);
}

// After a crash: the start as last moved, every offset that was durable
// (and not removed), and past those only whole appended batches.
void check_ops_survivors(const partition_log& log, ops_model& model, std::uint64_t durable) {
  const std::uint64_t start = log.log_start_offset();
  const std::uint64_t end = log.log_end_offset();
  INFO("log start ", start, ", end ", end, " after the crash; durable before it ", durable, ", start ", model.start,
       ", appended up to ", model.next);
  REQUIRE(start == model.start);
  REQUIRE(end >= std::max(durable, start));
  REQUIRE(end <= std::max(model.next, start));
  if (end == start) {
    // Empty: a crash lost the data up to a log start moved beyond it.
    model.batches.clear();
  } else {
    std::size_t k = 0;
    while (k < model.batches.size() && model.batches[k].last < end) ++k;
    REQUIRE(k > 0);
    REQUIRE(end == model.batches[k - 1].last + 1);
    model.batches.resize(k);
  }
  model.next = end;
  CHECK(log.durable_end_offset() == end);
  check_ops_log(log, model);
}

} // namespace

TEST_CASE("no synced batch is lost and no removed one comes back when crashes hit truncations and prefix removals") {
  std::size_t truncations = 0;
  std::size_t removals = 0;
  std::size_t reverted = 0;  // crashes that brought back removed or replaced files
  for (std::uint64_t seed = 5000; seed < 5150; ++seed) {
    CAPTURE(seed);
    std::string crash_detail;
    INFO("last power loss:\n", crash_detail);
    std::mt19937_64 rng(seed);
    scratch_dir dir;
    auto inj = make_injector(seed);
    fi::scoped_install scope(inj);
    const auto cfg = small_segments();
    const auto mode = static_cast<fi::crash>(seed % 3);
    ops_model model;
    std::uint64_t durable = 0;
    std::uint64_t term = 1;
    std::string ops;  // what this round did, for a failure message
    INFO("operations since the last crash: ", ops);

    for (int round = 0; round < 5; ++round) {
      auto log = open_log(dir.path(), cfg);
      if (round > 0) check_ops_survivors(*log, model, durable);
      durable = log->durable_end_offset();
      ops.clear();
      const auto steps = rng() % 40;
      for (std::uint64_t i = 0; i < steps; ++i) {
        const auto dice = rng() % 20;
        if (dice < 12) {
          model.append(*log, random_batch(rng), term);
          ops += "a";
        } else if (dice < 15) {
          REQUIRE(log->sync().is_ok());
          ops += "s";
        } else if (dice < 18) {
          // A follower's truncation, at a batch boundary at or after the start.
          std::vector<std::uint64_t> cuts{model.next};
          for (const auto& b : model.batches) {
            if (b.base >= model.start) cuts.push_back(b.base);
          }
          const auto at = cuts[rng() % cuts.size()];
          const bool noop = at == model.next;
          const auto st = log->truncate_suffix(at);
          REQUIRE_MESSAGE(st.is_ok(), st.message);
          model.cut(at);
          ++term;  // the new leader's entries
          if (!noop) CHECK(log->durable_end_offset() == at);  // a cut is durable on return
          truncations += noop ? 0 : 1;
          ops += "t" + std::to_string(at);
        } else {
          const auto at = model.start + rng() % (model.next - model.start + 1);
          const auto st = log->remove_prefix(at);
          REQUIRE_MESSAGE(st.is_ok(), st.message);
          if (at > model.start) {
            model.start = at;
            model.forget_below(at);
            ++removals;
          }
          ops += "p" + std::to_string(at);
        }
        durable = log->durable_end_offset();
      }
      check_ops_log(*log, model);
      if (rng() % 2 == 0) log.reset();
      const auto report = inj->simulate_power_loss(mode);
      crash_detail = report.detail;
      reverted += report.detail.find("since the last directory fsync, back") != std::string::npos ? 1 : 0;
      log.reset();
    }
    auto log = open_log(dir.path(), cfg);
    check_ops_survivors(*log, model, durable);
  }
  MESSAGE("truncations ", truncations, ", prefix removals ", removals, ", crashes bringing files back ", reverted);
  CHECK(truncations > 100);
  CHECK(removals > 100);
  CHECK(reverted > 20);
}

// ---- Raft's hard state through power losses ----

TEST_CASE("after a power loss the hard state is the last one saved or one whose save failed and never lost") {
  std::size_t failed_saves = 0;
  for (std::uint64_t seed = 7000; seed < 7200; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    scratch_dir dir;
    auto inj = make_injector(seed);
    fi::scoped_install scope(inj);
    std::optional<hard_state> saved;            // the last save that returned ok
    std::vector<hard_state> attempted;          // saves that failed since then
    hard_state next;
    for (int round = 0; round < 6; ++round) {
      const auto saves = rng() % 4;
      for (std::uint64_t i = 0; i < saves; ++i) {
        next.term += 1 + rng() % 3;
        next.voted_for = static_cast<std::int64_t>(rng() % 5) - 1;
        // Sometimes the disk fails somewhere in the save: the tmp file's
        // write, its fsync, or the directory's fsync after the rename.
        const auto dice = rng() % 8;
        if (dice == 0) inj->add(fi::fault(fi::op::write, ENOSPC).short_write(rng() % 28));
        if (dice == 1) inj->add(fi::fault(fi::op::sync, EIO).on_files());
        if (dice == 2) inj->add(fi::fault(fi::op::sync, EIO).on_directories());
        const auto st = save_hard_state(dir.path(), next);
        inj->clear_faults();
        if (st.is_ok()) {
          saved = next;
          attempted.clear();
        } else {
          ++failed_saves;
          attempted.push_back(next);
        }
      }
      inj->simulate_power_loss(static_cast<fi::crash>(rng() % 3));
      auto loaded = load_hard_state(dir.path());
      REQUIRE_MESSAGE(loaded.has_value(), loaded.error().message);
      if (!saved && attempted.empty()) {
        CHECK_FALSE(loaded->has_value());
        continue;
      }
      if (!loaded->has_value()) {
        CHECK_FALSE(saved.has_value());  // nothing ever saved durably
        continue;
      }
      const hard_state got = **loaded;
      const bool is_saved = saved && got == *saved;
      const bool is_attempt = std::find(attempted.begin(), attempted.end(), got) != attempted.end();
      CHECK_MESSAGE((is_saved || is_attempt), "loaded term ", got.term, " vote ", got.voted_for);
      // What the disk now says is what a restarted node goes by.
      saved = got;
      attempted.clear();
    }
  }
  CHECK(failed_saves > 50);
}

// ---- Damaged segments ----

TEST_CASE("a flipped bit in a closed or active segment is never served and the log stays damaged, bytes kept") {
  // Issue 9 items 2 and 4: synced batches are never cut for a flipped bit.
  scratch_dir dir;
  const auto pristine = dir.path() / "pristine";
  const log_model model = build_log(pristine, 11, 40);
  const auto bases = segment_bases(pristine);
  REQUIRE(bases.size() >= 4);
  const auto where = place(model, bases);
  REQUIRE(where.back().segment == bases.size() - 1);

  for (std::uint64_t seed = 1; seed <= 120; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    // Half the cases hit the active segment.
    std::size_t bad = 0;
    if (seed % 2 == 0) {
      do bad = rng() % model.batches.size();
      while (where[bad].segment != bases.size() - 1);
    } else {
      bad = rng() % model.batches.size();
    }
    const auto& victim = model.batches[bad];
    std::uint64_t byte = rng() % victim.bytes.size();
    if (byte >= 16 && byte < 24) byte += 8;  // the term is covered by neither CRC nor continuity
    if (byte >= victim.bytes.size()) byte = 0;
    const std::uint64_t bit = (where[bad].pos + byte) * 8 + rng() % 8;
    CAPTURE(bad);
    CAPTURE(byte);
    const bool active = where[bad].segment == bases.size() - 1;

    const auto work = dir.path() / ("work-" + std::to_string(seed));
    std::filesystem::copy(pristine, work);
    const auto seg_path = segment_log(work, bases[where[bad].segment]);
    {
      auto log = open_log(work, small_segments());
      REQUIRE(fi::flip_bit(seg_path, bit).is_ok());
      check_damaged(*log, model, where, bad);  // while open
    }

    const auto damaged_bytes = read_file_bytes(seg_path);
    auto reopened = partition_log::open(work, small_segments());
    REQUIRE_FALSE(reopened.has_value());
    CHECK(reopened.error().code == errc::damaged);
    CHECK(read_file_bytes(seg_path) == damaged_bytes);
    CHECK(active == (where[bad].segment == bases.size() - 1));
    std::filesystem::remove_all(work);
  }
}

TEST_CASE("a synced segment cut short serves only the whole batches before the cut and stays damaged") {
  scratch_dir dir;
  const auto pristine = dir.path() / "pristine";
  const log_model model = build_log(pristine, 12, 40);
  const auto bases = segment_bases(pristine);
  REQUIRE(bases.size() >= 4);
  const auto where = place(model, bases);

  for (std::uint64_t seed = 1; seed <= 80; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    const std::size_t seg = seed % 2 == 0 ? bases.size() - 1 : static_cast<std::size_t>(rng() % bases.size());
    const bool active = seg == bases.size() - 1;
    const auto size = std::filesystem::file_size(segment_log(pristine, bases[seg]));
    const std::uint64_t cut = rng() % size;
    CAPTURE(seg);
    CAPTURE(cut);
    // The first batch of that segment not wholly before the cut.
    std::size_t bad = 0;
    while (where[bad].segment < seg ||
           (where[bad].segment == seg && where[bad].pos + model.batches[bad].bytes.size() <= cut)) {
      ++bad;
    }
    REQUIRE(where[bad].segment == seg);

    const auto work = dir.path() / ("work-" + std::to_string(seed));
    std::filesystem::copy(pristine, work);
    {
      auto log = open_log(work, small_segments());
      REQUIRE(fi::truncate_file(segment_log(work, bases[seg]), cut).is_ok());
      check_damaged(*log, model, where, bad);
    }
    // Closing the log may trim the active segment back to the data size it
    // knows, which extends the cut file with zeros: cut it again.
    REQUIRE(fi::truncate_file(segment_log(work, bases[seg]), cut).is_ok());
    auto reopened = partition_log::open(work, small_segments());
    REQUIRE_FALSE(reopened.has_value());
    CHECK(reopened.error().code == errc::damaged);
    CHECK(active == (seg == bases.size() - 1));
    std::filesystem::remove_all(work);
  }
}

TEST_CASE("damage to synced data then a power loss cuts the active segment and keeps earlier ones") {
  temp_dir dir;
  auto inj = make_injector(5);
  fi::scoped_install scope(inj);
  std::mt19937_64 rng(5);
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  for (int i = 0; i < 30; ++i) model.append(*log, random_batch(rng), 1);
  REQUIRE(log->sync().is_ok());
  const auto bases = segment_bases(dir.path());
  const auto where = place(model, bases);
  const std::size_t bad = model.batches.size() - 1;
  REQUIRE(where[bad].segment == bases.size() - 1);
  REQUIRE(fi::flip_bit(segment_log(dir.path(), bases.back()), (where[bad].pos + 75) * 8).is_ok());
  model.append(*log, make_batch(1, 0, 8), 1);  // unsynced, lost
  inj->simulate_power_loss();
  log.reset();
  log = open_log(dir.path(), small_segments());
  model.batches.resize(bad);
  check_contents(*log, model);
}

TEST_CASE("no synced batch is lost and nothing corrupt served when writeback reorders and tears pages") {
  // Issue 9 item 7: pages reach the disk out of order (holes of zeros before
  // data that did arrive) and torn at sector granularity, a page shared by
  // synced bytes and new data included. Recovery must cut such a tail, not
  // call it damage, and must keep every synced batch.
  const auto stats = crash_loop(fi::crash::reordered_writeback, 4000, 200);
  CHECK(stats.kept_unsynced > scaled(20, 200));
  CHECK(stats.tails_cut >= scaled(3, 200));
  CHECK(stats.lost_unsynced > scaled(50, 200));
}
