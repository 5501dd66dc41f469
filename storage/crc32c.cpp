#include "storage/crc32c.hpp"

#include <isa-l/crc.h>

#include <algorithm>

namespace herald::storage {

std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t seed) {
  // crc32_iscsi works on the raw CRC register (no pre/post inversion), so the
  // standard CRC32C is ~crc32_iscsi(buf, len, ~seed); inverting on both sides
  // also makes `seed` chain across pieces. Its length is an int, hence the
  // chunking for buffers of 2 GiB and more.
  constexpr std::size_t max_chunk = std::size_t{1} << 30;
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  std::uint32_t reg = ~seed;
  while (size > 0) {
    const std::size_t n = std::min(size, max_chunk);
    reg = crc32_iscsi(p, static_cast<int>(n), reg);
    p += n;
    size -= n;
  }
  return ~reg;
}

} // namespace herald::storage
