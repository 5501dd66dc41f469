#pragma once
// A replica whose storage is damaged (storage::errc::damaged: corruption a
// crash cannot explain, kept with a <dir>/damaged marker; see
// storage/partition_log.hpp). Until someone repairs it (repair from peers is
// future work; for now an operator restores the directory and removes the
// marker) it must not count for anything: it does not vote, does not
// acknowledge appends, serves nothing, and says why wherever it is asked.
// What it answers is decided here, without CAF; actors/partition_damaged.*
// is the shell.

#include <string>
#include <string_view>
#include <vector>

#include "storage/status.hpp"

namespace herald::replication {

// How a damaged replica's state is recognised in describe output.
inline constexpr std::string_view damaged_prefix = "partition damaged: ";

// Whether opening the replica failed because its data is damaged (so the
// replica waits for repair instead of crash-looping).
inline bool is_damaged(const storage::status& s) { return s.code == storage::errc::damaged; }

// The client Response (schema/client.capnp) for any request to it: error
// partitionDamaged with `why`.
std::vector<char> damaged_response(const std::string& partition, const std::string& why);

// The line describe shows for it.
std::string damaged_description(const std::string& why);

} // namespace herald::replication
