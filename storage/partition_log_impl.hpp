#pragma once
// Private to storage/partition_log*.cpp: the state behind partition_log,
// shared by the write side (partition_log.cpp) and the read side
// (partition_log_read.cpp).

#include <algorithm>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/partition_log.hpp"
#include "storage/segment.hpp"

namespace herald::storage {

inline constexpr std::uint64_t u32_max = std::numeric_limits<std::uint32_t>::max();

inline status corrupt(std::string what) { return {errc::corrupt, std::move(what)}; }

std::filesystem::path damaged_marker_path(const std::filesystem::path& dir);
std::filesystem::path unsynced_marker_path(const std::filesystem::path& dir);
// Writes <dir>/damaged saying why (best effort) and returns errc::damaged.
status mark_damaged(const std::filesystem::path& dir, const status& why);

struct partition_log::impl {
  std::filesystem::path dir;
  log_config cfg;
  recovery_report report;
  std::vector<std::unique_ptr<segment>> segments;  // ascending base offsets; never empty
  std::uint64_t log_start = 0;
  std::uint64_t log_end = 0;
  std::uint64_t durable_end = 0;
  std::uint64_t total_bytes = 0;
  std::uint64_t last_term = 0;     // of the batch holding log_end - 1, when log_start < log_end
  std::vector<segment*> unsynced;  // written to since the last sync
  bool dir_dirty = false;          // a segment file was created since the last directory fsync
  // After a failed fsync Linux may have dropped the dirty pages and a retried
  // fsync can then succeed without them being on disk; so does a segment we
  // could not cut back. Either way only reopening (recovery) restores a state
  // we can vouch for, so the error sticks.
  std::optional<status> failed;
  // roll() failed to make the old segment durable: the caller must cut back
  // (partition_log::fail_sync) before reporting it.
  bool sync_failed = false;
  // The saved durable watermark's position in the active segment (0: none
  // for it); a sync saves a new one every preallocation_step bytes.
  std::uint64_t watermark = 0;

  // After a sync: saves the watermark when it lags by a step (best effort:
  // without it recovery only knows less).
  void advance_watermark(bool force);
  // Before data moves back: the watermark must not claim what is removed.
  status drop_watermark();
  std::vector<char> scratch;

  segment& active() { return *segments.back(); }

  // Offset after the last batch of segments[i].
  std::uint64_t end_of(std::size_t i) const {
    return i + 1 < segments.size() ? segments[i + 1]->base_offset() : log_end;
  }

  // The segment holding `offset`: the last one whose base is <= offset.
  // Precondition: offset >= segments.front()->base_offset().
  std::size_t segment_of(std::uint64_t offset) const {
    auto it = std::upper_bound(segments.begin(), segments.end(), offset,
                               [](std::uint64_t o, const auto& s) { return o < s->base_offset(); });
    return static_cast<std::size_t>(std::prev(it) - segments.begin());
  }

  std::uint64_t preallocate_bytes() const { return cfg.preallocate ? cfg.segment_bytes : 0; }

  status fail(status s) {
    failed = s;
    return s;
  }

  void mark_unsynced(segment* seg) {
    if (std::find(unsynced.begin(), unsynced.end(), seg) == unsynced.end()) unsynced.push_back(seg);
  }

  void forget(segment* seg) { unsynced.erase(std::remove(unsynced.begin(), unsynced.end(), seg), unsynced.end()); }

  bool needs_roll(std::uint64_t batch_bytes, std::uint32_t last_offset_delta) {
    const segment& seg = active();
    if (seg.size() == 0) return false;  // a batch too big for any segment still gets one alone
    return seg.size() + batch_bytes > cfg.segment_bytes ||
           seg.size() + batch_bytes > u32_max ||  // index positions are u32
           log_end + last_offset_delta - seg.base_offset() > u32_max;  // so are relative offsets
  }

  // `offset` is not in [log_start, log_end] (or [log_start, log_end)).
  status out_of_range(std::uint64_t offset, bool end_included) const {
    return {errc::offset_out_of_range, "offset " + std::to_string(offset) + " is outside [" +
                                           std::to_string(log_start) + ", " + std::to_string(log_end) +
                                           (end_included ? "]" : ")")};
  }

  status roll();
  result<append_result> append(std::span<const char> batch, std::uint64_t term, partition_log::check how);
  result<std::uint64_t> term_of(std::uint64_t offset) const;
  status drop_below_start();
  // partition_log_read.cpp: corruption found by a read marks the log damaged.
  status damage_found(status s) const;
  // partition_log_read.cpp: the batch walk read() and read_ranges() share.
  template <class Take>
  status walk_batches(std::uint64_t offset, std::uint32_t max_bytes, std::uint64_t upto, std::uint64_t& taken,
                      std::uint64_t& next, Take&& take) const;
};

} // namespace herald::storage
