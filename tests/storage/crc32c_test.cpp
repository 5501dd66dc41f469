#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "storage/crc32c.hpp"

using herald::storage::crc32c;

TEST_CASE("crc32c matches the standard check value") {
  const char* s = "123456789";
  CHECK(crc32c(s, 9) == 0xE3069283u);
}

TEST_CASE("crc32c of nothing is zero and seeds chain pieces") {
  CHECK(crc32c(nullptr, 0) == 0u);
  const std::string data = "The quick brown fox jumps over the lazy dog";
  const auto whole = crc32c(data.data(), data.size());
  CHECK(whole == 0x22620404u);  // published CRC32C of this sentence
  for (std::size_t cut = 0; cut <= data.size(); ++cut) {
    const auto first = crc32c(data.data(), cut);
    CHECK(crc32c(data.data() + cut, data.size() - cut, first) == whole);
  }
}
