#include <doctest/doctest.h>

#include <filesystem>

#include "storage/hard_state.hpp"
#include "storage/log_start.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using namespace herald::storage::test;

TEST_CASE("hard_state round trips and a new directory has none") {
  temp_dir dir;
  auto none = load_hard_state(dir.path());
  REQUIRE_MESSAGE(none.has_value(), none.error().message);
  CHECK_FALSE(none->has_value());

  REQUIRE(save_hard_state(dir.path(), {5, 3}).is_ok());
  auto first = load_hard_state(dir.path());
  REQUIRE(first.has_value());
  REQUIRE(first->has_value());
  CHECK(**first == hard_state{5, 3});

  // Overwritten in place of the old one: a new term with no vote yet.
  REQUIRE(save_hard_state(dir.path(), {0xfedcba9876543210ull, -1}).is_ok());
  auto second = load_hard_state(dir.path());
  REQUIRE(second.has_value());
  CHECK(**second == hard_state{0xfedcba9876543210ull, -1});

  // The layout of hard_state.hpp, byte by byte.
  const auto bytes = read_file_bytes(dir.path() / "hard_state");
  REQUIRE(bytes.size() == 28);
  CHECK(std::string(bytes.begin(), bytes.begin() + 4) == "HHHS");
  CHECK(bytes[4] == 1);
  CHECK(static_cast<unsigned char>(bytes[8]) == 0x10);   // term, little-endian
  CHECK(static_cast<unsigned char>(bytes[15]) == 0xfe);
  CHECK(static_cast<unsigned char>(bytes[16]) == 0xff);  // voted_for -1
  CHECK_FALSE(std::filesystem::exists(dir.path() / "hard_state.tmp"));
}

TEST_CASE("hard_state with any flipped byte is corrupt and never read as empty") {
  temp_dir dir;
  REQUIRE(save_hard_state(dir.path(), {7, 2}).is_ok());
  const auto path = dir.path() / "hard_state";
  const auto good = read_file_bytes(path);
  for (std::size_t i = 0; i < good.size(); ++i) {
    CAPTURE(i);
    auto bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    write_file_bytes(path, bad);
    auto loaded = load_hard_state(dir.path());
    REQUIRE_FALSE(loaded.has_value());
    CHECK(loaded.error().code == errc::corrupt);
  }
  SUBCASE("short file") {
    write_file_bytes(path, std::vector<char>(good.begin(), good.begin() + 20));
    CHECK(load_hard_state(dir.path()).error().code == errc::corrupt);
  }
  SUBCASE("empty file") {
    write_file_bytes(path, {});
    CHECK(load_hard_state(dir.path()).error().code == errc::corrupt);
  }
  SUBCASE("a temp file left by a crash during a save is ignored") {
    write_file_bytes(path, good);
    write_file_bytes(dir.path() / "hard_state.tmp", std::vector<char>(9, 'x'));
    auto loaded = load_hard_state(dir.path());
    REQUIRE(loaded.has_value());
    CHECK(**loaded == hard_state{7, 2});
  }
}

TEST_CASE("the log_start file round trips and a flipped byte is corrupt") {
  temp_dir dir;
  CHECK_FALSE(load_log_start(dir.path())->has_value());
  REQUIRE(save_log_start(dir.path(), 1234567).is_ok());
  CHECK(**load_log_start(dir.path()) == 1234567);
  const auto path = dir.path() / "log_start";
  const auto good = read_file_bytes(path);
  REQUIRE(good.size() == 20);
  CHECK(std::string(good.begin(), good.begin() + 4) == "HLGS");
  for (std::size_t i = 0; i < good.size(); ++i) {
    CAPTURE(i);
    auto bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x40);
    write_file_bytes(path, bad);
    CHECK(load_log_start(dir.path()).error().code == errc::corrupt);
  }
}
