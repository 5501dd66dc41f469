#pragma once
// The cleaner: per-record TTL and key compaction of a partition's closed
// segments, merging a run of them into one new segment file.
//
// What may change. Every batch of a partition log is one Raft log entry, and
// replication maps Raft indices to batch base offsets; so cleaning never
// removes a batch, never reorders batches and never changes a batch's
// base_offset, last_offset_delta, term or timestamps. It only rewrites a
// batch's payload to hold fewer records (filter_batch(), record_batch.hpp):
// each kept record keeps its offset and timestamp deltas, and the batch gets
// batch_compacted_bit (batch_header.hpp), even when no record is left.
// Control batches are copied byte for byte, as is every batch that loses no
// record. Offsets of removed records simply disappear from the log: a fetch
// at one of them returns its batch, which no longer lists it.
//
// Which records go (policy below; batch time = the batch's max_timestamp):
// - TTL: a record that expired() at now_ms, always.
// - with compact_keys, in batches before the first one (in offset order)
//   whose batch time is after now_ms - min_lag_ms (control batches, which
//   carry the broker's times, do not count): that batch and all later ones
//   are left to a later pass. (As Kafka's cleaner does: batch times need
//   not grow, and sparing only the young batches could remove a tombstone
//   while an older record of its key, in a young batch, stays.)
//   - a keyed record (tombstone or not) for which a later record of the same
//     key exists in the cleaned segments (keys are compared as bytes);
//   - a tombstone that is the latest of its key but whose batch time is
//     before now_ms - tombstone_retention_ms: consumers had that long to see
//     the deletion.
//   Records without a key are kept. Without compact_keys tombstones stay
//   (removing them would make older values of their key look current).
//   A TTL-expired latest record takes its key's older records before that
//   first young batch with it: the key is gone, as the latest write said.
//   Older records of the key from the first young batch on stay, and are
//   then the key's latest.
// Tombstones may only be removed safely when every segment before the run
// was cleaned in the same pass, with the tombstone in its key map: the run
// starts at the log's first segment (as each of Kafka's cleaner passes
// does), or continues, with the same policy, a call whose output
// replace_segments() swapped in (see compact_segments()). Otherwise an
// older record of the key in an earlier, uncleaned segment would come back.
// A caller cleaning a later run alone sets tombstone_retention_ms to
// INT64_MAX.
//
// Latest offset per key. The first pass over the input maps each key's
// XXH3_64 hash to the offset of its latest record, and keeps a second,
// independently seeded 64-bit hash of the key as a check. Two keys with the
// same first hash but different checks are a detected collision: that slot
// is marked, and a second pass records the exact keys (as bytes) of the
// marked slots only, so the result stays exact without holding every key in
// memory. Only two keys whose two 64-bit hashes both collide (about 2^-128
// per pair) would be taken for one key. key_offset_map is that structure.
//
// Thread-safety: compact_segments() reads only closed segment files, which
// never change while they exist, and writes only its own output file, so it
// may run on any thread while the owner keeps appending. The caller
// guarantees the input files are not deleted during the call (no retention,
// truncation or reset of those segments meanwhile) and runs one cleaning of
// a partition at a time. partition_log::replace_segments() then swaps the
// output in, on the owner thread, after checking that the input is still
// there unchanged; its crash-safety rule is documented there.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/status.hpp"

namespace herald::storage {

struct compaction_policy {
  bool compact_keys = false;                // keep only the latest record per key
  std::int64_t now_ms = 0;                  // the moment TTLs and ages are measured at
  std::int64_t tombstone_retention_ms = 0;  // how long a latest tombstone stays
  std::int64_t min_lag_ms = 0;              // from the first batch younger than this on, no key compaction
};

struct compaction_report {
  std::size_t segments_merged = 0;     // input segments in the output (a prefix of `bases`)
  std::uint64_t batches = 0;           // batches in the output (as many as in those segments)
  std::uint64_t batches_rewritten = 0;
  std::uint64_t records_removed = 0;
  std::uint64_t bytes_before = 0;      // of the merged input segments
  std::uint64_t bytes_after = 0;       // of the output file
};

// What compact_segments() wrote, and what partition_log::replace_segments()
// needs to swap it in.
struct cleaned_segments {
  std::filesystem::path path;          // <dir>/<first base, 20 digits>.log.cleaned
  std::vector<std::uint64_t> bases;    // the merged input segments, in order
  std::vector<std::uint64_t> sizes;    // their sizes in bytes when they were read
  std::uint64_t end_offset = 0;        // offset after the last batch: the next segment's base
  compaction_report report;
};

// Cleans and merges closed segments of the partition directory `dir`.
// `bases`: base offsets of consecutive closed segments, ascending (never the
// active one). The key map covers all of them; the output holds the longest
// prefix of them whose cleaned batches fit in `max_output_bytes` (and in
// the u32 positions and relative offsets of a segment's indexes), at least
// the first one. Call it again with the rest to clean those too, after
// swapping the first output in; the key map then covers only the rest, which
// is safe: a record is only ever removed for a later one, and the part
// already cleaned lost its records superseded by the rest in the first call.
// The output, written through storage::file and fsync'ed, is
// `<bases[0]>.log.cleaned` in `dir`; a stale file of that name (from a
// cleaning that crashed) is replaced. It holds every batch of the merged
// segments in order: unchanged batches byte for byte, the others rewritten
// by filter_batch(). Cost: every input batch is read and decoded twice (a
// third time for a detected hash collision), one batch in memory at a time
// plus the key map. errc::corrupt when an input batch fails validation or
// the segments are not contiguous (nothing is left behind then);
// invalid_argument when `bases` is empty; errc::locked when another call
// is cleaning `dir` (flock on <dir>/cleaner.lock, held for the whole call:
// one worker per partition, whatever restarted meanwhile); errc::cancelled
// when `cancelled` (asked before every batch) says so, with nothing
// left behind and the lock released: a worker whose partition stopped ends
// within one batch instead of cleaning for a replica that no longer exists.
result<cleaned_segments> compact_segments(const std::filesystem::path& dir, std::span<const std::uint64_t> bases,
                                          const compaction_policy& policy, std::uint64_t max_output_bytes,
                                          const std::function<bool()>& cancelled = {});

// Swapping a cleaned file in, crash-safely. partition_log::replace_segments()
// runs these steps on the owner thread, for the run of segments with bases
// b = bases[0] < ... and the segment after it starting at `end`:
//   1. <b>.log.cleaned is complete: checked (check_cleaned_file(): headers,
//      contiguity, size and every batch's CRC), fsync'ed,
//      and the directory fsync'ed. Nothing of the log has changed yet.
//   2. commit_cleaned(): rename it to <b>.log.swap, fsync the directory.
//      The durable rename is the commit point.
//   3. finish_swap(): delete the files (.log, .index, .timeindex) of every
//      segment x with b < x < end, and <b>.index and <b>.timeindex (they
//      describe the old <b>.log); fsync the directory. Then rename
//      <b>.log.swap over <b>.log (atomic: <b>.log is always the old or the
//      new file) and fsync the directory.
// Recovery rule (recover_cleaned_files(), run by partition_log::open()
// before it lists segments):
//   - <b>.log.cleaned: not committed; the old segments are all intact
//     (nothing touches them before step 2). Delete it.
//   - <b>.log.swap: committed; it holds every batch of the run, durably
//     (synced before step 2). Its end is the offset after its last batch
//     (a header scan). Redo step 3, which is idempotent: the old segments
//     in (b, end) are exactly the run's later segments (segments are
//     contiguous, and the one after the run starts at `end`), whether or
//     not a crash already deleted some.
// At every point the directory thus holds, after recovery, either the old
// run or the new segment, never both and never neither: each batch exactly
// once. The index files of <b> are rebuilt from the new file at open.
// errc::corrupt if a .swap file is damaged (only a failing disk can do
// that): open() then refuses the log rather than guess.
status check_cleaned_file(const std::filesystem::path& path, std::uint64_t base, std::uint64_t end,
                          std::uint64_t size);
status commit_cleaned(const std::filesystem::path& dir, std::uint64_t base);
status finish_swap(const std::filesystem::path& dir, std::uint64_t base, std::uint64_t end);
status recover_cleaned_files(const std::filesystem::path& dir);

// The latest offset of every key, collision-safe as described above.
// Use: add() every keyed record in offset order; then, if needs_exact(),
// add_exact() every keyed record again for which collided() is true; then
// ask is_latest(). Exposed for tests, which inject a weak hash.
class key_offset_map {
public:
  // hash(key, seed); nullptr: XXH3_64bits_withSeed.
  using hash_fn = std::uint64_t (*)(std::string_view key, std::uint64_t seed);
  explicit key_offset_map(hash_fn hash = nullptr);

  void add(std::string_view key, std::uint64_t offset);
  bool needs_exact() const { return collisions_ > 0; }
  bool collided(std::string_view key) const;
  void add_exact(std::string_view key, std::uint64_t offset);
  // Whether `offset` is the latest record of `key` (a key never added: true).
  bool is_latest(std::string_view key, std::uint64_t offset) const;
  std::size_t size() const { return slots_.size(); }

private:
  struct slot {
    std::uint64_t latest = 0;
    std::uint64_t check = 0;
    bool collided = false;
  };
  hash_fn hash_;
  std::unordered_map<std::uint64_t, slot> slots_;
  std::unordered_map<std::string, std::uint64_t> exact_;
  std::size_t collisions_ = 0;
};

} // namespace herald::storage
