#pragma once
// The partition cleaner's decisions, without actors: which closed segments
// the next cleaning pass takes, and what its outcome changes. The worker
// that runs storage::compact_segments() and the swap stay in the shell
// (actors/partition_cleaner.cpp) and the replica (partition_replica.cpp).
//
// Which segments: only closed segments wholly below the high watermark
// (committed, and closed files never change). Under cleanup policy delete,
// each such segment once (per-record TTL only); under compact, passes from
// the first closed segment to the last, one output (up to segment_bytes)
// per round; tombstones are dropped only by a pass that started at the
// log's first segment, so no older value of their key can survive them.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/topic.hpp"
#include "storage/compaction.hpp"

namespace herald::replication {

// What a cleaner worker is given.
struct cleaner_job {
  std::filesystem::path dir;
  std::vector<std::uint64_t> bases;
  storage::compaction_policy policy;
  std::uint64_t max_output_bytes = 0;
};

// What a cleaner worker reports back.
struct cleaner_outcome {
  std::optional<storage::cleaned_segments> cleaned;
  std::string error;
};

// The cleaner's memory between passes.
struct cleaner_state {
  bool running = false;                  // one worker at a time
  std::set<std::uint64_t> ttl_cleaned;   // delete policy: segments already swept once
  std::uint64_t compact_next_base = 0;   // compact policy: where the next pass starts
};

// The partition as the planner sees it.
struct cleaner_view {
  std::vector<std::uint64_t> closed_bases;  // ascending
  std::uint64_t active_base = 0;
  std::uint64_t high_watermark = 0;
};

// Closed segments whose every batch is below the high watermark.
std::vector<std::uint64_t> committed_closed_segments(const cleaner_view& view);

// The next job, or none when there is nothing to do. Updates st.ttl_cleaned
// (forgets segments that are gone); does not set st.running.
std::optional<cleaner_job> plan_cleaning(cleaner_state& st, const cleaner_view& view,
                                         const cluster::topic_config& config, const std::filesystem::path& dir,
                                         std::int64_t now_ms);

// Bookkeeping after a successful pass; whether swapping the result in is
// worth it (false: nothing removed from a single segment; discard it).
bool note_cleaned(cleaner_state& st, const storage::cleaned_segments& c, const cluster::topic_config& config);

}  // namespace herald::replication
