#include "actors/zk_actor.hpp"

#include <spdlog/spdlog.h>

#include "actors/zk_actor_state.hpp"

namespace herald::actors {

namespace zk_detail {

void queue_flush(zk_ptr self) {
  auto& st = self->state;
  if (!st.flush_queued) {
    st.flush_queued = true;
    self->send(self, zk_flush_atom::value);
  }
}

void mark_security_dirty(zk_ptr self) {
  self->state.security_dirty = true;
  queue_flush(self);
}

void mark_dirty(zk_ptr self) {
  self->state.dirty = true;
  queue_flush(self);
}

void announce(zk_ptr self, bool available) {
  auto& st = self->state;
  if (st.announced == available)
    return;
  st.announced = available;
  self->send(st.args.node, zk_status_atom::value, available);
}

void fail_fatally(zk_ptr self, const std::string& why) {
  auto& st = self->state;
  if (st.fatal)
    return;
  st.fatal = true;
  spdlog::error("{}", why);
  self->send(st.args.node, zk_fatal_atom::value, why);
}

namespace {

// The C client's own log lines: its connect errors repeat every retry, so
// they go to debug; the actor logs one clear line every few seconds instead.
void client_log(const char* line) {
  spdlog::debug("zookeeper client: {}", line);
}

void new_session(zk_ptr self) {
  auto& st = self->state;
  st.session.reset();  // closes the old one (joins its threads)
  const auto gen = ++st.generation;
  st.state = zk_state::connecting;
  st.ready = false;
  cluster::zk_options o;
  o.connect = st.hosts;
  o.session_timeout = st.args.session_timeout;
  o.client_log = &client_log;
  auto me = st.inbox;
  o.on_state = [me, gen](zk_state s) {
    if (auto a = me->get())
      caf::anon_send(a, zk_event_atom::value, gen, static_cast<std::int32_t>(s));
  };
  o.on_watch = [me, gen](const cluster::zk_watch_event& e) {
    if (auto a = me->get())
      caf::anon_send(a, zk_watch_atom::value, gen, static_cast<std::int32_t>(e.type), e.path);
  };
  try {
    st.session = std::make_unique<zk_session>(std::move(o));
  } catch (const std::exception& e) {
    fail_fatally(self, std::string{"--zookeeper: "} + e.what());
  }
}

caf::behavior zk_actor(zk_ptr self, zk_args args) {
  auto& st = self->state;
  st.args = std::move(args);
  auto split = cluster::zk::split_connect_string(st.args.connect);
  st.hosts = split.hosts;
  st.paths.prefix = split.prefix;
  self->set_error_handler([](caf::error&) {});
  st.inbox->set(caf::actor_cast<caf::actor>(self));
  new_session(self);
  self->send(self, zk_tick_atom::value);

  return {
    [=](zk_event_atom, std::uint64_t gen, std::int32_t raw) {
      auto& st = self->state;
      if (gen != st.generation)
        return;
      const auto s = static_cast<zk_state>(raw);
      st.state = s;
      switch (s) {
        case zk_state::connected:
          spdlog::info("ZooKeeper {} connected (session 0x{:x})", st.args.connect, st.session->session_id());
          if (st.ready) {  // the same session resumed: watches still stand, but catch up on what changed
            if (!read_brokers(self) || !read_topics(self) || !read_acls(self) || !read_users(self) || !elect(self))
              st.ready = false;
            else
              announce(self, true);
          }
          setup(self);
          break;
        case zk_state::connecting:
          st.down_since = clock_type::now();
          spdlog::warn("ZooKeeper {} connection lost; local replicas keep serving, metadata changes wait",
                       st.args.connect);
          announce(self, false);
          break;
        case zk_state::expired:
          spdlog::warn("ZooKeeper session expired; starting a new one (re-register, re-read, re-watch)");
          announce(self, false);
          st.down_since = clock_type::now();
          new_session(self);
          break;
        case zk_state::closed:
          announce(self, false);
          break;
      }
    },
    [=](zk_watch_atom, std::uint64_t gen, std::int32_t type, const std::string& path) {
      if (gen == self->state.generation)
        on_watch(self, static_cast<cluster::zk_event>(type), path);
    },
    [=](zk_tick_atom) {
      auto& st = self->state;
      if (st.fatal)
        return;
      self->delayed_send(self, st.args.tick, zk_tick_atom::value);
      if (st.session && st.session->state() == zk_state::expired && st.state != zk_state::expired) {
        st.state = zk_state::expired;  // the event is in the mailbox; handled there
        return;
      }
      if (st.state != zk_state::connected) {
        const auto now = clock_type::now();
        if (now - st.last_complaint >= std::chrono::seconds{5} &&
            now - st.down_since >= std::chrono::seconds{2}) {
          st.last_complaint = now;
          spdlog::warn("ZooKeeper {} unreachable for {} s; retrying (local replicas keep serving)", st.args.connect,
                       std::chrono::duration_cast<std::chrono::seconds>(now - st.down_since).count());
        }
        return;
      }
      setup(self);
    },
    [=](zk_flush_atom) {
      auto& st = self->state;
      st.flush_queued = false;
      if (!st.ready)
        return;
      if (st.dirty) {
        st.dirty = false;
        self->send(st.args.node, zk_view_atom::value, std::make_shared<const cluster::cluster_view>(st.view));
      }
      if (st.security_dirty)
        send_security(self);
    },
    [=](zk_create_atom, const zk_topic_ptr& topic) -> outcome { return create_topic(self, topic); },
    [=](zk_delete_atom, const std::string& name, std::uint64_t id) -> outcome {
      return delete_topic(self, name, id);
    },
    [=](zk_update_atom, const std::string& name, const zk_topic_update& fn) -> outcome {
      return update_topic(self, name, fn);
    },
    [=](zk_acls_atom, const std::vector<std::string>& add, const std::vector<std::string>& remove)
      -> counted_outcome { return update_acls(self, add, remove); },
    [=](zk_users_atom, const std::vector<std::string>& names, const std::vector<std::string>& credentials,
        const std::vector<std::string>& remove) -> counted_outcome {
      return update_users(self, names, credentials, remove);
    },
    [=](zk_settled_atom, const std::string& topic, std::uint32_t partition, std::uint64_t epoch) {
      mark_settled(self, topic, partition, epoch);
    },
  };
}

} // namespace

} // namespace zk_detail

caf::actor spawn_zk_actor(caf::actor_system& system, zk_args args) {
  return system.spawn<caf::detached>(zk_detail::zk_actor, std::move(args));
}

} // namespace herald::actors
