#pragma once
// Configurations (membership) and the single-server changes between them.
//
// Herald uses the single-server changes of Ongaro's thesis (4.1): every change
// adds or removes at most one voter, so any majority of the old voters and
// any majority of the new voters overlap, and the new configuration can take
// effect as soon as its entry is appended (not committed). Learners make
// moving a replica safe and quick: add it as a learner, let it catch up,
// promote it, then remove the old replica.

#include <optional>
#include <string>

#include "raft/types.hpp"

namespace herald::raft {

enum class change_kind : std::uint8_t {
  add_learner = 0,  // node not a member -> learner
  add_voter = 1,    // node not a member -> voter
  promote = 2,      // learner -> voter
  demote = 3,       // voter -> learner
  remove = 4,       // member -> gone
};

struct membership_change {
  change_kind kind = change_kind::add_learner;
  node_id node = no_node;
};

// The configuration after `change`, or nothing (and `why`) if the change does
// not apply to `from` (adding a member twice, removing the last voter, ...).
std::optional<configuration> apply_change(const configuration& from, const membership_change& change,
                                          std::string* why = nullptr);

// Wire/log encoding of a configuration, little-endian:
//   u32 voter count, u64 voter ids..., u32 learner count, u64 learner ids...
bytes encode_configuration(const configuration& config);
// Nothing if `data` is not a well-formed encoding (truncated, trailing bytes,
// unsorted or overlapping lists, node id 0).
std::optional<configuration> decode_configuration(const bytes& data);

std::string to_string(const configuration& config);

// How a new group starts: every founding member's log holds this one entry
// (index 1, term 1: the initial configuration) and its hard state has term 1;
// a node that joins later starts empty. With the initial configuration in
// the log rather than only in each founder's initial state, a joiner learns
// it like any other entry and every snapshot records the configuration it
// was taken under (a joiner that lacked it would compact into a snapshot
// with no voters). The simulation found that one.
entry bootstrap_entry(const configuration& initial);

}  // namespace herald::raft
