#pragma once
// Raft messages <-> their wire form (schema/raft.capnp).
//
// The Raft core (raft/) knows nothing of Cap'n Proto; this is the one place
// that converts. Decoding is a trust boundary: bytes come from another
// broker, possibly a buggy or newer one, so everything the core relies on is
// checked here and a bad message is reported, never thrown.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "raft/messages.hpp"

namespace herald::wire {

// One Raft message for one partition's group, as it travels between nodes.
struct raft_envelope {
  std::string topic;
  std::uint32_t partition = 0;
  raft::message message;
};

// One flat Cap'n Proto message (a multiple of 8 bytes). Entry payloads and
// snapshot data are copied into it once.
std::vector<char> encode_raft(const raft_envelope& e);

// Never throws: malformed input (bad Cap'n Proto, unknown union member,
// out-of-range enum, an entry kind that is not normal/configuration, an
// install_snapshot config that fails the configuration invariants: sorted,
// unique, disjoint, no node id 0) gives std::nullopt and sets *why when given.
// An empty entry payload decodes to a null `data`; a non-empty one to a fresh
// shared vector (one copy).
std::optional<raft_envelope> decode_raft(std::span<const char> bytes, std::string* why = nullptr);

}  // namespace herald::wire
