#pragma once
// What the core asks its host to do: node::take_ready() returns one of these.
//
// The host carries it out in this order:
//   1. send `messages` right away (they depend on nothing unpersisted);
//   2. persist, in order: `snapshot` (install it: the log is discarded and
//      now starts at snapshot->index + 1), then cut the log at
//      `truncate_from` (drop that index and everything after), then append
//      `entries`, then write `hard_state`; then make all of it durable
//      (fsync); the snapshot install and the hard-state write must each be
//      atomic (a crash leaves the old or the new one);
//   3. only then send `messages_after_persist`;
//   4. call node::on_persisted() if needs_persist();
//   5. entries up to `commit_index` are committed: apply them (for Herald,
//      advance the high watermark, answer acks=all producers) - after step 2,
//      since they may be among this ready's entries.
// While a ready that needs persisting is outstanding, take_ready() keeps
// returning readies with `messages` only; everything else waits for
// on_persisted(). So persistence is strictly in order and a crash loses a
// suffix of what was asked, never a middle part.

#include <optional>
#include <vector>

#include "raft/messages.hpp"
#include "raft/types.hpp"

namespace herald::raft {

struct ready {
  std::vector<message> messages;
  std::optional<snapshot_meta> snapshot;
  bytes snapshot_data;
  std::optional<index_t> truncate_from;
  std::vector<entry> entries;
  std::optional<hard_state> hard;
  std::vector<message> messages_after_persist;
  std::optional<index_t> commit_index;
  // The node left durable_state::vote_unknown: once `hard` (which records
  // the vote it now counts as spent) is durable, the host forgets that the
  // vote was unknown.
  bool vote_known = false;

  bool needs_persist() const { return snapshot || truncate_from || !entries.empty() || hard || vote_known; }
  bool empty() const {
    return messages.empty() && !needs_persist() && messages_after_persist.empty() && !commit_index;
  }
};

}  // namespace herald::raft
