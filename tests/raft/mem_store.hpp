#pragma once
// An in-memory raft::log_store standing for a node's disk: what is in it has
// been fsynced. The simulation and the unit tests carry out a ready's writes
// on it, and a crash keeps exactly its contents.

#include <vector>

#include "raft/log_store.hpp"
#include "raft/node.hpp"
#include "raft/ready.hpp"

namespace herald::raft::test {

class mem_store final : public log_store {
public:
  explicit mem_store(snapshot_meta initial = {}) : snapshot_(std::move(initial)) {}

  snapshot_meta snapshot() const override { return snapshot_; }
  index_t last_index() const override { return snapshot_.index + log_.size(); }
  term_t term_at(index_t i) const override { return at(i).term; }
  void entries(index_t lo, index_t hi, std::uint64_t max_bytes, std::vector<entry>& out) const override;
  bool read_snapshot(index_t snapshot_index, std::uint64_t offset, std::uint64_t max_bytes, bytes& out,
                     bool& done) const override;

  // Writes, in the order ready.hpp prescribes.
  void install_snapshot(const snapshot_meta& meta, bytes data);
  void truncate_from(index_t index);
  void append(const std::vector<entry>& entries);
  void set_hard_state(const hard_state& hs) { hard_ = hs; }
  // All of a ready's writes.
  void persist(const ready& r);
  // Take a snapshot through meta.index and drop the log prefix it covers.
  void compact(const snapshot_meta& meta, bytes data);

  const hard_state& hard() const { return hard_; }
  const bytes& snapshot_data() const { return snapshot_data_; }
  // What a restarted node is given (node.hpp's durable_state).
  durable_state durable() const;
  const entry& at(index_t i) const;

private:
  snapshot_meta snapshot_;
  bytes snapshot_data_;
  std::vector<entry> log_;  // log_[k].index == snapshot_.index + 1 + k
  hard_state hard_;
};

}  // namespace herald::raft::test
