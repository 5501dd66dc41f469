#pragma once
// One partition's Raft log over storage::partition_log: the broker's
// implementation of raft::log_store, and the writes a raft::ready asks for.
// No actors, no network; the partition actor owns one.
//
// Entries are batches. Raft entry i is the i-th batch after the snapshot:
// a normal entry with a payload is a producer's record batch, stored as it
// is; a leader's no-op (a normal entry without payload) and a configuration
// entry are control batches (storage/control_batch.hpp), built the same way
// on every replica. Every batch takes its records' offsets (a control batch
// one), so offsets are a function of the log prefix: replicas that agree on
// entries agree on offsets, and their logs are byte-identical.
//
// The map from Raft index to offset lives in memory (one u64 per entry
// after the snapshot, plus one run per term and the configuration entries)
// and is rebuilt at open by reading every batch header after the snapshot
// (partition_log::for_each_header), not the data. Entry i's batch starts at
// offset_of(i) and ends at end_offset_of(i).
//
// Files in the partition directory besides the segments:
//   hard_state     term and vote (storage/hard_state.hpp)
//   raft_snapshot  what the log before the log start stands for; a
//                  checksummed file (storage/checksummed_file.hpp), magic
//                  0x4e535248 ("HRSN"), version 1, body of 1024 bytes:
//     off size field         meaning
//       0    8 index         last entry the snapshot covers (0: none)
//       8    8 term          its term
//      16    8 next_offset   offset of entry index + 1: where the log starts
//      24    1 discard_log   1: written by a snapshot install, whose log
//                            reset is redone at open unless the log already
//                            starts at next_offset
//      25    7 reserved      0
//      32    4 config_size   bytes of configuration that follow
//      36    n configuration raft/configuration.hpp's encoding (n <= 988)
//     36+n     zero padding  to 1024
//   No file: the empty snapshot {0, 0, no members}, next_offset 0.
//
// A snapshot's data, as InstallSnapshot carries it, is 8 bytes: next_offset
// (u64, little-endian). The rest of the state machine is the log itself.
//
//   vote_unknown   an empty file: this replica lost its hard state (its
//                  vote) although it was a member; raft::node runs with
//                  durable_state::vote_unknown until a ready says
//                  vote_known, and persist() removes the file (after
//                  saving that ready's hard state, durably).
//
// A new group: when `founders` is non-empty, the origin is founder and the
// log is empty, open() writes raft::bootstrap_entry(founders) as entry 1,
// durably, then hard state term 1 unless the term is already higher; a log
// holding entries but a term of 0 (a crash in between) gets the hard state.
// Every founder writes the same bytes. With origin must_exist nothing is
// bootstrapped: no hard state (term 0) means the vote is unknown, and open()
// creates the vote_unknown marker (durably) before anything else happens.
// With origin joiner nothing is bootstrapped and no marker is made: the
// replica never voted, and its empty configuration keeps it from voting or
// campaigning until the leader's log makes it a member.
//
// Terms. A batch's term sits outside its CRC (batch_header.hpp), so Raft's
// invariants vouch for it: along the log terms never decrease (the first is
// at least the snapshot's), and none exceeds hard_state's term. persist()
// refuses a ready that breaks them (errc::invalid_argument, nothing written)
// and saves the hard state before any entry; open() fails with
// errc::damaged on a log that breaks them (a flipped bit), keeping the bytes.
// Not caught: a flip that keeps a term within both bounds (a header checksum
// would, but it sits in the CRC'd bytes or costs a format change).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include "raft/log_store.hpp"
#include "raft/node.hpp"
#include "raft/ready.hpp"
#include "replication/replica_origin.hpp"
#include "storage/partition_log.hpp"
#include "storage/status.hpp"

namespace herald::replication {

// Thrown by the log_store reads (which cannot return errors) when the disk
// fails them: the partition actor dies and its supervisor restarts it.
struct storage_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class raft_store final : public raft::log_store {
public:
  static storage::result<std::unique_ptr<raft_store>> open(const std::filesystem::path& dir,
                                                           const storage::log_config& cfg,
                                                           const raft::configuration& founders,
                                                           replica_origin origin = replica_origin::founder);

  // What a (re)started raft::node is given.
  raft::durable_state durable_state() const { return durable_; }

  // raft::log_store
  raft::snapshot_meta snapshot() const override { return snap_; }
  raft::index_t last_index() const override { return snap_.index + starts_.size(); }
  raft::term_t term_at(raft::index_t i) const override;
  void entries(raft::index_t lo, raft::index_t hi, std::uint64_t max_bytes,
               std::vector<raft::entry>& out) const override;
  bool read_snapshot(raft::index_t snapshot_index, std::uint64_t offset, std::uint64_t max_bytes,
                     raft::bytes& out, bool& done) const override;

  // Carries out a ready's writes in ready.hpp's order: snapshot install,
  // truncation, entries, hard state; then fsyncs the log when `sync`.
  // Entries are validated like any append; an error means the ready was not
  // (wholly) persisted and the owner must not call on_persisted().
  storage::status persist(const raft::ready& r, bool sync);

  // Moves the log start to the end of meta.index's entry after saving the
  // snapshot there (meta from raft::node::snapshot_meta_at). meta.index must
  // be in (snapshot().index, last_index()]. An error with snapshot().index ==
  // meta.index means the snapshot moved (the owner must tell the core,
  // node::on_log_compacted) but the prefix removal failed: the log still
  // holds the prefix; finish_compaction() or the next open() removes it.
  storage::status compact(const raft::snapshot_meta& meta);
  // Retries a prefix removal that failed after its snapshot was saved; ok
  // when there is none.
  storage::status finish_compaction();

  // Offset of entry i's first record, i in (snapshot().index, last_index()].
  // Outside that range: storage_failure, like every read the core makes.
  std::uint64_t offset_of(raft::index_t i) const;
  // Offset after entry i's batch, i in [snapshot().index, last_index()].
  std::uint64_t end_offset_of(raft::index_t i) const;
  // The entry whose batch starts at `offset`, if one does.
  std::optional<raft::index_t> index_starting_at(std::uint64_t offset) const;

  storage::partition_log& log() { return *log_; }
  const storage::partition_log& log() const { return *log_; }

private:
  raft_store(std::filesystem::path dir, std::unique_ptr<storage::partition_log> log)
      : dir_(std::move(dir)), log_(std::move(log)) {}
  storage::status load();
  storage::status bootstrap(const raft::configuration& founders, bool write_entry);
  storage::status save_snapshot(const raft::snapshot_meta& meta, std::uint64_t next_offset, bool discard_log) const;
  // Turns the batches in `rest` (entries from `index` on) into entries,
  // advancing `index` and `total`; false once max_bytes stops it (or no
  // batch was there).
  bool read_entries(std::span<const char> rest, raft::index_t lo, raft::index_t hi, std::uint64_t max_bytes,
                    raft::index_t& index, std::uint64_t& total, std::vector<raft::entry>& out) const;
  storage::status append(const raft::entry& e);
  void note_entry(raft::index_t index, raft::term_t term, std::uint64_t base_offset);
  // The ready keeps Raft's term invariants: entry terms never decrease and
  // never exceed the hard state's term, which never decreases.
  storage::status check_terms(const raft::ready& r) const;

  std::filesystem::path dir_;
  std::unique_ptr<storage::partition_log> log_;
  raft::snapshot_meta snap_;
  std::uint64_t snap_next_offset_ = 0;
  std::vector<std::uint64_t> starts_;                          // starts_[k]: offset of entry snap_.index + 1 + k
  std::vector<std::pair<raft::index_t, raft::term_t>> terms_;  // first index of each term run, ascending
  raft::durable_state durable_;                                // hard state + configuration entries
};

}  // namespace herald::replication
