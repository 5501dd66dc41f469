#pragma once
// CRC32C (Castagnoli), hardware accelerated through ISA-L's crc32_iscsi.
// crc32c("123456789") == 0xE3069283. `seed` continues a previous crc32c() so a
// checksum can be computed over several pieces.

#include <cstddef>
#include <cstdint>

namespace herald::storage {

std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t seed = 0);

} // namespace herald::storage
