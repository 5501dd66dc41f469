#pragma once
// Vocabulary of the Raft core: identifiers, log entries, hard state,
// cluster configurations and snapshot metadata. Plain values, no I/O.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace herald::raft {

using node_id = std::uint64_t;   // 0 is "nobody"
using term_t = std::uint64_t;
using index_t = std::uint64_t;   // log index; 0 is the empty log's sentinel

inline constexpr node_id no_node = 0;

using bytes = std::vector<char>;
// Entries are shared, not copied, between the log, the unstable tail and
// every AppendEntries that carries them to a follower.
using shared_bytes = std::shared_ptr<const bytes>;

enum class entry_kind : std::uint8_t {
  normal = 0,         // opaque payload for the host (empty for a leader's no-op)
  configuration = 1,  // payload is an encoded configuration (configuration.hpp)
};

// One log entry. Herald maps one record batch to one entry; the host keeps
// that mapping (entry index <-> batch offsets), the core never looks inside.
struct entry {
  index_t index = 0;
  term_t term = 0;
  entry_kind kind = entry_kind::normal;
  shared_bytes data;  // null means empty

  std::uint64_t payload_size() const { return data ? data->size() : 0; }
  // What the entry costs against byte limits (batching, in-flight windows).
  std::uint64_t size_bytes() const { return payload_size() + 24; }
};

// Figure 2's persistent state besides the log: must be durable before any
// message that depends on it is sent.
struct hard_state {
  term_t term = 0;
  node_id voted_for = no_node;
  bool operator==(const hard_state&) const = default;
};

// Who votes and who only replicates. Both lists sorted, unique, disjoint.
struct configuration {
  std::vector<node_id> voters;
  std::vector<node_id> learners;  // non-voting members: receive the log, never vote or count

  bool is_voter(node_id id) const;
  bool is_learner(node_id id) const;
  bool contains(node_id id) const { return is_voter(id) || is_learner(id); }
  std::size_t quorum() const { return voters.size() / 2 + 1; }
  bool operator==(const configuration&) const = default;
};

// What a snapshot stands for: the state machine after applying entries
// [1, index], the last of which has `term`, under configuration `config`.
// The empty log is the snapshot {0, 0, initial configuration}.
struct snapshot_meta {
  index_t index = 0;
  term_t term = 0;
  configuration config;
  bool operator==(const snapshot_meta&) const = default;
};

// Thrown when the core detects that one of its invariants (node.hpp) would
// be broken: a bug or a host that broke its contract. Never for bad input
// from the network, which is ignored or rejected instead.
struct invariant_violation : std::logic_error {
  using std::logic_error::logic_error;
};

}  // namespace herald::raft
