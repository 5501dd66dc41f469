#include "replication/cleaner_plan.hpp"

#include <algorithm>
#include <limits>

namespace herald::replication {

std::vector<std::uint64_t> committed_closed_segments(const cleaner_view& view) {
  const auto& bases = view.closed_bases;
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < bases.size(); ++i) {
    const std::uint64_t end = i + 1 < bases.size() ? bases[i + 1] : view.active_base;
    if (end > view.high_watermark) break;
    out.push_back(bases[i]);
  }
  return out;
}

std::optional<cleaner_job> plan_cleaning(cleaner_state& st, const cleaner_view& view,
                                         const cluster::topic_config& config, const std::filesystem::path& dir,
                                         std::int64_t now_ms) {
  if (st.running) return std::nullopt;
  const auto committed = committed_closed_segments(view);
  if (committed.empty()) return std::nullopt;
  cleaner_job job;
  job.dir = dir;
  job.max_output_bytes = config.segment_bytes;
  job.policy.now_ms = now_ms;
  job.policy.tombstone_retention_ms = std::numeric_limits<std::int64_t>::max();
  if (config.compact) {
    auto from = std::lower_bound(committed.begin(), committed.end(), st.compact_next_base);
    if (from == committed.end()) from = committed.begin();  // a new pass
    job.bases.assign(from, committed.end());
    job.policy.compact_keys = true;
    job.policy.min_lag_ms = config.min_compaction_lag_ms;
    if (job.bases.front() == committed.front() && committed.front() == view.closed_bases.front())
      job.policy.tombstone_retention_ms = config.tombstone_retention_ms;
    return job;
  }
  // Forget segments that retention or a merge has removed since.
  const auto& closed = view.closed_bases;
  std::erase_if(st.ttl_cleaned, [&](std::uint64_t b) { return !std::binary_search(closed.begin(), closed.end(), b); });
  for (auto base : committed)
    if (st.ttl_cleaned.count(base) == 0) {
      job.bases.push_back(base);
      return job;
    }
  return std::nullopt;
}

bool note_cleaned(cleaner_state& st, const storage::cleaned_segments& c, const cluster::topic_config& config) {
  st.compact_next_base = c.end_offset;
  if (!config.compact) st.ttl_cleaned.insert(c.bases.begin(), c.bases.end());
  return !(c.report.records_removed == 0 && c.bases.size() == 1);
}

}  // namespace herald::replication
