// The partition's cleaner: reclaims expired records (per-record TTL) and,
// under cleanup policy compact, keeps only each key's latest record and
// merges small segments (storage/compaction.hpp). The rewrite runs on a
// detached worker actor, off the partition actor's thread, over closed
// segments that are wholly committed (closed segment files never change);
// the partition actor then swaps the result in (replace_segments), which
// refuses a result that retention, truncation or a roll made stale.
//
// Every batch stays (each is a Raft entry with its offsets): only records
// thin out, so the Raft index -> offset map is untouched. Replicas clean on
// their own schedule, so their bytes differ where they cleaned differently;
// what a consumer reads is the same.
//
// Which segments: under delete, each closed segment once (TTL only); under
// compact, passes from the first closed segment to the last, one output
// (up to segment_bytes) per round; tombstones are dropped only by a pass
// that started at the log's first segment, so no older value of their key
// can survive them.

#include <algorithm>
#include <limits>

#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/partition_state.hpp"

namespace herald::actors {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
    .count();
}

struct cleaner_job {
  std::filesystem::path dir;
  std::vector<std::uint64_t> bases;
  storage::compaction_policy policy;
  std::uint64_t max_output_bytes = 0;
};

void cleaner_worker(caf::event_based_actor* self, std::shared_ptr<const cleaner_job> job, caf::actor reply_to) {
  cleaner_outcome out;
  auto cleaned = storage::compact_segments(job->dir, job->bases, job->policy, job->max_output_bytes);
  if (cleaned)
    out.cleaned = std::move(*cleaned);
  else
    out.error = cleaned.error().message;
  self->send(reply_to, cleaned_atom::value, std::move(out));
  self->quit();
}

// Closed segments whose every batch is below the high watermark.
std::vector<std::uint64_t> committed_closed_segments(partition_state& st) {
  auto bases = st.log().closed_segment_bases();
  const auto hw = st.high_watermark();
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < bases.size(); ++i) {
    const std::uint64_t end = i + 1 < bases.size() ? bases[i + 1] : st.log().active_segment_base();
    if (end > hw) break;
    out.push_back(bases[i]);
  }
  return out;
}

} // namespace

void start_cleaner(partition_ptr self) {
  auto& st = self->state;
  if (st.cleaning) return;
  const auto committed = committed_closed_segments(st);
  if (committed.empty()) return;
  auto job = std::make_shared<cleaner_job>();
  job->dir = st.args.dir;
  job->max_output_bytes = st.args.config.segment_bytes;
  job->policy.now_ms = now_ms();
  job->policy.tombstone_retention_ms = std::numeric_limits<std::int64_t>::max();
  if (st.args.config.compact) {
    auto from = std::lower_bound(committed.begin(), committed.end(), st.compact_next_base);
    if (from == committed.end()) from = committed.begin();  // a new pass
    job->bases.assign(from, committed.end());
    job->policy.compact_keys = true;
    job->policy.min_lag_ms = st.args.config.min_compaction_lag_ms;
    if (job->bases.front() == committed.front() && committed.front() == st.log().closed_segment_bases().front())
      job->policy.tombstone_retention_ms = st.args.config.tombstone_retention_ms;
  } else {
    // Forget segments that retention or a merge has removed since.
    const auto closed = st.log().closed_segment_bases();
    std::erase_if(st.ttl_cleaned, [&](std::uint64_t b) { return !std::binary_search(closed.begin(), closed.end(), b); });
    for (auto base : committed)
      if (st.ttl_cleaned.count(base) == 0) {
        job->bases.push_back(base);
        break;
      }
    if (job->bases.empty()) return;
  }
  st.cleaning = true;
  self->spawn<caf::detached>(cleaner_worker, std::shared_ptr<const cleaner_job>(job),
                             caf::actor_cast<caf::actor>(self));
}

void finish_cleaner(partition_ptr self, cleaner_outcome& outcome) {
  auto& st = self->state;
  st.cleaning = false;
  const std::string name = st.args.topic + "/" + std::to_string(st.args.partition);
  if (!outcome.cleaned) {
    spdlog::warn("{}: cleaner failed: {}", name, outcome.error);
    return;
  }
  const auto& c = *outcome.cleaned;
  st.compact_next_base = c.end_offset;
  if (!st.args.config.compact) st.ttl_cleaned.insert(c.bases.begin(), c.bases.end());
  if (c.report.records_removed == 0 && c.bases.size() == 1) {
    std::error_code ec;
    std::filesystem::remove(c.path, ec);  // nothing to gain from the swap
    return;
  }
  if (auto s = st.log().replace_segments(c); !s) {
    spdlog::warn("{}: cleaned segments not swapped in: {}", name, s.message);
    return;
  }
  spdlog::info("{}: cleaner merged {} segment(s) from offset {}: {} record(s) removed, {} -> {} bytes", name,
               c.bases.size(), c.bases.front(), c.report.records_removed, c.report.bytes_before, c.report.bytes_after);
}

} // namespace herald::actors
