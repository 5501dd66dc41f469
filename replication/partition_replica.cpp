#include "replication/partition_replica.hpp"

#include <algorithm>

#include <kj/exception.h>
#include <spdlog/spdlog.h>

#include "replication/storage_errors.hpp"
#include "schema/wire.hpp"
#include "storage/batch_header.hpp"
#include "storage/record_batch.hpp"

namespace herald::replication {
namespace {

using schema::ErrorCode;

// Bounds on what one fetch may ask for, so a request cannot pin the replica.
constexpr std::uint32_t max_fetch_bytes = 16u << 20;
constexpr std::uint32_t max_fetch_wait_ms = 60'000;

bytes produce_response(std::int64_t base, std::int64_t last, std::uint64_t hw) {
  capnp::MallocMessageBuilder builder;
  auto response = builder.initRoot<schema::Response>();
  response.initError().setCode(ErrorCode::NONE);
  auto p = response.initProduce();
  p.setBaseOffset(base);
  p.setLastOffset(last);
  p.setHighWatermark(static_cast<std::int64_t>(hw));
  return wire::to_bytes(builder);
}

raft::options raft_options(const replica_settings& s) {
  raft::options o;
  o.id = s.node_id;
  o.seed = s.seed;
  o.heartbeat_ticks = 1;
  o.election_ticks = s.election_ticks;
  o.quiesce = s.quiesce;
  o.max_append_bytes = 1u << 20;
  o.max_inflight_bytes = 16u << 20;
  return o;
}

}  // namespace

storage::result<std::unique_ptr<partition_replica>> partition_replica::open(replica_settings settings) {
  if (settings.replicas.empty()) settings.replicas = {settings.node_id};
  storage::log_config cfg;
  cfg.segment_bytes = settings.config.segment_bytes;
  cfg.max_batch_bytes = settings.config.max_batch_bytes + storage::batch_header_size;
  raft::configuration founders;
  founders.voters = settings.replicas;
  std::sort(founders.voters.begin(), founders.voters.end());
  // A joiner stays one even when named alone: bootstrapping would found a
  // second group beside the one that added it.
  const auto origin = settings.replicas.size() == 1 && settings.origin == replica_origin::must_exist
                          ? replica_origin::founder
                          : settings.origin;
  auto opened = raft_store::open(settings.dir, cfg, founders, origin);
  if (!opened) return opened.error();
  return std::unique_ptr<partition_replica>(new partition_replica(std::move(settings), std::move(*opened)));
}

partition_replica::partition_replica(replica_settings settings, std::unique_ptr<raft_store> store)
    : settings_(std::move(settings)), store_(std::move(store)) {
  raft_ = std::make_unique<raft::node>(raft_options(settings_), *store_, store_->durable_state());
  preferred_leader_ = settings_.preferred_leader;
  commit_ = store_->snapshot().index;
  if (store_->durable_state().vote_unknown)
    spdlog::warn("{}: this replica's Raft state is missing although it held data; it neither votes nor campaigns "
                 "until it has heard from every other voter",
                 settings_.name);
}

partition_replica::~partition_replica() {
  // A clean stop leaves the log durable; after a crash recovery does the rest.
  if (store_ && !failed_)
    if (auto s = store_->log().sync(); !s) spdlog::warn("{}: final sync failed: {}", settings_.name, s.message);
}

void partition_replica::answer(request_id id, bytes response) { out_.answers.emplace_back(id, std::move(response)); }

void partition_replica::fail(const std::string& why) {
  failed_ = true;
  if (!out_.fatal) out_.fatal = why;
}

// ---- Raft driving ----------------------------------------------------------

void partition_replica::elect_alone() {
  const auto& config = raft_->config();
  if (config.voters.size() != 1 || config.voters.front() != settings_.node_id) return;
  for (std::uint32_t i = 0; i < 4 * settings_.election_ticks && !is_leader() && !failed_; ++i) {
    raft_->tick();
    process_readies();
  }
}

void partition_replica::on_raft(const raft::message& m) {
  if (failed_) return;
  raft_->step(m);
  followers_.heard(*raft_, m.from);
  out_.schedule_ready = true;
}

void partition_replica::on_node_link(raft::node_id node, bool up) {
  if (failed_) return;
  followers_.link(node, up);
  if (up)
    raft_->on_node_up(node);
  else
    raft_->on_node_down(node);
}

void partition_replica::tick() {
  if (failed_) return;
  followers_.tick();
  balance_leadership();  // before the tick: a check-quorum round in it clears recent_active
  raft_->tick();
  drive_membership();
  process_readies();
}

void partition_replica::balance_leadership() {
  if (!is_leader()) {
    led_ticks_ = 0;
    return;
  }
  // Not at once after an election (let it settle), and then only every few
  // election timeouts, so a flapping preferred replica cannot make
  // leadership bounce.
  const std::uint32_t every = 4 * settings_.election_ticks;
  if (++led_ticks_ % every != 0) return;
  const auto to = preferred_leader_;
  if (to == raft::no_node || to == settings_.node_id || stepping_down_) return;
  if (!raft_->config().is_voter(to) || raft_->config_index() > raft_->commit_index()) return;
  if (membership_.has_target() && raft_->config().voters != membership_.target()) return;  // moving
  const auto* pr = raft_->progress_of(to);
  if (pr == nullptr || !pr->recent_active || pr->match_index < raft_->log().last_index()) return;
  if (raft_->transfer_leadership(to) == raft::errc::ok)
    spdlog::info("{}: handing leadership to the preferred replica, node {}", settings_.name, to);
}

void partition_replica::set_target(std::vector<raft::node_id> voters, std::uint64_t epoch) {
  if (failed_) return;
  const auto first = voters.empty() ? raft::no_node : voters.front();
  if (!membership_.set_target(std::move(voters), epoch)) return;
  preferred_leader_ = first;
  drive_membership();
  process_readies();
}

void partition_replica::drive_membership() {
  auto r = membership_.step(*raft_);
  if (!r.did.empty())
    spdlog::info("{}: moving to replicas of epoch {}: {}", settings_.name, membership_.epoch(), r.did);
  if (r.settled) {
    spdlog::info("{}: replica set of epoch {} committed", settings_.name, *r.settled);
    out_.settled = r.settled;
  }
  // Quiescence must not stall a move (the driver steps on ticks, and a quiet
  // group is not ticked): a leader with steps left keeps its clock running.
  const auto& config = raft_->config();
  if (raft_->quiesced() && is_leader() && membership_.has_target() &&
      (!config.learners.empty() || config.voters != membership_.target()))
    raft_->wake();
}

// Carries out everything the core asks for (raft/ready.hpp's order).
void partition_replica::process_readies() {
  if (failed_) return;
  const bool sync = settings_.config.fsync == cluster::fsync_policy::always;
  bool committed = false;
  while (raft_->has_ready()) {
    raft::ready r = raft_->take_ready();
    out_.messages.insert(out_.messages.end(), r.messages.begin(), r.messages.end());
    if (r.needs_persist()) {
      if (auto s = store_->persist(r, sync); !s) {
        spdlog::error("{}: persisting Raft state failed, restarting to re-validate the log: {}", settings_.name,
                      s.message);
        fail_produces(to_error_code(s.code), "the replica's log write failed: " + s.message);
        // After a failed write or fsync the page cache may not match the
        // disk; only recovery from what the disk holds is trustworthy.
        fail("persist failed: " + s.message);
        return;
      }
    }
    out_.messages.insert(out_.messages.end(), r.messages_after_persist.begin(), r.messages_after_persist.end());
    if (r.needs_persist()) raft_->on_persisted();
    if (r.commit_index) commit_known_ = true;  // a leader (maybe this node) told it
    if (r.commit_index && *r.commit_index > commit_) {
      commit_ = *r.commit_index;
      committed = true;
    }
  }
  note_leadership();
  answer_produces();
  if (committed) wake_parked_fetches();
}

// Fails waiting produces when leadership moved.
void partition_replica::note_leadership() {
  const auto leader = raft_->leader();
  const auto term = raft_->term();
  if (leader == known_leader_ && term == known_term_) return;
  if (known_leader_ != leader)
    spdlog::info("{}: leader is now {} (term {})", settings_.name,
                 leader == raft::no_node ? std::string{"unknown"} : std::to_string(leader), term);
  // Only produces of another term, or all once we do not lead: a produce
  // taken after this node won inside step() (before this ready) was
  // proposed in the new term and may well commit.
  const std::string why = "leadership changed before the entry was acknowledged; it may or may not be committed";
  if (!is_leader())
    fail_produces(ErrorCode::NOT_LEADER, why);
  else if (term != known_term_)
    fail_produces(ErrorCode::NOT_LEADER, why, term);
  known_leader_ = leader;
  known_term_ = term;
  if (stepping_down_ && !is_leader()) {
    stepping_down_ = false;
    out_.step_down_done = true;
  }
}

void partition_replica::sync_tick() {
  if (failed_) return;
  auto& log = store_->log();
  if (log.durable_end_offset() >= log.log_end_offset()) return;
  if (auto status = log.sync(); !status) {
    // The log has cut its unsynced tail, but the Raft store and core still
    // count those entries: followers' acks could commit what this log no
    // longer holds. Only a reopen makes them agree again.
    spdlog::error("{}: interval fsync failed, restarting to re-validate the log: {}", settings_.name, status.message);
    fail_produces(ErrorCode::STORAGE_ERROR,
                  "the leader's fsync failed: " + status.message + "; the entry may or may not be committed");
    fail("interval fsync failed: " + status.message);
  }
}

// Retention under Raft: the prefix it deletes becomes the snapshot, and only
// a committed prefix may.
void partition_replica::apply_retention(std::int64_t now_ms) {
  if (failed_) return;
  const auto& cfg = settings_.config;
  auto& log = store_->log();
  // A prefix removal that failed last time (the snapshot already moved).
  if (auto s = store_->finish_compaction(); !s)
    spdlog::warn("{}: removing the log prefix the Raft snapshot covers failed again: {}", settings_.name, s.message);
  const std::uint64_t point = log.retention_point(now_ms, cfg.retention_ms, cfg.retention_bytes);
  if (point <= log.log_start_offset()) return;
  const auto first_kept = store_->index_starting_at(point);
  if (!first_kept || *first_kept - 1 > commit_) return;  // not yet committed: next round
  const auto meta = raft_->snapshot_meta_at(*first_kept - 1);
  if (!meta) return;
  const auto before = log.size_bytes();
  const auto compacted = store_->compact(*meta);
  // Once the store saved the snapshot it has moved, whether or not the
  // prefix removal after it worked: the core must follow it, or it asks the
  // store for entries it no longer serves.
  if (store_->snapshot().index == meta->index) raft_->on_log_compacted(*meta);
  if (!compacted) {
    spdlog::error("{}: retention failed: {}", settings_.name, compacted.message);
    return;
  }
  spdlog::info("{}: retention removed {} bytes; log now starts at {}", settings_.name, before - log.size_bytes(),
               log.log_start_offset());
}

// A clean stop: a leader hands over to the most caught-up voter (TimeoutNow)
// and answers once it no longer leads, or after two election timeouts.
bool partition_replica::begin_step_down() {
  if (failed_ || !is_leader() || stepping_down_) return false;
  raft::node_id target = raft::no_node;
  raft::index_t best = 0;
  for (auto id : raft_->config().voters) {
    const auto* pr = id == settings_.node_id ? nullptr : raft_->progress_of(id);
    if (pr != nullptr && pr->match_index >= best) {
      best = pr->match_index;
      target = id;
    }
  }
  if (target == raft::no_node || raft_->transfer_leadership(target) != raft::errc::ok) return false;
  spdlog::info("{}: stopping; handing leadership to node {}", settings_.name, target);
  stepping_down_ = true;
  process_readies();
  if (stepping_down_) out_.timers.push_back({outbox::timer::kind::step_down, 2 * settings_.election_ticks * settings_.tick_ms, 0, 0});
  return true;
}

void partition_replica::step_down_deadline() {
  if (!stepping_down_) return;
  spdlog::warn("{}: leadership did not move before the stop", settings_.name);
  stepping_down_ = false;
  out_.step_down_done = false;
}

// ---- the cleaner -----------------------------------------------------------

std::optional<cleaner_job> partition_replica::plan_cleaner(std::int64_t now_ms) {
  if (failed_) return std::nullopt;
  const auto& log = store_->log();
  cleaner_view view{log.closed_segment_bases(), log.active_segment_base(), high_watermark()};
  auto job = plan_cleaning(cleaner_, view, settings_.config, settings_.dir, now_ms);
  if (job) cleaner_.running = true;
  return job;
}

void partition_replica::finish_cleaner(const cleaner_outcome& outcome) {
  cleaner_.running = false;
  if (!outcome.cleaned) {
    spdlog::warn("{}: cleaner failed: {}", settings_.name, outcome.error);
    return;
  }
  const auto& c = *outcome.cleaned;
  if (!note_cleaned(cleaner_, c, settings_.config) || failed_) {
    std::error_code ec;
    std::filesystem::remove(c.path, ec);  // nothing to gain from the swap
    return;
  }
  if (auto s = store_->log().replace_segments(c); !s) {
    spdlog::warn("{}: cleaned segments not swapped in: {}", settings_.name, s.message);
    return;
  }
  spdlog::info("{}: cleaner merged {} segment(s) from offset {}: {} record(s) removed, {} -> {} bytes", settings_.name,
               c.bases.size(), c.bases.front(), c.report.records_removed, c.report.bytes_before, c.report.bytes_after);
}

// ---- client requests -------------------------------------------------------

bool partition_replica::commit_known() const {
  // With its whole log committed there is nothing more to learn here.
  return commit_known_ || commit_ >= store_->last_index();
}

bool partition_replica::leader_committed_in_term() const {
  return is_leader() && commit_ > store_->snapshot().index && store_->term_at(commit_) == raft_->term();
}

bytes partition_replica::not_yet(std::uint64_t offset) const {
  return fetch_response(ErrorCode::PARTITION_UNAVAILABLE,
                        "offset " + std::to_string(offset) + " is past this replica's high watermark " +
                          std::to_string(high_watermark()) +
                          (commit_known() ? std::string{"; it may be committed elsewhere, retry"}
                                          : std::string{"; the replica does not know the commit index yet, retry"}),
                        {});
}

std::uint64_t partition_replica::high_watermark() const {
  const raft::index_t c = std::max(std::min(commit_, store_->last_index()), store_->snapshot().index);
  return std::max(store_->end_offset_of(c), store_->log().log_start_offset());
}

void partition_replica::on_request(request_id id, const bytes& request) {
  try {
    wire::message_reader reader(request);
    auto req = reader.root<schema::Request>();
    switch (req.which()) {
      case schema::Request::PRODUCE: handle_produce(id, req.getProduce()); break;
      case schema::Request::FETCH: handle_fetch(id, req.getFetch()); break;
      case schema::Request::LIST_OFFSETS: handle_list_offsets(id, req.getListOffsets()); break;
      default: answer(id, wire::error_response(ErrorCode::INVALID_REQUEST, "not a partition request"));
    }
  } catch (const kj::Exception& e) {
    // Handlers answer as their last step, so nothing was answered yet.
    answer(id, wire::error_response(ErrorCode::INVALID_REQUEST,
                                    std::string{"malformed request: "} + e.getDescription().cStr()));
  }
}

bytes partition_replica::not_leader() const {
  capnp::MallocMessageBuilder builder;
  auto error = builder.initRoot<schema::Response>().initError();
  const auto leader = raft_->leader();
  wire::set_error(error, ErrorCode::NOT_LEADER,
                  "node " + std::to_string(settings_.node_id) + " does not lead " + settings_.name +
                    (leader == raft::no_node ? "; no leader is known yet" : "; node " + std::to_string(leader) + " may"));
  error.setLeaderId(leader == raft::no_node ? -1 : static_cast<std::int32_t>(leader));
  return wire::to_bytes(builder);
}

bytes partition_replica::fetch_response(ErrorCode code, const std::string& message, const bytes& records) const {
  capnp::MallocMessageBuilder builder;
  auto response = builder.initRoot<schema::Response>();
  wire::set_error(response.initError(), code, message);
  auto f = response.initFetch();
  f.setHighWatermark(static_cast<std::int64_t>(high_watermark()));
  f.setLogStartOffset(static_cast<std::int64_t>(log_start_offset()));
  if (!records.empty()) {
    auto data = f.initRecords(static_cast<unsigned>(records.size()));
    std::copy(records.begin(), records.end(), reinterpret_cast<char*>(data.begin()));
  }
  return wire::to_bytes(builder);
}

// Answers a fetch at `offset` from what is committed now.
bytes partition_replica::serve_fetch(std::uint64_t offset, std::uint32_t max_bytes) {
  auto read = store_->log().read(offset, max_bytes, high_watermark());
  if (!read) {
    spdlog::error("{}: read at offset {} failed: {}", settings_.name, offset, read.error().message);
    // The log marked itself damaged (storage/partition_log.hpp): this
    // replica must stop voting now, not at its next restart; the restart
    // finds the marker and waits for repair (damaged_replica.hpp).
    if (read.error().code == storage::errc::damaged) fail(read.error().message);
    return fetch_response(to_error_code(read.error().code), read.error().message, {});
  }
  return fetch_response(ErrorCode::NONE, {}, read->bytes);
}

void partition_replica::handle_produce(request_id id, schema::ProduceRequest::Reader req) {
  auto data = req.getBatch();
  const std::span<const char> batch(reinterpret_cast<const char*>(data.begin()), data.size());
  if (batch.size() > settings_.config.max_batch_bytes + storage::batch_header_size) {
    answer(id, wire::error_response(ErrorCode::RECORD_TOO_LARGE,
                                    "batch of " + std::to_string(batch.size()) + " bytes exceeds the topic's limit of " +
                                      std::to_string(settings_.config.max_batch_bytes) + " bytes"));
    return;
  }
  if (failed_ || !is_leader()) {
    answer(id, not_leader());
    return;
  }
  // Validated before it enters the Raft log: once proposed, every replica
  // must be able to append it. The topic's limit bounds the uncompressed
  // size too, checked from the compressed prefix before decompressing.
  const auto limit = std::size_t{settings_.config.max_batch_bytes} + storage::batch_header_size;
  if (auto valid = storage::validate_batch_deep(batch, limit); !valid) {
    answer(id, wire::error_response(to_error_code(valid.code), valid.message));
    return;
  }
  if (const auto h = storage::decode_batch_header(batch); h.is_control() || h.is_compacted()) {
    answer(id, wire::error_response(ErrorCode::CORRUPT_BATCH,
                                    "control and compacted batches are written by the broker only"));
    return;
  }
  const auto acks = req.getAcks();
  const auto timeout = req.getTimeoutMs() == 0 ? wire::default_produce_timeout_ms : req.getTimeoutMs();
  auto proposed = raft_->propose(std::make_shared<const raft::bytes>(batch.begin(), batch.end()));
  if (!proposed) {
    if (proposed.code == raft::errc::busy)
      answer(id, wire::error_response(ErrorCode::THROTTLED, "too many uncommitted bytes; retry"));
    else
      answer(id, not_leader());
    return;
  }
  out_.schedule_ready = true;
  switch (acks) {
    case schema::Acks::NONE: answer(id, produce_response(-1, -1, high_watermark())); return;
    case schema::Acks::LEADER: await_append_[proposed.index] = {id, proposed.term}; break;
    case schema::Acks::ALL: await_commit_[proposed.index] = {id, proposed.term}; break;
  }
  out_.timers.push_back({outbox::timer::kind::produce, timeout, proposed.index, proposed.term});
}

void partition_replica::handle_fetch(request_id id, schema::FetchRequest::Reader req) {
  const auto offset = req.getOffset();
  const auto hw = high_watermark();
  const auto start = log_start_offset();
  // Out of range only where no replica can ever serve it: below the log
  // start, or past the log end of a leader that has committed in its term
  // (its log holds every committed entry). Past this replica's high
  // watermark otherwise it may just not know yet (a restarted replica
  // learns the commit index from the leader; a follower lags): the fetch
  // parks or gets a retriable partitionUnavailable, so a consumer never
  // resets its position over a transient state.
  const bool below = offset < 0 || static_cast<std::uint64_t>(offset) < start;
  const bool past_end = !below && static_cast<std::uint64_t>(offset) > store_->log().log_end_offset();
  if (below || (past_end && leader_committed_in_term())) {
    answer(id, fetch_response(ErrorCode::OFFSET_OUT_OF_RANGE,
                              "offset " + std::to_string(offset) + " is outside [" + std::to_string(start) + ", " +
                                std::to_string(hw) + "]",
                              {}));
    return;
  }
  const auto max_bytes = std::clamp<std::uint32_t>(req.getMaxBytes(), 1, max_fetch_bytes);
  const auto pos = static_cast<std::uint64_t>(offset);
  if (pos > hw && req.getMaxWaitMs() == 0) {
    answer(id, not_yet(pos));
    return;
  }
  if (pos < hw || req.getMaxWaitMs() == 0) {
    answer(id, serve_fetch(pos, max_bytes));
    return;
  }
  const auto fetch_id = next_fetch_id_++;
  parked_.emplace(fetch_id, parked_fetch{id, pos, max_bytes});
  out_.timers.push_back({outbox::timer::kind::fetch, std::min(req.getMaxWaitMs(), max_fetch_wait_ms), fetch_id, 0});
}

void partition_replica::handle_list_offsets(request_id id, schema::ListOffsetsRequest::Reader req) {
  std::int64_t offset = -1;
  switch (req.which()) {
    case schema::ListOffsetsRequest::EARLIEST: offset = static_cast<std::int64_t>(log_start_offset()); break;
    case schema::ListOffsetsRequest::LATEST:
      // A restarted replica's high watermark is only its snapshot's until a
      // leader tells it the commit index: not an answer to "latest".
      if (!commit_known()) {
        answer(id, wire::error_response(ErrorCode::PARTITION_UNAVAILABLE,
                                        "the replica does not know the commit index yet; retry"));
        return;
      }
      offset = static_cast<std::int64_t>(high_watermark());
      break;
    case schema::ListOffsetsRequest::TIMESTAMP: {
      auto found = store_->log().offset_for_timestamp(req.getTimestamp());
      if (!found) {
        answer(id, wire::error_response(to_error_code(found.error().code), found.error().message));
        return;
      }
      if (*found < high_watermark()) offset = static_cast<std::int64_t>(*found);
      break;
    }
  }
  capnp::MallocMessageBuilder builder;
  auto response = builder.initRoot<schema::Response>();
  response.initError().setCode(ErrorCode::NONE);
  response.initListOffsets().setOffset(offset);
  answer(id, wire::to_bytes(builder));
}

// Answers the produces in `waiting` up to index `upto` whose entries are
// still the ones they proposed.
void partition_replica::answer_upto(std::map<raft::index_t, pending_produce>& waiting, raft::index_t upto) {
  while (!waiting.empty() && waiting.begin()->first <= upto) {
    auto node = waiting.extract(waiting.begin());
    const raft::index_t i = node.key();
    if (i <= store_->snapshot().index || store_->term_at(i) != node.mapped().term) {
      answer(node.mapped().id, wire::error_response(ErrorCode::NOT_LEADER, "the entry was replaced by another leader's"));
      continue;
    }
    answer(node.mapped().id, produce_response(static_cast<std::int64_t>(store_->offset_of(i)),
                                              static_cast<std::int64_t>(store_->end_offset_of(i)) - 1,
                                              high_watermark()));
  }
}

void partition_replica::answer_produces() {
  answer_upto(await_append_, raft_->log().durable_last_index());
  answer_upto(await_commit_, commit_);
}

void partition_replica::fail_produces(ErrorCode code, const std::string& why, std::optional<raft::term_t> keep_term) {
  for (auto* waiting : {&await_append_, &await_commit_}) {
    for (auto i = waiting->begin(); i != waiting->end();) {
      if (keep_term && i->second.term == *keep_term) {
        ++i;
        continue;
      }
      answer(i->second.id, wire::error_response(code, why));
      i = waiting->erase(i);
    }
  }
}

void partition_replica::produce_timeout(raft::index_t index, raft::term_t term) {
  for (auto* waiting : {&await_append_, &await_commit_}) {
    auto i = waiting->find(index);
    if (i == waiting->end() || i->second.term != term) continue;
    answer(i->second.id, wire::error_response(ErrorCode::TIMEOUT, "entry " + std::to_string(index) +
                                                                    " was not committed in time; it may still be"));
    waiting->erase(i);
  }
}

void partition_replica::wake_parked_fetches() {
  const auto hw = high_watermark();
  for (auto i = parked_.begin(); i != parked_.end();) {
    if (i->second.offset < hw) {
      answer(i->second.id, serve_fetch(i->second.offset, i->second.max_bytes));
      i = parked_.erase(i);
    } else {
      ++i;
    }
  }
}

void partition_replica::fetch_timeout(std::uint64_t fetch_id) {
  auto i = parked_.find(fetch_id);
  if (i == parked_.end()) return;
  const auto hw = high_watermark();
  answer(i->second.id, i->second.offset > hw ? not_yet(i->second.offset)
                                              : serve_fetch(i->second.offset, i->second.max_bytes));
  parked_.erase(i);
}

}  // namespace herald::replication
