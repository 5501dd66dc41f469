#include "replication/raft_store.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "raft/configuration.hpp"
#include "storage/atomic_file.hpp"
#include "storage/batch_header.hpp"
#include "storage/checksummed_file.hpp"
#include "storage/control_batch.hpp"
#include "storage/hard_state.hpp"
#include "storage/little_endian.hpp"
#include "storage/record_batch.hpp"

namespace herald::replication {
namespace {

using storage::errc;
using storage::status;

constexpr std::uint32_t snapshot_magic = 0x4e535248;  // "HRSN"
constexpr std::uint32_t snapshot_version = 1;
constexpr std::size_t snapshot_body_size = 1024;
constexpr std::size_t snapshot_config_at = 36;

std::filesystem::path snapshot_path(const std::filesystem::path& dir) { return dir / "raft_snapshot"; }
std::filesystem::path vote_unknown_path(const std::filesystem::path& dir) { return dir / "vote_unknown"; }

status corrupt(std::string what) { return {errc::corrupt, std::move(what)}; }

raft::bytes encode_snapshot_data(std::uint64_t next_offset) {
  raft::bytes out(8);
  storage::le::put<std::uint64_t>(out.data(), next_offset);
  return out;
}

}  // namespace

storage::result<std::unique_ptr<raft_store>> raft_store::open(const std::filesystem::path& dir,
                                                              const storage::log_config& cfg,
                                                              const raft::configuration& founders,
                                                              replica_origin origin) {
  auto log = storage::partition_log::open(dir, cfg);
  if (!log) return log.error();
  std::unique_ptr<raft_store> store(new raft_store(dir, std::move(*log)));
  if (auto s = store->load(); !s) return s;
  // A founder that has not finished bootstrapping (never started, or
  // crashed between the entry and the hard state) does it now; every
  // founder writes the same entry 1, so doing it twice is harmless.
  const bool log_empty = store->snap_.index == 0 && store->starts_.empty() && store->log_->log_end_offset() == 0;
  const bool unfinished = store->snap_.index == 0 && store->durable_.hard.term == 0 && !store->starts_.empty();
  std::error_code ec;
  if (std::filesystem::exists(vote_unknown_path(dir), ec)) {
    store->durable_.vote_unknown = true;
  } else if (origin == replica_origin::must_exist && store->durable_.hard.term == 0) {
    if (auto s = storage::write_file_atomically(vote_unknown_path(dir), {}); !s) return s;
    store->durable_.vote_unknown = true;
  }
  if (origin == replica_origin::founder && !founders.voters.empty() && (log_empty || unfinished)) {
    if (auto s = store->bootstrap(founders, log_empty); !s) return s;
  }
  return store;
}

status raft_store::load() {
  auto hard = storage::load_hard_state(dir_);
  if (!hard) return hard.error();
  if (*hard) durable_.hard = {(*hard)->term, (*hard)->voted_for < 0 ? raft::no_node
                                                                    : static_cast<raft::node_id>((*hard)->voted_for)};

  auto body = storage::load_checksummed_file(snapshot_path(dir_), snapshot_magic, snapshot_version,
                                             snapshot_body_size);
  if (!body) return body.error();
  bool discard = false;
  if (*body) {
    const char* b = (*body)->data();
    snap_.index = storage::le::get<std::uint64_t>(b);
    snap_.term = storage::le::get<std::uint64_t>(b + 8);
    snap_next_offset_ = storage::le::get<std::uint64_t>(b + 16);
    discard = b[24] != 0;
    const auto size = storage::le::get<std::uint32_t>(b + 32);
    if (size > snapshot_body_size - snapshot_config_at) return corrupt("raft_snapshot: configuration size");
    auto config = raft::decode_configuration(raft::bytes(b + snapshot_config_at, b + snapshot_config_at + size));
    if (!config) return corrupt("raft_snapshot: bad configuration");
    snap_.config = *config;
  }

  // Finish what a crash interrupted: a snapshot install's reset, or a
  // compaction's prefix removal (the snapshot file is written first).
  const std::uint64_t start = log_->log_start_offset();
  if (discard ? start != snap_next_offset_ : snap_next_offset_ > start) {
    const bool reset = discard || snap_next_offset_ > log_->log_end_offset();
    if (auto s = reset ? log_->reset(snap_next_offset_) : log_->remove_prefix(snap_next_offset_); !s) return s;
  } else if (snap_next_offset_ < start) {
    return corrupt("the log starts at " + std::to_string(start) + ", past the Raft snapshot's end " +
                   std::to_string(snap_next_offset_) + ": entries are missing");
  }

  // Rebuild the index -> offset map from the headers.
  // The term is outside the batch CRC (the leader stamps it without
  // recomputing the CRC), so it is vouched for by Raft's invariants instead:
  // terms never decrease along the log and never exceed the hard state's
  // term (persist() saves the hard state first). A flipped bit that breaks
  // either is damage, not a torn write: a replica believing it could look
  // more up to date than it is and win an election it must lose.
  std::vector<std::uint64_t> config_offsets;
  std::uint64_t expected = snap_next_offset_;
  raft::term_t prev_term = snap_.term;
  status walk_error = status::ok();
  auto walked = log_->for_each_header(snap_next_offset_, [&](const storage::batch_header& h) {
    if (h.base_offset != expected) {
      walk_error = corrupt("batch at offset " + std::to_string(h.base_offset) + " where " +
                           std::to_string(expected) + " was expected");
      return false;
    }
    if (h.term < prev_term) {
      walk_error = {errc::damaged, "the batch at offset " + std::to_string(h.base_offset) + " has term " +
                                       std::to_string(h.term) + ", lower than the term " + std::to_string(prev_term) +
                                       " before it: a term in the log is damaged"};
      return false;
    }
    prev_term = h.term;
    note_entry(last_index() + 1, h.term, h.base_offset);
    if (h.is_control()) config_offsets.push_back(h.base_offset);
    expected = h.next_offset();
    return true;
  });
  if (!walked) return walked;
  if (!walk_error) return walk_error;
  // Without a saved hard state (term 0) there is no bound: a founder that
  // crashed between its bootstrap entry and its first hard state (open()
  // finishes it), or a replica whose vote is unknown (vote_unknown).
  if (durable_.hard.term > 0 && prev_term > durable_.hard.term) {
    return {errc::damaged, "the log holds term " + std::to_string(prev_term) + ", beyond the hard state's term " +
                               std::to_string(durable_.hard.term) + ": a term in the log (or hard_state) is damaged"};
  }

  for (std::uint64_t offset : config_offsets) {
    auto read = log_->read(offset, 1, offset + 1);
    if (!read) return read.error();
    auto control = storage::read_control_batch(read->bytes);
    if (!control) return control.error();
    if (control->kind != storage::control_kind::raft_configuration) continue;
    auto config = raft::decode_configuration(control->value);
    if (!config) return corrupt("bad configuration entry at offset " + std::to_string(offset));
    durable_.log_configs.emplace_back(*index_starting_at(offset), *config);
  }
  return status::ok();
}

status raft_store::bootstrap(const raft::configuration& founders, bool write_entry) {
  if (write_entry) {
    if (auto s = append(raft::bootstrap_entry(founders)); !s) return s;
    if (auto s = log_->sync(); !s) return s;
  }
  if (durable_.hard.term >= 1) return status::ok();
  durable_.hard = {1, raft::no_node};
  return storage::save_hard_state(dir_, {1, -1});
}

void raft_store::note_entry(raft::index_t index, raft::term_t term, std::uint64_t base_offset) {
  starts_.push_back(base_offset);
  if (terms_.empty() || terms_.back().second != term) terms_.emplace_back(index, term);
}

raft::term_t raft_store::term_at(raft::index_t i) const {
  if (i == snap_.index) return snap_.term;
  if (i < snap_.index || i > last_index()) throw storage_failure("term_at(" + std::to_string(i) + ") outside the log");
  auto it = std::upper_bound(terms_.begin(), terms_.end(), i,
                             [](raft::index_t x, const auto& run) { return x < run.first; });
  return std::prev(it)->second;
}

std::uint64_t raft_store::offset_of(raft::index_t i) const {
  if (i <= snap_.index || i > last_index()) throw storage_failure("offset_of(" + std::to_string(i) + ") outside the log");
  return starts_[i - snap_.index - 1];
}

std::uint64_t raft_store::end_offset_of(raft::index_t i) const {
  if (i == snap_.index) return snap_next_offset_;
  if (i < snap_.index || i > last_index()) throw storage_failure("end_offset_of outside the log");
  return i == last_index() ? log_->log_end_offset() : starts_[i - snap_.index];
}

std::optional<raft::index_t> raft_store::index_starting_at(std::uint64_t offset) const {
  auto it = std::lower_bound(starts_.begin(), starts_.end(), offset);
  if (it == starts_.end() || *it != offset) return std::nullopt;
  return snap_.index + 1 + static_cast<raft::index_t>(it - starts_.begin());
}

void raft_store::entries(raft::index_t lo, raft::index_t hi, std::uint64_t max_bytes,
                         std::vector<raft::entry>& out) const {
  if (lo > hi || lo <= snap_.index || hi > last_index()) throw storage_failure("entries() outside the log");
  // Read in rounds: a control batch takes more bytes on disk than its entry
  // counts for (payload + 24), so one read of max_bytes may stop short.
  const std::uint64_t limit = std::min<std::uint64_t>(max_bytes, 64u << 20);
  std::uint64_t total = 0;
  raft::index_t index = lo;
  while (index <= hi) {
    auto read = log_->read(offset_of(index), static_cast<std::uint32_t>(std::max<std::uint64_t>(limit - std::min(limit, total), 1)),
                           end_offset_of(hi));
    if (!read) throw storage_failure("reading entries: " + read.error().message);
    if (!read_entries(read->bytes, lo, hi, max_bytes, index, total, out)) break;
  }
  if (index == lo) throw storage_failure("entries(): read returned no batch");
}

bool raft_store::read_entries(std::span<const char> rest, raft::index_t lo, raft::index_t hi, std::uint64_t max_bytes,
                              raft::index_t& index, std::uint64_t& total, std::vector<raft::entry>& out) const {
  const raft::index_t first = index;
  while (rest.size() >= storage::batch_header_size && index <= hi) {
    const storage::batch_header h = storage::decode_batch_header(rest);
    if (h.length > rest.size() || h.base_offset != offset_of(index)) throw storage_failure("entries(): batch map mismatch");
    const std::span<const char> batch = rest.first(h.length);
    raft::entry e;
    e.index = index;
    e.term = h.term;
    if (h.is_control()) {
      auto control = storage::read_control_batch(batch);
      if (!control) throw storage_failure("control batch: " + control.error().message);
      if (control->kind == storage::control_kind::raft_configuration) {
        e.kind = raft::entry_kind::configuration;
        e.data = std::make_shared<const raft::bytes>(std::move(control->value));
      }
    } else {
      e.data = std::make_shared<const raft::bytes>(batch.begin(), batch.end());
    }
    if (index != lo && total + e.size_bytes() > max_bytes) return false;
    total += e.size_bytes();
    out.push_back(std::move(e));
    rest = rest.subspan(h.length);
    ++index;
  }
  return index != first;  // false: nothing readable; the caller stops
}

bool raft_store::read_snapshot(raft::index_t snapshot_index, std::uint64_t offset, std::uint64_t max_bytes,
                               raft::bytes& out, bool& done) const {
  if (snapshot_index != snap_.index) return false;
  const raft::bytes data = encode_snapshot_data(snap_next_offset_);
  if (offset > data.size()) return false;
  const std::uint64_t n = std::min<std::uint64_t>(max_bytes, data.size() - offset);
  out.assign(data.begin() + static_cast<std::ptrdiff_t>(offset),
             data.begin() + static_cast<std::ptrdiff_t>(offset + n));
  done = offset + n == data.size();
  return true;
}

status raft_store::save_snapshot(const raft::snapshot_meta& meta, std::uint64_t next_offset, bool discard_log) const {
  std::vector<char> body(snapshot_body_size, 0);
  storage::le::put<std::uint64_t>(body.data(), meta.index);
  storage::le::put<std::uint64_t>(body.data() + 8, meta.term);
  storage::le::put<std::uint64_t>(body.data() + 16, next_offset);
  body[24] = discard_log ? 1 : 0;
  const raft::bytes config = raft::encode_configuration(meta.config);
  if (config.size() > snapshot_body_size - snapshot_config_at)
    return {errc::invalid_argument, "configuration too large for raft_snapshot"};
  storage::le::put<std::uint32_t>(body.data() + 32, static_cast<std::uint32_t>(config.size()));
  std::memcpy(body.data() + snapshot_config_at, config.data(), config.size());
  return storage::save_checksummed_file(snapshot_path(dir_), snapshot_magic, snapshot_version, body);
}

status raft_store::append(const raft::entry& e) {
  if (e.index != last_index() + 1) return {errc::invalid_argument, "entry " + std::to_string(e.index) + " leaves a gap"};
  std::vector<char> control;
  std::span<const char> batch;
  if (e.kind == raft::entry_kind::configuration) {
    control = storage::build_control_batch(storage::control_kind::raft_configuration, *e.data, 0);
    batch = control;
  } else if (e.payload_size() == 0) {
    control = storage::build_control_batch(storage::control_kind::raft_noop, {}, 0);
    batch = control;
  } else {
    batch = *e.data;
  }
  // Producer batches were deep-validated by the leader before they became
  // entries; header and CRC show these are the same bytes.
  auto appended = log_->append(batch, e.term, storage::partition_log::check::crc);
  if (!appended) return appended.error();
  note_entry(e.index, e.term, appended->base_offset);
  if (e.kind == raft::entry_kind::configuration) {
    auto config = raft::decode_configuration(*e.data);
    if (!config) return {errc::invalid_argument, "configuration entry does not decode"};
    durable_.log_configs.emplace_back(e.index, *config);
  }
  return status::ok();
}

status raft_store::check_terms(const raft::ready& r) const {
  const raft::term_t hard_term = r.hard ? r.hard->term : durable_.hard.term;
  raft::term_t prev = terms_.empty() ? snap_.term : terms_.back().second;
  if (r.snapshot) {
    prev = r.snapshot->term;
  } else if (r.truncate_from && *r.truncate_from <= last_index() && *r.truncate_from > snap_.index) {
    prev = term_at(*r.truncate_from - 1);
  }
  if (r.hard && r.hard->term < durable_.hard.term) {
    return {errc::invalid_argument, "hard state term " + std::to_string(r.hard->term) + " below the saved " +
                                        std::to_string(durable_.hard.term)};
  }
  for (const raft::entry& e : r.entries) {
    if (e.term < prev || (hard_term > 0 && e.term > hard_term)) {
      return {errc::invalid_argument, "entry " + std::to_string(e.index) + " has term " + std::to_string(e.term) +
                                          ", outside [" + std::to_string(prev) + ", " + std::to_string(hard_term) +
                                          "] (the previous entry's term, the hard state's term)"};
    }
    prev = e.term;
  }
  return status::ok();
}

status raft_store::persist(const raft::ready& r, bool sync) {
  // Checked before anything is written: load() refuses a log that breaks
  // these, so writing one would take this replica down at its next open.
  if (auto s = check_terms(r); !s) return s;
  // The hard state first: every entry's term is then at most the saved
  // term whatever a crash keeps of the rest (load() checks exactly that).
  if (r.hard) {
    if (auto s = storage::save_hard_state(
            dir_, {r.hard->term, r.hard->voted_for == raft::no_node ? -1 : static_cast<std::int64_t>(r.hard->voted_for)});
        !s)
      return s;
    durable_.hard = *r.hard;
  }
  if (r.snapshot) {
    if (r.snapshot_data.size() != 8) return {errc::invalid_argument, "snapshot data is not 8 bytes"};
    const std::uint64_t next = storage::le::get<std::uint64_t>(r.snapshot_data.data());
    if (auto s = save_snapshot(*r.snapshot, next, true); !s) return s;
    // From here the file says "reset"; a failure below is finished at open.
    snap_ = *r.snapshot;
    snap_next_offset_ = next;
    if (auto s = log_->reset(snap_next_offset_); !s) return s;
    starts_.clear();
    terms_.clear();
    durable_.log_configs.clear();
  }
  if (r.truncate_from && *r.truncate_from <= last_index()) {
    const raft::index_t from = *r.truncate_from;
    if (from <= snap_.index) return {errc::invalid_argument, "truncating into the snapshot"};
    if (auto s = log_->truncate_suffix(offset_of(from)); !s) return s;
    starts_.resize(from - snap_.index - 1);
    while (!terms_.empty() && terms_.back().first >= from) terms_.pop_back();
    auto& configs = durable_.log_configs;
    while (!configs.empty() && configs.back().first >= from) configs.pop_back();
  }
  for (const raft::entry& e : r.entries) {
    if (auto s = append(e); !s) return s;
  }
  if (r.vote_known && durable_.vote_unknown) {
    // The hard state saved first (durably) holds the vote as spent.
    std::error_code ec;
    std::filesystem::remove(vote_unknown_path(dir_), ec);
    if (ec) return {errc::io_error, "cannot remove " + vote_unknown_path(dir_).string() + ": " + ec.message()};
    if (auto s = storage::sync_directory(dir_); !s) return s;
    durable_.vote_unknown = false;
  }
  if (sync) return log_->sync();
  return status::ok();
}

status raft_store::compact(const raft::snapshot_meta& meta) {
  if (meta.index <= snap_.index || meta.index > last_index())
    return {errc::invalid_argument, "compaction index outside the log"};
  const std::uint64_t next = end_offset_of(meta.index);
  const std::size_t dropped = meta.index - snap_.index;
  // Nothing changes in memory unless the snapshot is saved; once it is, the
  // map moves with it, and a failed prefix removal is finished at open.
  if (auto s = save_snapshot(meta, next, false); !s) return s;
  snap_ = meta;
  snap_next_offset_ = next;
  starts_.erase(starts_.begin(), starts_.begin() + static_cast<std::ptrdiff_t>(dropped));
  // Keep the run that covers the first remaining entry.
  while (terms_.size() > 1 && terms_[1].first <= meta.index + 1) terms_.erase(terms_.begin());
  auto& configs = durable_.log_configs;
  configs.erase(std::remove_if(configs.begin(), configs.end(), [&](const auto& c) { return c.first <= meta.index; }),
                configs.end());
  return log_->remove_prefix(next);
}

status raft_store::finish_compaction() {
  if (log_->log_start_offset() >= snap_next_offset_) return status::ok();
  return log_->remove_prefix(snap_next_offset_);
}

}  // namespace herald::replication
