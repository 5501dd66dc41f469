// The fault injector's model of what survives a power loss
// (storage/fault_injection.hpp), tested on plain files: the power-loss and
// disk-full tests of the partition log are only as good as this model.

#include <doctest/doctest.h>

#include <fcntl.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <set>
#include <string>

#include "storage/atomic_file.hpp"
#include "storage/fault_injection.hpp"
#include "storage/file.hpp"
#include "fault_test_util.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using namespace herald::storage::test;

// ---- The power-loss model on plain files ----

TEST_CASE("power loss keeps synced data and directory entries and drops the rest") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  {
    file a = open_file(dir.path() / "a");
    write(a, "hello", 0);
    REQUIRE(a.datasync().is_ok());
    file c = open_file(dir.path() / "c");
    REQUIRE(sync_directory(dir.path()).is_ok());
    write(a, " world", 5);  // never synced
    a.close();              // and closing is not syncing
    write(c, "entry synced, data not", 0);
    file b = open_file(dir.path() / "b");
    write(b, "synced, but its directory entry is not", 0);
    REQUIRE(b.sync().is_ok());
  }
  CHECK(content(dir.path() / "a") == "hello world");
  REQUIRE(inj->check_model().is_ok());
  const auto report = inj->simulate_power_loss();
  CAPTURE(report.detail);
  CHECK(content(dir.path() / "a") == "hello");
  CHECK_FALSE(std::filesystem::exists(dir.path() / "b"));
  CHECK(std::filesystem::exists(dir.path() / "c"));
  CHECK(content(dir.path() / "c").empty());
  CHECK(report.files == 2);
  CHECK(report.entries_reverted == 1);
  CHECK(report.changes_lost == 2);
}

TEST_CASE("power loss undoes renames and removals not followed by a directory fsync") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  const auto idx = dir.path() / "x.index";
  const auto tmp = dir.path() / "x.index.tmp";
  const std::string v1 = "version one";
  const std::string v2 = "version two, longer";
  REQUIRE(write_file_atomically(idx, as_bytes(v1)).is_ok());

  auto replace_without_dir_sync = [&] {
    file t = open_file(tmp, O_RDWR | O_CREAT | O_TRUNC);
    write(t, v2, 0);
    REQUIRE(t.sync().is_ok());
    REQUIRE(std::rename(tmp.c_str(), idx.c_str()) == 0);
  };

  SUBCASE("rename reverts") {
    replace_without_dir_sync();
    CHECK(content(idx) == v2);
    inj->simulate_power_loss();
    CHECK(content(idx) == v1);
    CHECK_FALSE(std::filesystem::exists(tmp));
  }
  SUBCASE("rename then directory fsync stays") {
    replace_without_dir_sync();
    REQUIRE(sync_directory(dir.path()).is_ok());
    inj->simulate_power_loss();
    CHECK(content(idx) == v2);
  }
  SUBCASE("removal reverts") {
    std::filesystem::remove(idx);
    inj->simulate_power_loss();
    CHECK(content(idx) == v1);
  }
  SUBCASE("removal then directory fsync stays") {
    std::filesystem::remove(idx);
    REQUIRE(sync_directory(dir.path()).is_ok());
    inj->simulate_power_loss();
    CHECK_FALSE(std::filesystem::exists(idx));
  }
  SUBCASE("truncate by O_TRUNC reverts") {
    file t = open_file(idx, O_RDWR | O_TRUNC);
    CHECK(content(idx).empty());
    inj->simulate_power_loss();
    CHECK(content(idx) == v1);
  }
}

TEST_CASE("power loss may keep an ordered prefix of unsynced writes and tear the next one") {
  const std::string all = "aaaabbbbccccdddd";
  std::set<std::string> outcomes;
  bool torn_seen = false;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    CAPTURE(seed);
    const bool torn = seed % 2 == 0;
    scratch_dir dir;
    auto inj = make_injector(seed);
    fi::scoped_install scope(inj);
    file f = open_file(dir.path() / "f");
    REQUIRE(sync_directory(dir.path()).is_ok());
    for (std::size_t i = 0; i < all.size(); i += 4) write(f, all.substr(i, 4), i);
    const auto report = inj->simulate_power_loss(torn ? fi::crash::keep_prefix_torn : fi::crash::keep_prefix);
    CAPTURE(report.detail);
    const auto got = content(dir.path() / "f");
    REQUIRE(got.size() <= all.size());
    // Some prefix of the data, then possibly zeros where the size got ahead of it.
    std::size_t data = 0;
    while (data < got.size() && got[data] == all[data]) ++data;
    CHECK(std::all_of(got.begin() + static_cast<std::ptrdiff_t>(data), got.end(), [](char c) { return c == 0; }));
    if (!torn) {
      CHECK(data == got.size());
      CHECK(got.size() % 4 == 0);
      outcomes.insert(got);
    } else if (got.size() % 4 != 0 || data != got.size()) {
      torn_seen = true;
    }
  }
  CHECK(outcomes.size() == 5);  // nothing, and each of the four prefixes
  CHECK(torn_seen);
}

TEST_CASE("the same seed gives the same power loss") {
  auto run = [](std::uint64_t seed) {
    temp_dir dir;
    auto inj = make_injector(seed);
    fi::scoped_install scope(inj);
    std::string out;
    for (int i = 0; i < 4; ++i) {
      file f = open_file(dir.path() / ("f" + std::to_string(i)));
      for (int j = 0; j < 5; ++j) {
        write(f, std::string(10, static_cast<char>('a' + j)), 10 * static_cast<std::uint64_t>(j));
      }
      if (i % 2 == 0) REQUIRE(sync_directory(dir.path()).is_ok());
    }
    inj->simulate_power_loss(fi::crash::keep_prefix_torn);
    for (int i = 0; i < 4; ++i) {
      const auto p = dir.path() / ("f" + std::to_string(i));
      out += std::filesystem::exists(p) ? content(p) : std::string("<none>");
      out += '|';
    }
    return out;
  };
  CHECK(run(7) == run(7));
  CHECK(run(7) != run(8));
}

TEST_CASE("files open at the power loss are dead afterwards") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  file f = open_file(dir.path() / "f");
  write(f, "kept", 0);
  REQUIRE(f.datasync().is_ok());
  REQUIRE(sync_directory(dir.path()).is_ok());
  inj->simulate_power_loss();
  CHECK(f.pwrite_all(as_bytes(std::string("late")), 0).code == errc::io_error);
  CHECK(f.datasync().code == errc::io_error);
  char buf[4];
  CHECK_FALSE(f.pread_exact(buf, 0).is_ok());
  f.close();
  CHECK(content(dir.path() / "f") == "kept");
  file again = open_file(dir.path() / "f");
  REQUIRE(again.pread_exact(buf, 0).is_ok());
  CHECK(std::string(buf, 4) == "kept");
}

TEST_CASE("a failed fsync loses the unsynced writes for good though reads still see them") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  file f = open_file(dir.path() / "f");
  REQUIRE(sync_directory(dir.path()).is_ok());
  write(f, "AAAA", 0);
  REQUIRE(f.datasync().is_ok());
  write(f, "BBBB", 4);
  fi::fault fault(fi::op::sync, EIO);
  SUBCASE("pages marked clean, as Linux does") {}
  SUBCASE("pages kept dirty") { fault.keeping_unsynced(); }
  inj->add(fault);
  CHECK(f.datasync().code == errc::io_error);
  CHECK(content(dir.path() / "f") == "AAAABBBB");
  REQUIRE(f.datasync().is_ok());  // the retry succeeds...
  inj->simulate_power_loss();
  // ...but only rewrites what is still dirty.
  CHECK(content(dir.path() / "f") == (fault.drop_unsynced ? "AAAA" : "AAAABBBB"));
}

TEST_CASE("damage is on disk and survives a power loss") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  {
    file f = open_file(dir.path() / "f");
    write(f, "abcdef", 0);
    REQUIRE(f.datasync().is_ok());
    REQUIRE(sync_directory(dir.path()).is_ok());
  }
  REQUIRE(fi::flip_bit(dir.path() / "f", 8 * 1 + 1).is_ok());  // 'b' ^ 2 == '`'
  REQUIRE(fi::truncate_file(dir.path() / "f", 4).is_ok());
  CHECK(content(dir.path() / "f") == "a`cd");
  REQUIRE(inj->check_model().is_ok());
  inj->simulate_power_loss();
  CHECK(content(dir.path() / "f") == "a`cd");
  CHECK_FALSE(fi::flip_bit(dir.path() / "f", 8 * 4).is_ok());  // past the end
}

TEST_CASE("check_model catches writes that bypass storage file") {
  temp_dir dir;
  auto inj = make_injector();
  fi::scoped_install scope(inj);
  file f = open_file(dir.path() / "f");
  write(f, "abc", 0);
  REQUIRE(inj->check_model().is_ok());
  append_file_bytes(dir.path() / "f", {'x'});
  const auto s = inj->check_model();
  CHECK(s.code == errc::corrupt);
  CHECK(s.message.find("first difference at byte 3") != std::string::npos);
}


TEST_CASE("reordered writeback leaves holes of zeros and tears pages by sector, never durable bytes") {
  // Issue 9 item 7: the model kept writes in order within a file.
  constexpr std::size_t page = 4096;
  const std::string synced(page + 1000, 's');  // durable, sharing its last page with new data
  std::string fresh;
  for (int i = 0; i < 4; ++i) fresh += std::string(page, static_cast<char>('a' + i));
  bool hole_before_data = false;
  bool torn_page = false;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    CAPTURE(seed);
    scratch_dir dir;
    auto inj = make_injector(seed);
    fi::scoped_install scope(inj);
    file f = open_file(dir.path() / "f");
    REQUIRE(sync_directory(dir.path()).is_ok());
    write(f, synced, 0);
    REQUIRE(f.datasync().is_ok());
    write(f, fresh, synced.size());
    inj->simulate_power_loss(fi::crash::reordered_writeback);
    const auto got = content(dir.path() / "f");
    const std::string all = synced + fresh;
    REQUIRE(got.size() >= synced.size());
    CHECK(got.substr(0, synced.size()) == synced);  // durable bytes, never torn
    // Each sector past them holds its new bytes or zeros.
    bool seen_zero = false;
    for (std::size_t s = 0; s < got.size(); s += 512) {
      const auto n = std::min<std::size_t>(512, got.size() - s);
      const auto part = got.substr(s, n);
      for (std::size_t i = 0; i < n; ++i) {
        const char c = part[i];
        REQUIRE((c == all[s + i] || (c == 0 && s + i >= synced.size())));
      }
      const bool zero = part.find_first_not_of('\0') == std::string::npos;
      if (zero) seen_zero = true;
      if (!zero && seen_zero) hole_before_data = true;
    }
    for (std::size_t p = page; p + page <= got.size(); p += page) {
      const auto pg = got.substr(p, page);
      std::size_t new_sectors = 0;
      for (std::size_t s = 0; s < page; s += 512) new_sectors += pg[s + 511] != 0 ? 1 : 0;
      if (new_sectors > 0 && new_sectors < page / 512 && p > synced.size()) torn_page = true;
    }
  }
  CHECK(hole_before_data);
  CHECK(torn_page);
}

TEST_CASE("a rename survives a power loss whole or not at all") {
  // Issue 9 item 7: the two names of a rename were independent entries, so
  // a power loss could keep both the old and the new name, or neither.
  std::set<std::string> outcomes;
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    CAPTURE(seed);
    scratch_dir dir;
    auto inj = make_injector(seed);
    fi::scoped_install scope(inj);
    {
      file a = open_file(dir.path() / "a");
      write(a, "new", 0);
      REQUIRE(a.sync().is_ok());
      file b = open_file(dir.path() / "b");
      write(b, "old", 0);
      REQUIRE(b.sync().is_ok());
    }
    REQUIRE(sync_directory(dir.path()).is_ok());
    std::filesystem::rename(dir.path() / "a", dir.path() / "b");  // a replaces b
    inj->simulate_power_loss(seed % 2 ? fi::crash::keep_prefix : fi::crash::reordered_writeback);
    const bool has_a = std::filesystem::exists(dir.path() / "a");
    REQUIRE(std::filesystem::exists(dir.path() / "b"));
    const auto b = content(dir.path() / "b");
    outcomes.insert(std::string(has_a ? "a+" : "") + b);
    CHECK((has_a ? b == "old" : b == "new"));
  }
  CHECK(outcomes == std::set<std::string>{"a+old", "new"});
}
