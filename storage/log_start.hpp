#pragma once
// The persisted log start offset of a partition log. Segments are deleted
// whole, so the first segment's base offset is only a lower bound of the log
// start; remove_prefix() (a Raft snapshot, a delete-records) and retention
// may put it inside a segment, and it must not move back after a restart:
// records below it were given up on purpose.
//
// File format (<dir>/log_start, 20 bytes, integers little-endian), replaced
// atomically (storage/atomic_file: temp file, fsync, rename, fsync of the
// directory):
//
//  off size field      meaning
//    0    4 magic      0x53474c48 ("HLGS" in file order)
//    4    4 version    1
//    8    8 log_start  u64, first offset of the log
//   16    4 crc        CRC32C of bytes [0, 16)
//
// The file is written before any segment below the new start is deleted, so
// a crash in between leaves segments wholly below the start, which open()
// deletes. A missing file means the log starts at its first segment; a
// damaged one is errc::corrupt (the start cannot be guessed).

#include <cstdint>
#include <filesystem>
#include <optional>

#include "storage/status.hpp"

namespace herald::storage {

// Durable on return.
status save_log_start(const std::filesystem::path& dir, std::uint64_t log_start);

// nullopt when the file does not exist.
result<std::optional<std::uint64_t>> load_log_start(const std::filesystem::path& dir);

} // namespace herald::storage
