#include "raft/raft_log.hpp"

namespace herald::raft {

raft_log::raft_log(const log_store& store)
    : store_(store), snapshot_(store.snapshot()), offset_(store.last_index() + 1) {
  if (offset_ <= snapshot_.index) throw invariant_violation("log store ends before its snapshot");
}

std::optional<term_t> raft_log::term_at(index_t i) const {
  if (i == snapshot_.index) return snapshot_.term;
  if (i < snapshot_.index || i > last_index()) return std::nullopt;
  if (i >= offset_) return unstable_[i - offset_].term;
  return store_.term_at(i);
}

std::optional<entry> raft_log::entry_at(index_t i) const {
  if (i < first_index() || i > last_index()) return std::nullopt;
  auto v = slice(i, i, 0, 1);
  return v.front();
}

std::vector<entry> raft_log::slice(index_t lo, index_t hi, std::uint64_t max_bytes, std::size_t max_count) const {
  std::vector<entry> out;
  if (lo > hi || lo < first_index() || max_count == 0) return out;
  if (hi > last_index()) hi = last_index();
  std::uint64_t total = 0;
  if (lo < offset_) {
    const index_t durable_hi = hi < offset_ ? hi : offset_ - 1;
    store_.entries(lo, durable_hi, max_bytes, out);
    if (out.size() > max_count) out.resize(max_count);
    for (const auto& e : out) total += e.size_bytes();
    // Stopped early by the byte or count limit: don't add unstable entries.
    if (out.size() < durable_hi - lo + 1 || out.size() == max_count) return out;
    lo = offset_;
  }
  for (index_t i = lo; i <= hi && out.size() < max_count; ++i) {
    const entry& e = unstable_[i - offset_];
    if (!out.empty() && total + e.size_bytes() > max_bytes) break;
    total += e.size_bytes();
    out.push_back(e);
  }
  return out;
}

bool raft_log::is_up_to_date(index_t last_log_index, term_t last_log_term) const {
  const term_t mine = last_term();
  return last_log_term > mine || (last_log_term == mine && last_log_index >= last_index());
}

void raft_log::append(entry e) {
  if (e.index != last_index() + 1) throw invariant_violation("append out of order");
  unstable_.push_back(std::move(e));
}

void raft_log::truncate_from(index_t i) {
  if (i < first_index() || i > last_index() + 1) throw invariant_violation("truncate outside the log");
  if (i >= offset_) {
    const std::size_t keep = i - offset_;
    unstable_.resize(keep);
    // The host may be writing the entries we just dropped: have it drop them.
    if (keep < handed_) {
      handed_ = keep;
      truncate_pending_ = true;
    }
  } else {
    // Durable entries are dropped: nothing in memory survives, and the next
    // ready must tell the host where to cut.
    unstable_.clear();
    offset_ = i;
    handed_ = 0;
    truncate_pending_ = true;
  }
}

void raft_log::restore(const snapshot_meta& meta) {
  snapshot_ = meta;
  unstable_.clear();
  offset_ = meta.index + 1;
  handed_ = 0;
  // Installing the snapshot discards the host's whole log: no cut needed.
  truncate_pending_ = false;
}

void raft_log::compacted(const snapshot_meta& meta) {
  if (meta.index <= snapshot_.index) return;
  if (meta.index >= offset_) throw invariant_violation("compaction beyond the durable log");
  snapshot_ = meta;
}

void raft_log::take_unhanded(std::optional<index_t>& truncate_from, std::vector<entry>& out) {
  if (handed_ != 0) throw invariant_violation("ready taken while the previous one is not persisted");
  if (truncate_pending_) truncate_from = offset_;
  truncate_pending_ = false;
  out.assign(unstable_.begin(), unstable_.end());
  handed_ = unstable_.size();
}

void raft_log::on_persisted() {
  unstable_.erase(unstable_.begin(), unstable_.begin() + static_cast<std::ptrdiff_t>(handed_));
  offset_ += handed_;
  handed_ = 0;
}

}  // namespace herald::raft
