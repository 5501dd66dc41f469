#pragma once
// Control batches: the broker's own entries in a partition log.
//
// Raft needs entries of its own in the log (a new leader's no-op, membership
// changes). Herald stores every Raft entry as one batch, so these become
// batches too, marked with batch_control_bit (batch_header.hpp). A control
// batch holds exactly one record:
//   key    "herald.raft.noop"   value empty
//   key    "herald.raft.config" value raft/configuration.hpp's encoding
// It takes one offset like any batch. Consumers skip control batches, and
// produce requests that carry the bit are refused, so a client can neither
// see nor forge one.

#include <cstdint>
#include <span>
#include <vector>

#include "storage/status.hpp"

namespace herald::storage {

enum class control_kind : std::uint8_t {
  raft_noop = 1,
  raft_configuration = 2,
};

struct control_record {
  control_kind kind = control_kind::raft_noop;
  std::vector<char> value;
};

// A sealed control batch (base offset and term 0 until stamped).
std::vector<char> build_control_batch(control_kind kind, std::span<const char> value, std::int64_t timestamp);

// Whether a validated batch is a control batch (reads the header only).
bool is_control_batch(std::span<const char> batch);

// The record of a control batch; invalid_batch if `batch` is not a sound
// control batch of a known kind.
result<control_record> read_control_batch(std::span<const char> batch);

} // namespace herald::storage
