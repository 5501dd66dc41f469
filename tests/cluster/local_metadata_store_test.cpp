// cluster::local_metadata_store: metadata.bin survives, and damage to it is
// found, not believed (issue 9 item 6).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "cluster/local_metadata_store.hpp"
#include "storage/fault_injection.hpp"
#include "tests/support/process.hpp"

using namespace herald;
using herald::test::temp_dir;

namespace {

std::vector<char> bytes_of(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

cluster::topic_descriptor topic(const std::string& name, std::uint32_t partitions) {
  cluster::topic_descriptor t;
  t.name = name;
  t.partition_count = partitions;
  return t;
}

} // namespace

TEST_CASE("topics persist across a reopen") {
  temp_dir dir;
  {
    auto store = cluster::local_metadata_store::open(dir.path(), 1);
    REQUIRE(store.has_value());
    REQUIRE((*store)->create(topic("orders", 3)).has_value());
    REQUIRE((*store)->create(topic("events", 1)).has_value());
  }
  auto store = cluster::local_metadata_store::open(dir.path(), 1);
  REQUIRE(store.has_value());
  REQUIRE((*store)->topics().size() == 2);
  CHECK((*store)->find("orders")->partition_count == 3);
  CHECK((*store)->find("events")->id != (*store)->find("orders")->id);
}

TEST_CASE("a topic's owner persists - a topic without one has none") {
  temp_dir dir;
  {
    auto store = cluster::local_metadata_store::open(dir.path(), 1);
    REQUIRE(store.has_value());
    auto owned = topic("orders", 3);
    owned.owner = "User:alice";
    REQUIRE((*store)->create(owned).has_value());
    REQUIRE((*store)->create(topic("events", 1)).has_value());
  }
  auto store = cluster::local_metadata_store::open(dir.path(), 1);
  REQUIRE(store.has_value());
  CHECK((*store)->find("orders")->owner == "User:alice");
  CHECK((*store)->find("events")->owner.empty());
}

TEST_CASE("any flipped bit in metadata.bin is refused, not believed") {
  // Before the frame, a flipped bit in a topic id parsed fine and pointed
  // the topic at a new, empty directory.
  temp_dir dir;
  {
    auto store = cluster::local_metadata_store::open(dir.path(), 1);
    REQUIRE(store.has_value());
    REQUIRE((*store)->create(topic("orders", 3)).has_value());
  }
  const auto file = dir.path() / "metadata.bin";
  const auto original = bytes_of(file);
  for (std::uint64_t bit = 0; bit < original.size() * 8; bit += 7) {
    CAPTURE(bit);
    REQUIRE(storage::fault_injection::flip_bit(file, bit).is_ok());
    auto store = cluster::local_metadata_store::open(dir.path(), 1);
    CHECK_FALSE(store.has_value());
    REQUIRE(storage::fault_injection::flip_bit(file, bit).is_ok());
  }
  CHECK(bytes_of(file) == original);
  CHECK(cluster::local_metadata_store::open(dir.path(), 1).has_value());
}
