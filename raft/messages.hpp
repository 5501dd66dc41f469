#pragma once
// The messages Raft nodes exchange, as plain structs with the names of the
// Raft paper (Figure 2) and thesis. Every message carries the sender's
// current term in `message::term`.
//
// These structs are the core's interface, not a wire format: the partition
// actor converts them to and from the Cap'n Proto schema in schema/ (entry
// payloads are record batches and travel without re-encoding). Delivery is
// at most once, in any order, possibly duplicated: every handler is written
// for that.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "raft/types.hpp"

namespace herald::raft {

// RequestVote, and the pre-vote round of thesis 9.6 (pre_vote = true): a
// pre-vote asks "would you vote for me at `term`?" and changes no one's term.
struct request_vote {
  index_t last_log_index = 0;
  term_t last_log_term = 0;
  bool pre_vote = false;
  // Sent because the leader asked for it (timeout_now): voters grant it even
  // though they heard from a leader recently.
  bool leadership_transfer = false;
};

struct request_vote_response {
  bool vote_granted = false;
  bool pre_vote = false;
};

// AppendEntries. With no entries it is a heartbeat.
struct append_entries {
  index_t prev_log_index = 0;
  term_t prev_log_term = 0;
  std::vector<entry> entries;
  index_t leader_commit = 0;
  // A heartbeat after which the leader goes quiet (options::quiesce): the
  // follower goes quiet too once it has accepted it.
  bool quiesce = false;
};

struct append_entries_response {
  bool success = false;
  // On success: the follower's log matches the leader's through this index.
  index_t match_index = 0;
  // On rejection: the prev_log_index that did not match (lets the leader drop
  // stale rejections), and a hint for fast backtracking: hint_index is the
  // last index <= prev_log_index whose term (hint_term) is <= prev_log_term,
  // so the leader can skip a whole term per round trip.
  index_t rejected_index = 0;
  index_t hint_index = 0;
  term_t hint_term = 0;
  index_t last_log_index = 0;  // the follower's last index, for diagnostics and probing
};

// InstallSnapshot, chunked: the leader sends `data` for bytes
// [offset, offset + data.size()) of the snapshot described by `meta`;
// `done` marks the last chunk.
struct install_snapshot {
  snapshot_meta meta;
  std::uint64_t offset = 0;
  bytes data;
  bool done = false;
};

struct install_snapshot_response {
  index_t snapshot_index = 0;
  // done: the follower's state now covers snapshot_index (installed, or it
  // already had it). Otherwise next_offset is the byte it expects next, and
  // rejected says the chunk was not at that offset (the leader rewinds).
  bool done = false;
  bool rejected = false;
  std::uint64_t next_offset = 0;
};

// Leadership transfer (thesis 3.10): "start an election now, skipping
// pre-vote; voters will not hold the current leader against you".
// last_index: the leader's last index when it sent it (transfer.cpp).
struct timeout_now {
  index_t last_index = 0;
};

using message_body = std::variant<request_vote, request_vote_response, append_entries,
                                  append_entries_response, install_snapshot,
                                  install_snapshot_response, timeout_now>;

struct message {
  node_id from = no_node;
  node_id to = no_node;
  term_t term = 0;
  message_body body;
};

const char* kind_name(const message_body& body);
std::string to_string(const message& m);  // one line, for traces and test failures

}  // namespace herald::raft
