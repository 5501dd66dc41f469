#pragma once
// The core's view of its log: the durable store (log_store) below, an
// in-memory "unstable" tail above it holding entries not yet acknowledged
// as durable, and the snapshot meta that the log starts after.
//
//   (snapshot.index]  (snapshot.index, offset)        [offset, last_index]
//    compacted         durable, read from the store    unstable, in memory
//
// The unstable tail is split once more: its first `handed` entries are in the
// ready the host is persisting now; the rest go in the next ready. A
// truncation that reaches below what the host may already have written sets
// truncate_pending, and the next ready says "truncate from" so the host drops
// them before appending.
//
// Invariants: snapshot.index < offset; entries are contiguous from offset;
// entries below offset are durable and are the ones this log holds.

#include <deque>
#include <optional>
#include <vector>

#include "raft/log_store.hpp"
#include "raft/types.hpp"

namespace herald::raft {

class raft_log {
public:
  explicit raft_log(const log_store& store);

  const log_store& store() const { return store_; }
  const snapshot_meta& snapshot() const { return snapshot_; }
  index_t first_index() const { return snapshot_.index + 1; }
  index_t last_index() const { return offset_ + unstable_.size() - 1; }
  term_t last_term() const { return *term_at(last_index()); }
  // Everything below here is durable and in the store (the leader counts
  // itself towards a quorum only up to this index).
  index_t durable_last_index() const { return offset_ - 1; }

  // Term of entry i: the snapshot's term at its index, nothing for compacted
  // indices or beyond the end.
  std::optional<term_t> term_at(index_t i) const;
  std::optional<entry> entry_at(index_t i) const;

  // Entries [lo, hi] limited by max_bytes (at least one) and max_count.
  // Requires first_index() <= lo.
  std::vector<entry> slice(index_t lo, index_t hi, std::uint64_t max_bytes, std::size_t max_count) const;

  // Section 5.4.1's "at least as up-to-date as": by last term, then length.
  bool is_up_to_date(index_t last_log_index, term_t last_log_term) const;

  void append(entry e);              // e.index == last_index() + 1
  void truncate_from(index_t i);     // drop [i, last_index()]; first_index() <= i
  void restore(const snapshot_meta& meta);   // a snapshot replaces the whole log
  void compacted(const snapshot_meta& meta); // the host removed the prefix through meta.index

  // Persistence hand-off (node::take_ready / node::on_persisted).
  bool has_unhanded() const { return truncate_pending_ || handed_ < unstable_.size(); }
  void take_unhanded(std::optional<index_t>& truncate_from, std::vector<entry>& out);
  void on_persisted();

private:
  const log_store& store_;
  snapshot_meta snapshot_;
  index_t offset_;
  std::deque<entry> unstable_;
  std::size_t handed_ = 0;
  bool truncate_pending_ = false;
};

}  // namespace herald::raft
