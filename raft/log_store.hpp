#pragma once
// The durable log as the core sees it: read-only. The host implements it
// (in memory in the simulation; over storage::partition_log and a snapshot
// file in the broker) and is the only writer: it carries out the writes a
// `ready` asks for (ready.hpp) and then calls node::on_persisted().
//
// The core reads only what it knows to be durable and current: indices in
// (snapshot index, last durable index]. Entries handed to the host and not yet
// acknowledged, or dropped by a truncation the host has not carried out yet,
// are served from the core's own memory, so a host may write a ready's
// entries into the store before the fsync completes without confusing it.
//
// Mapping to storage::partition_log: last_index() is the last entry's
// index, term_at() the term stamped in its batch header, entries() a read;
// the host's writes are append_at(batch, index, term), truncate_suffix(index)
// and remove_prefix(index) (retention, after a snapshot).

#include <cstdint>
#include <vector>

#include "raft/types.hpp"

namespace herald::raft {

class log_store {
public:
  virtual ~log_store() = default;

  // The durable snapshot: its meta, and its data read in chunks. The log
  // holds entries (snapshot().index, last_index()].
  virtual snapshot_meta snapshot() const = 0;
  virtual index_t last_index() const = 0;

  // The term of entry i, for snapshot().index < i <= last_index().
  virtual term_t term_at(index_t i) const = 0;

  // Appends entries [lo, hi] to `out`, in order, stopping before an entry
  // that would take their total size_bytes() past max_bytes, but always at
  // least one. Called with snapshot().index < lo <= hi <= last_index().
  virtual void entries(index_t lo, index_t hi, std::uint64_t max_bytes, std::vector<entry>& out) const = 0;

  // Bytes [offset, offset + max_bytes) of the snapshot whose index is
  // `snapshot_index` into `out` (replacing its contents); `done` set when
  // they reach the end. False if that snapshot is no longer the current one.
  virtual bool read_snapshot(index_t snapshot_index, std::uint64_t offset, std::uint64_t max_bytes, bytes& out,
                             bool& done) const = 0;
};

}  // namespace herald::raft
