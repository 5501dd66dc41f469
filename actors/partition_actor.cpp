#include "actors/partition_actor.hpp"

#include <random>

#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/partition_state.hpp"
#include "schema/raft_wire.hpp"
#include "schema/wire.hpp"
#include "storage/batch_header.hpp"

namespace herald::actors {

namespace {

using schema::ErrorCode;

// How often retention looks for whole segments to delete. It only unlinks
// closed segments and rewrites two small files, so it never stalls appends.
constexpr auto retention_check_interval = std::chrono::seconds{10};

std::string name_of(const partition_state& st) { return st.args.topic + "/" + std::to_string(st.args.partition); }

void send_raft(partition_ptr self, const std::vector<raft::message>& messages) {
  auto& st = self->state;
  for (const auto& m : messages) {
    self->send(st.parent, raft_out_atom::value, static_cast<std::uint64_t>(m.to), st.args.topic, st.args.partition,
               wire::encode_raft({st.args.topic, st.args.partition, m}));
  }
}

// Fails waiting produces when leadership moved.
void note_leadership(partition_ptr self) {
  auto& st = self->state;
  const auto leader = st.raft->leader();
  const auto term = st.raft->term();
  if (leader == st.known_leader && term == st.known_term) return;
  if (st.known_leader != leader)
    spdlog::info("{}: leader is now {} (term {})", name_of(st),
                 leader == raft::no_node ? std::string{"unknown"} : std::to_string(leader), term);
  if (!st.is_leader() || term != st.known_term)
    fail_produces(self, ErrorCode::NOT_LEADER,
                  "leadership changed before the entry was acknowledged; it may or may not be committed");
  st.known_leader = leader;
  st.known_term = term;
  if (st.stepping_down && !st.is_leader()) {
    st.stepping_down->deliver(true);
    st.stepping_down.reset();
  }
}

// Carries out everything the core asks for (raft/ready.hpp's order).
void process_readies(partition_ptr self) {
  auto& st = self->state;
  st.ready_scheduled = false;
  const bool sync = st.args.config.fsync == cluster::fsync_policy::always;
  bool committed = false;
  while (st.raft->has_ready()) {
    raft::ready r = st.raft->take_ready();
    send_raft(self, r.messages);
    if (r.needs_persist()) {
      if (auto s = st.store->persist(r, sync); !s) {
        spdlog::error("{}: persisting Raft state failed, restarting to re-validate the log: {}", name_of(st), s.message);
        fail_produces(self, ErrorCode::STORAGE_ERROR, "the replica's log write failed: " + s.message);
        // After a failed write or fsync the page cache may not match the
        // disk; only recovery from what the disk holds is trustworthy.
        self->quit(caf::make_error(caf::sec::runtime_error, "persist failed"));
        return;
      }
    }
    send_raft(self, r.messages_after_persist);
    if (r.needs_persist()) st.raft->on_persisted();
    if (r.commit_index && *r.commit_index > st.commit) {
      st.commit = *r.commit_index;
      committed = true;
    }
  }
  note_leadership(self);
  answer_produces(self);
  if (committed) wake_parked_fetches(self);
}

// Retention under Raft: the prefix it deletes becomes the snapshot, and only
// a committed prefix may.
void apply_retention(partition_ptr self) {
  auto& st = self->state;
  const auto& cfg = st.args.config;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  const std::uint64_t point = st.log().retention_point(now, cfg.retention_ms, cfg.retention_bytes);
  if (point <= st.log().log_start_offset()) return;
  const auto first_kept = st.store->index_starting_at(point);
  if (!first_kept || *first_kept - 1 > st.commit) return;  // not yet committed: next round
  const auto meta = st.raft->snapshot_meta_at(*first_kept - 1);
  if (!meta) return;
  const auto before = st.log().size_bytes();
  if (auto s = st.store->compact(*meta); !s) {
    spdlog::error("{}: retention failed: {}", name_of(st), s.message);
    return;
  }
  st.raft->on_log_compacted(*meta);
  spdlog::info("{}: retention removed {} bytes; log now starts at {}", name_of(st), before - st.log().size_bytes(),
               st.log().log_start_offset());
}

// A clean stop: a leader hands over to the most caught-up voter (TimeoutNow)
// and answers once it no longer leads, or after two election timeouts.
caf::result<bool> step_down(partition_ptr self) {
  auto& st = self->state;
  if (!st.is_leader() || st.stepping_down) return true;
  raft::node_id target = raft::no_node;
  raft::index_t best = 0;
  for (auto id : st.raft->config().voters) {
    const auto* pr = id == st.args.node_id ? nullptr : st.raft->progress_of(id);
    if (pr != nullptr && pr->match_index >= best) {
      best = pr->match_index;
      target = id;
    }
  }
  if (target == raft::no_node || st.raft->transfer_leadership(target) != raft::errc::ok) return true;
  spdlog::info("{}: stopping; handing leadership to node {}", name_of(st), target);
  auto rp = self->make_response_promise<bool>();
  st.stepping_down = rp;
  process_readies(self);
  self->delayed_send(self, std::chrono::milliseconds{2 * st.args.election_ticks * st.args.tick_ms},
                     shutdown_atom::value, true);
  return rp;  // answered by note_leadership(), or by the deadline
}

raft::options raft_options(const partition_args& args) {
  raft::options o;
  o.id = args.node_id;
  o.seed = std::random_device{}() ^ (static_cast<std::uint64_t>(args.node_id) << 32);
  o.heartbeat_ticks = 1;
  o.election_ticks = args.election_ticks;
  o.max_append_bytes = 1u << 20;
  o.max_inflight_bytes = 16u << 20;
  return o;
}

// A group of one has no one to wait for: run its clock until it leads, so a
// new single-node partition takes writes at once instead of after an
// election timeout.
void elect_alone(partition_ptr self) {
  auto& st = self->state;
  const auto& config = st.raft->config();
  if (config.voters.size() != 1 || config.voters.front() != st.args.node_id) return;
  for (std::uint32_t i = 0; i < 4 * st.args.election_ticks && !st.is_leader(); ++i) {
    st.raft->tick();
    process_readies(self);
  }
}

caf::behavior partition_actor(partition_ptr self, partition_args args, caf::actor parent) {
  auto& st = self->state;
  st.args = std::move(args);
  st.parent = std::move(parent);
  if (st.args.replicas.empty()) st.args.replicas = {st.args.node_id};
  storage::log_config cfg;
  cfg.segment_bytes = st.args.config.segment_bytes;
  cfg.max_batch_bytes = st.args.config.max_batch_bytes + storage::batch_header_size;
  raft::configuration founders;
  founders.voters = st.args.replicas;
  std::sort(founders.voters.begin(), founders.voters.end());
  auto opened = replication::raft_store::open(st.args.dir, cfg, founders);
  if (!opened) {
    spdlog::error("{}: cannot open log in {}: {}", name_of(st), st.args.dir.string(), opened.error().message);
    self->quit(caf::make_error(caf::sec::runtime_error, opened.error().message));
    return {};
  }
  st.store = std::move(*opened);
  const auto& rec = st.log().recovery();
  if (rec.truncated_bytes > 0)
    spdlog::warn("{}: recovery cut {} bytes from the log tail: {}", name_of(st), rec.truncated_bytes, rec.detail);
  st.raft = std::make_unique<raft::node>(raft_options(st.args), *st.store, st.store->durable_state());
  st.commit = st.store->snapshot().index;
  spdlog::info("{}: opened, offsets [{}, {}), {} segment(s), Raft entries ({}, {}], term {}", name_of(st),
               st.log().log_start_offset(), st.log().log_end_offset(), st.log().segment_count(),
               st.store->snapshot().index, st.store->last_index(), st.raft->term());
  self->set_error_handler([=](caf::error& e) {
    spdlog::warn("{}: ignored error message: {}", name_of(self->state), self->system().render(e));
  });
  elect_alone(self);
  self->delayed_send(self, std::chrono::milliseconds{st.args.tick_ms}, tick_atom::value);
  if (st.args.config.fsync == cluster::fsync_policy::interval)
    self->delayed_send(self, std::chrono::milliseconds{st.args.config.fsync_interval_ms}, sync_tick_atom::value);
  if (st.args.config.retention_ms >= 0 || st.args.config.retention_bytes >= 0)
    self->send(self, retention_atom::value);
  self->delayed_send(self, std::chrono::milliseconds{st.args.cleaner_interval_ms}, cleaner_atom::value);

  return {
    [=](request_atom, const bytes& request) -> promise {
      auto rp = self->make_response_promise<bytes>();
      handle_client_request(self, request, rp);
      return rp;
    },
    [=](raft_atom, const std::string& topic, std::uint32_t partition, const bytes& data) {
      auto& st = self->state;
      std::string why;
      auto envelope = wire::decode_raft(data, &why);
      if (!envelope) {
        spdlog::warn("{}: dropped a malformed Raft message: {}", name_of(st), why);
        return;
      }
      if (envelope->topic != topic || envelope->partition != partition || envelope->message.to != st.args.node_id)
        return;  // misrouted: dropping is always safe in Raft
      st.raft->step(envelope->message);
      schedule_ready(self);
    },
    [=](ready_atom) { process_readies(self); },
    [=](tick_atom) {
      auto& st = self->state;
      st.raft->tick();
      process_readies(self);
      self->delayed_send(self, std::chrono::milliseconds{st.args.tick_ms}, tick_atom::value);
    },
    [=](produce_timeout_atom, raft::index_t index, raft::term_t term) { answer_produce_timeout(self, index, term); },
    [=](sync_tick_atom) {
      auto& st = self->state;
      if (st.log().durable_end_offset() < st.log().log_end_offset())
        if (auto status = st.log().sync(); !status)
          spdlog::error("{}: interval fsync failed: {}", name_of(st), status.message);
      self->delayed_send(self, std::chrono::milliseconds{st.args.config.fsync_interval_ms}, sync_tick_atom::value);
    },
    [=](retention_atom) {
      apply_retention(self);
      self->delayed_send(self, retention_check_interval, retention_atom::value);
    },
    [=](fetch_timeout_atom, std::uint64_t id) { answer_fetch_timeout(self, id); },
    [=](shutdown_atom) -> caf::result<bool> { return step_down(self); },
    [=](shutdown_atom, bool) {  // the step-down deadline
      auto& st = self->state;
      if (!st.stepping_down) return;
      spdlog::warn("{}: leadership did not move before the stop", name_of(st));
      st.stepping_down->deliver(false);
      st.stepping_down.reset();
    },
    [=](cleaner_atom) {
      start_cleaner(self);
      self->delayed_send(self, std::chrono::milliseconds{self->state.args.cleaner_interval_ms}, cleaner_atom::value);
    },
    [=](cleaned_atom, cleaner_outcome& outcome) { finish_cleaner(self, outcome); },
    [=](stats_atom) -> caf::result<std::uint64_t, std::uint64_t, std::uint64_t> {
      return {self->state.log().log_start_offset(), self->state.high_watermark(),
              static_cast<std::uint64_t>(self->state.raft->leader())};
    },
  };
}

} // namespace

partition_state::~partition_state() {
  // A clean stop leaves the log durable; after a crash recovery does the rest.
  if (store)
    if (auto s = store->log().sync(); !s) spdlog::warn("{}: final sync failed: {}", name_of(*this), s.message);
}

void schedule_ready(partition_ptr self) {
  if (self->state.ready_scheduled) return;
  self->state.ready_scheduled = true;
  self->send(self, ready_atom::value);
}

caf::actor spawn_partition(caf::event_based_actor* parent, partition_args args) {
  return parent->spawn<caf::detached + caf::monitored>(partition_actor, std::move(args),
                                                       caf::actor_cast<caf::actor>(parent));
}

} // namespace herald::actors
