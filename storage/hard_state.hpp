#pragma once
// The Raft state a replica must never forget across a restart: its current
// term and whom it voted for in that term. Forgetting either lets a node
// vote twice in one term, which is how two leaders get elected. The caller
// saves it (and waits for the save) before answering any message that
// depends on it.
//
// File format (<dir>/hard_state, 28 bytes, integers little-endian), replaced
// atomically (storage/atomic_file: temp file, fsync, rename, fsync of the
// directory), so a crash leaves the old state or the new one:
//
//  off size field      meaning
//    0    4 magic      0x53484848 ("HHHS" in file order)
//    4    4 version    1
//    8    8 term       u64
//   16    8 voted_for  i64 node id; -1 when no vote was cast in `term`
//   24    4 crc        CRC32C of bytes [0, 24)
//
// The CRC covers the magic and version too, so any damage reads as
// errc::corrupt rather than as a different version. A damaged file is an
// error, never an empty state: starting over at term 0 with no vote is the
// double-vote the file exists to prevent; an operator must decide.

#include <cstdint>
#include <filesystem>
#include <optional>

#include "storage/status.hpp"

namespace herald::storage {

struct hard_state {
  std::uint64_t term = 0;
  std::int64_t voted_for = -1;
  friend bool operator==(const hard_state&, const hard_state&) = default;
};

// Durable on return. `dir` must exist.
status save_hard_state(const std::filesystem::path& dir, const hard_state& state);

// nullopt when no state was ever saved in `dir`; errc::corrupt when the file
// fails its checks; errc::io_error when it cannot be read.
result<std::optional<hard_state>> load_hard_state(const std::filesystem::path& dir);

} // namespace herald::storage
