#include "tests/raft/mem_store.hpp"

#include <algorithm>

#include "raft/configuration.hpp"

namespace herald::raft::test {

const entry& mem_store::at(index_t i) const {
  if (i <= snapshot_.index || i > last_index()) throw invariant_violation("mem_store: index outside the log");
  return log_[i - snapshot_.index - 1];
}

void mem_store::entries(index_t lo, index_t hi, std::uint64_t max_bytes, std::vector<entry>& out) const {
  if (lo > hi || lo <= snapshot_.index || hi > last_index())
    throw invariant_violation("mem_store: entries() outside the log");
  std::uint64_t total = 0;
  for (index_t i = lo; i <= hi; ++i) {
    const entry& e = at(i);
    if (i != lo && total + e.size_bytes() > max_bytes) break;
    total += e.size_bytes();
    out.push_back(e);
  }
}

bool mem_store::read_snapshot(index_t snapshot_index, std::uint64_t offset, std::uint64_t max_bytes, bytes& out,
                              bool& done) const {
  if (snapshot_index != snapshot_.index || offset > snapshot_data_.size()) return false;
  const std::uint64_t n = std::min<std::uint64_t>(max_bytes, snapshot_data_.size() - offset);
  out.assign(snapshot_data_.begin() + static_cast<std::ptrdiff_t>(offset),
             snapshot_data_.begin() + static_cast<std::ptrdiff_t>(offset + n));
  done = offset + n == snapshot_data_.size();
  return true;
}

void mem_store::install_snapshot(const snapshot_meta& meta, bytes data) {
  snapshot_ = meta;
  snapshot_data_ = std::move(data);
  log_.clear();
}

void mem_store::truncate_from(index_t index) {
  if (index <= snapshot_.index) throw invariant_violation("mem_store: truncating into the snapshot");
  if (index <= last_index()) log_.resize(index - snapshot_.index - 1);
}

void mem_store::append(const std::vector<entry>& entries) {
  for (const entry& e : entries) {
    if (e.index != last_index() + 1) throw invariant_violation("mem_store: append leaves a gap or overlaps");
    log_.push_back(e);
  }
}

void mem_store::persist(const ready& r) {
  if (r.snapshot) install_snapshot(*r.snapshot, r.snapshot_data);
  if (r.truncate_from) truncate_from(*r.truncate_from);
  append(r.entries);
  if (r.hard) hard_ = *r.hard;
}

void mem_store::compact(const snapshot_meta& meta, bytes data) {
  if (meta.index <= snapshot_.index) return;
  if (meta.index > last_index()) throw invariant_violation("mem_store: compacting past the end");
  log_.erase(log_.begin(), log_.begin() + static_cast<std::ptrdiff_t>(meta.index - snapshot_.index));
  snapshot_ = meta;
  snapshot_data_ = std::move(data);
}

durable_state mem_store::durable() const {
  durable_state d;
  d.hard = hard_;
  for (const entry& e : log_)
    if (e.kind == entry_kind::configuration) d.log_configs.emplace_back(e.index, *decode_configuration(*e.data));
  return d;
}

}  // namespace herald::raft::test
