#include "actors/partition_actor.hpp"

#include <random>

#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/partition_damaged.hpp"
#include "actors/partition_state.hpp"
#include "actors/replica_stats.hpp"
#include "replication/damaged_replica.hpp"
#include "schema/raft_wire.hpp"
#include "schema/wire.hpp"

namespace herald::actors {

namespace {

// How often retention looks for whole segments to delete. It only unlinks
// closed segments and rewrites two small files, so it never stalls appends.
constexpr auto retention_check_interval = std::chrono::seconds{10};

std::string name_of(const partition_args& args) { return args.topic + "/" + std::to_string(args.partition); }

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
    .count();
}

replication::replica_settings settings_of(const partition_args& args) {
  replication::replica_settings s;
  s.name = name_of(args);
  s.dir = args.dir;
  s.config = args.config;
  s.node_id = args.node_id;
  s.replicas = args.replicas;
  s.tick_ms = args.tick_ms;
  s.election_ticks = args.election_ticks;
  s.quiesce = args.quiesce;
  s.seed = std::random_device{}() ^ (static_cast<std::uint64_t>(args.node_id) << 32);
  s.origin = args.origin;
  s.preferred_leader = args.preferred_leader;
  return s;
}

caf::behavior partition_actor(partition_ptr self, partition_args args, caf::actor parent) {
  auto& st = self->state;
  st.args = std::move(args);
  st.parent = std::move(parent);
  auto opened = replication::partition_replica::open(settings_of(st.args));
  if (!opened && replication::is_damaged(opened.error())) return damaged_partition(self, opened.error().message);
  if (!opened) {
    spdlog::error("{}: cannot open log in {}: {}", name_of(st.args), st.args.dir.string(), opened.error().message);
    self->quit(caf::make_error(caf::sec::runtime_error, opened.error().message));
    return {};
  }
  st.replica = std::move(*opened);
  const auto& store = st.replica->store();
  const auto& rec = store.log().recovery();
  if (rec.truncated_bytes > 0)
    spdlog::warn("{}: recovery cut {} bytes from the log tail: {}", name_of(st.args), rec.truncated_bytes, rec.detail);
  spdlog::info("{}: opened, offsets [{}, {}), {} segment(s), Raft entries ({}, {}], term {}", name_of(st.args),
               store.log().log_start_offset(), store.log().log_end_offset(), store.log().segment_count(),
               store.snapshot().index, store.last_index(), st.replica->raft().term());
  self->set_error_handler([=](caf::error& e) {
    spdlog::warn("{}: ignored error message: {}", name_of(self->state.args), self->system().render(e));
  });
  st.replica->elect_alone();
  flush(self);
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
        spdlog::warn("{}: dropped a malformed Raft message: {}", name_of(st.args), why);
        return;
      }
      if (envelope->topic != topic || envelope->partition != partition || envelope->message.to != st.args.node_id)
        return;  // misrouted: dropping is always safe in Raft
      st.replica->on_raft(envelope->message);
      flush(self);
    },
    [=](ready_atom) {
      self->state.ready_scheduled = false;
      self->state.replica->process_readies();
      flush(self);
    },
    [=](tick_atom) {  // from the node's Raft clock, while the group is awake
      auto& st = self->state;
      if (st.quiet && st.replica->quiesced()) {
        // The node's list is a hint: say it again rather than tick in vain.
        self->send(st.parent, quiet_atom::value, true);
        return;
      }
      st.replica->tick();
      flush(self);
    },
    [=](link_atom, std::uint64_t node, bool up) {
      self->state.replica->on_node_link(node, up);
      flush(self);
    },
    [=](produce_timeout_atom, raft::index_t index, raft::term_t term) {
      self->state.replica->produce_timeout(index, term);
      flush(self);
    },
    [=](sync_tick_atom) {
      auto& st = self->state;
      st.replica->sync_tick();
      flush(self);
      self->delayed_send(self, std::chrono::milliseconds{st.args.config.fsync_interval_ms}, sync_tick_atom::value);
    },
    [=](retention_atom) {
      self->state.replica->apply_retention(now_ms());
      flush(self);
      self->delayed_send(self, retention_check_interval, retention_atom::value);
    },
    [=](fetch_timeout_atom, std::uint64_t id) {
      self->state.replica->fetch_timeout(id);
      flush(self);
    },
    [=](shutdown_atom) -> caf::result<bool> {
      auto& st = self->state;
      if (st.stepping_down || !st.replica->begin_step_down()) return true;
      auto rp = self->make_response_promise<bool>();
      st.stepping_down = rp;
      flush(self);
      return rp;  // answered when leadership moved, or by the deadline
    },
    [=](shutdown_atom, bool) {  // the step-down deadline
      self->state.replica->step_down_deadline();
      flush(self);
    },
    [=](cleaner_atom) {
      auto& st = self->state;
      start_cleaner(self);
      // The cleaner works on closed segments only: a quiet replica without
      // any has nothing to clean until it is written to again (which wakes
      // it and re-arms this in flush()), so thousands of idle replicas cost
      // no timer.
      if (st.quiet && st.replica->store().log().segment_count() <= 1) {
        st.cleaner_armed = false;
        return;
      }
      self->delayed_send(self, std::chrono::milliseconds{st.args.cleaner_interval_ms}, cleaner_atom::value);
    },
    [=](cleaned_atom, replication::cleaner_outcome& outcome) {
      self->state.replica->finish_cleaner(outcome);
      flush(self);
    },
    [=](target_atom, const std::vector<std::uint64_t>& voters, std::uint64_t epoch) {
      std::vector<raft::node_id> ids(voters.begin(), voters.end());
      self->state.replica->set_target(std::move(ids), epoch);
      flush(self);
    },
    [=](stats_atom) -> caf::result<std::uint64_t, std::uint64_t, std::uint64_t, replica_followers> {
      const auto& r = *self->state.replica;
      return {r.log_start_offset(), r.high_watermark(), static_cast<std::uint64_t>(r.leader()),
              replica_followers{r.followers()}};
    },
  };
}

} // namespace

void flush(partition_ptr self) {
  auto& st = self->state;
  auto out = st.replica->take_output();
  for (const auto& m : out.messages)
    self->send(st.parent, raft_out_atom::value, static_cast<std::uint64_t>(m.to), st.args.topic, st.args.partition,
               wire::encode_raft({st.args.topic, st.args.partition, m}));
  deliver_answers(self, out);
  if (out.settled) self->send(st.parent, settled_atom::value, st.args.topic, st.args.partition, *out.settled);
  // The node's clock ticks this replica only while its group is awake.
  if (const bool quiet = st.replica->quiesced(); quiet != st.quiet) {
    st.quiet = quiet;
    self->send(st.parent, quiet_atom::value, quiet);
    if (!quiet && !st.cleaner_armed) {
      st.cleaner_armed = true;
      self->delayed_send(self, std::chrono::milliseconds{st.args.cleaner_interval_ms}, cleaner_atom::value);
    }
  }
  using kind = replication::outbox::timer::kind;
  for (const auto& t : out.timers) {
    const auto delay = std::chrono::milliseconds{t.delay_ms};
    switch (t.what) {
      case kind::produce: self->delayed_send(self, delay, produce_timeout_atom::value, t.a, t.b); break;
      case kind::fetch: self->delayed_send(self, delay, fetch_timeout_atom::value, t.a); break;
      case kind::step_down: self->delayed_send(self, delay, shutdown_atom::value, true); break;
    }
  }
  if (out.step_down_done && st.stepping_down) {
    st.stepping_down->deliver(*out.step_down_done);
    st.stepping_down.reset();
  }
  if (out.fatal) {
    // Parked fetches and the like would otherwise wait for their requester's
    // timeout: tell them now, retriably (the supervisor restarts the replica).
    for (auto& [id, rp] : st.waiting)
      rp.deliver(wire::error_response(schema::ErrorCode::PARTITION_UNAVAILABLE,
                                      "the replica stopped (" + *out.fatal + "); retry"));
    st.waiting.clear();
    self->quit(caf::make_error(caf::sec::runtime_error, *out.fatal));
    return;
  }
  // Taken after the requests already queued: one append and one fsync for
  // all of them (group commit).
  if (out.schedule_ready && !st.ready_scheduled) {
    st.ready_scheduled = true;
    self->send(self, ready_atom::value);
  }
}

caf::actor spawn_partition(caf::event_based_actor* parent, partition_args args) {
  return parent->spawn<caf::detached + caf::monitored>(partition_actor, std::move(args),
                                                       caf::actor_cast<caf::actor>(parent));
}

} // namespace herald::actors
