#pragma once
// A small record file replaced atomically and guarded by a CRC, the shape
// shared by log_start and hard_state:
//
//  off  size  field
//    0     4  magic     u32, little-endian, names the file's kind
//    4     4  version   u32, little-endian
//    8     n  body      the caller's fields
//  8+n     4  crc       CRC32C of bytes [0, 8+n)
//
// Written with storage/atomic_file (temp file, fsync, rename, fsync of the
// directory), so a crash leaves the old or the new record. Any damage (size,
// CRC, magic, version) is errc::corrupt: these files hold what cannot be
// guessed.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <vector>

#include "storage/status.hpp"

namespace herald::storage {

status save_checksummed_file(const std::filesystem::path& path, std::uint32_t magic, std::uint32_t version,
                             std::span<const char> body);

// The body (exactly `body_size` bytes), or nullopt when the file does not exist.
result<std::optional<std::vector<char>>> load_checksummed_file(const std::filesystem::path& path,
                                                               std::uint32_t magic, std::uint32_t version,
                                                               std::size_t body_size);

} // namespace herald::storage
