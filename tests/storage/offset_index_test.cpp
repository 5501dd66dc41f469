#include <doctest/doctest.h>

#include "storage/offset_index.hpp"

using namespace herald::storage;
using entry = offset_index::entry;

TEST_CASE("offset_index keeps one entry per interval and finds the floor entry") {
  offset_index index(100);
  // Batches of 40 bytes, 2 offsets each, at positions 0, 40, 80, ...
  for (std::uint32_t i = 0; i < 10; ++i) index.on_batch(2 * i, 40 * i);
  // Entries where at least 100 bytes separate them from the previous one.
  const std::vector<entry> expected{{6, 120}, {12, 240}, {18, 360}};
  CHECK(index.entries() == expected);

  CHECK(index.lookup(0) == entry{0, 0});
  CHECK(index.lookup(5) == entry{0, 0});
  CHECK(index.lookup(6) == entry{6, 120});
  CHECK(index.lookup(11) == entry{6, 120});
  CHECK(index.lookup(12) == entry{12, 240});
  CHECK(index.lookup(1ull << 40) == entry{18, 360});

  SUBCASE("an interval of 0 indexes every batch but the first") {
    offset_index dense(0);
    for (std::uint32_t i = 0; i < 4; ++i) dense.on_batch(i, 8 * i);
    CHECK(dense.entries().size() == 3);
  }
}

TEST_CASE("offset_index file bytes roundtrip and bad files are refused") {
  offset_index index(0);
  index.on_batch(0, 0);
  index.on_batch(3, 80);
  index.on_batch(0x01020304, 0x0a0b0c0d);
  const auto bytes = index.encode();
  REQUIRE(bytes.size() == 16);
  CHECK(static_cast<unsigned char>(bytes[0]) == 3);  // u32 LE relative offset
  CHECK(static_cast<unsigned char>(bytes[4]) == 80); // u32 LE position
  CHECK(static_cast<unsigned char>(bytes[8]) == 0x04);
  CHECK(static_cast<unsigned char>(bytes[15]) == 0x0a);

  auto back = offset_index::decode(bytes, 0, 0x10000000);
  REQUIRE(back.has_value());
  CHECK(back->entries() == index.entries());

  CHECK(offset_index::decode({}, 0, 100)->entries().empty());
  std::vector<char> odd = bytes;
  odd.push_back(0);
  CHECK(offset_index::decode(odd, 0, 0x10000000).error().code == errc::corrupt);
  // Position beyond the segment.
  CHECK(offset_index::decode(bytes, 0, 0x0a0b0c0d).error().code == errc::corrupt);
  // Out of order.
  std::vector<char> swapped(bytes.begin() + 8, bytes.end());
  swapped.insert(swapped.end(), bytes.begin(), bytes.begin() + 8);
  CHECK(offset_index::decode(swapped, 0, 0x10000000).error().code == errc::corrupt);
  // An entry for position 0 is never written, so it is damage.
  std::vector<char> zero(8, 0);
  CHECK(offset_index::decode(zero, 0, 100).error().code == errc::corrupt);
}
