// The ZooKeeper actor: reading brokers, topics, ACLs and users with watches;
// the controller election; watch events
// (the split of its files: actors/zk_actor_state.hpp).

#include <set>

#include <spdlog/spdlog.h>

#include "actors/zk_actor_state.hpp"
#include "security/user_store.hpp"

namespace herald::actors::zk_detail {

bool read_topic(zk_ptr self, const std::string& name) {
  auto& st = self->state;
  auto got = st.session->get(st.paths.topic(name), true);
  if (got.status.no_node()) {
    if (st.view.topics.erase(name) > 0)
      mark_dirty(self);
    st.topic_versions.erase(name);
    return true;
  }
  if (!got.ok())
    return false;
  auto rec = cluster::zk::decode_topic(got.value.data);
  if (!rec.ok() || rec.value.descriptor.name != name) {
    // Not ours to repair: a topic we cannot read is left alone (and not
    // treated as absent, which would delete its local data).
    spdlog::error("ZooKeeper node {} is unreadable, ignoring it: {}", st.paths.topic(name),
                  rec.ok() ? "its name field is " + rec.value.descriptor.name : rec.error);
    return true;
  }
  st.topic_versions[name] = got.value.version;
  auto& slot = st.view.topics[name];
  slot = std::move(rec.value);
  mark_dirty(self);
  return true;
}

bool read_topics(zk_ptr self) {
  auto& st = self->state;
  auto names = st.session->children(st.paths.topics(), true);
  if (!names.ok())
    return false;
  std::set<std::string> present(names.value.begin(), names.value.end());
  for (auto i = st.view.topics.begin(); i != st.view.topics.end();) {
    if (present.count(i->first) == 0) {
      st.topic_versions.erase(i->first);
      i = st.view.topics.erase(i);
      mark_dirty(self);
    } else {
      ++i;
    }
  }
  for (const auto& name : present)
    if (st.view.topics.count(name) == 0 || !st.ready)
      if (!read_topic(self, name))
        return false;
  return true;
}

bool read_brokers(zk_ptr self) {
  auto& st = self->state;
  auto ids = st.session->children(st.paths.brokers(), true);
  if (!ids.ok())
    return false;
  std::map<cluster::broker_id, cluster::broker_record> live;
  for (const auto& id : ids.value) {
    auto got = st.session->get(st.paths.brokers() + "/" + id);
    if (got.status.no_node())
      continue;  // went meanwhile: the children watch fires again
    if (!got.ok())
      return false;
    auto rec = cluster::zk::decode_broker(got.value.data);
    if (!rec.ok() || std::to_string(rec.value.id) != id) {
      spdlog::error("ZooKeeper node {}/{} is unreadable, ignoring it: {}", st.paths.brokers(), id,
                    rec.ok() ? "its id field is " + std::to_string(rec.value.id) : rec.error);
      continue;
    }
    live.emplace(rec.value.id, std::move(rec.value));
  }
  if (live != st.view.live_brokers) {
    st.view.live_brokers = std::move(live);
    mark_dirty(self);
  }
  return true;
}

// /herald/acls, watched (an exists watch while it is absent).
bool read_acls(zk_ptr self) {
  auto& st = self->state;
  auto got = st.session->get(st.paths.acls(), true);
  std::string text;
  if (got.status.no_node()) {
    auto watched = st.session->exists(st.paths.acls(), true);
    if (!watched.ok())
      return false;
    if (watched.value)  // created meanwhile: read it
      return read_acls(self);
  } else if (!got.ok()) {
    return false;
  } else {
    text = std::move(got.value.data);
  }
  if (text != st.security.acls) {
    st.security.acls = std::move(text);
    mark_security_dirty(self);
  }
  return true;
}

// One /herald/users/<name>, watched.
bool read_user(zk_ptr self, const std::string& name) {
  auto& st = self->state;
  auto got = st.session->get(st.paths.user(name), true);
  if (got.status.no_node()) {
    if (st.security.users.erase(name) > 0)
      mark_security_dirty(self);
    return true;
  }
  if (!got.ok())
    return false;
  auto rec = security::decode_user_record(got.value.data);
  if (!rec.ok() || rec.name != name) {
    spdlog::error("ZooKeeper node {} is unreadable, ignoring it: {}", st.paths.user(name),
                  rec.ok() ? "its name field is " + rec.name : rec.error);
    if (st.security.users.erase(name) > 0)
      mark_security_dirty(self);
    return true;
  }
  auto& slot = st.security.users[name];
  if (slot != rec.credential) {
    slot = std::move(rec.credential);
    mark_security_dirty(self);
  }
  return true;
}

bool read_users(zk_ptr self) {
  auto& st = self->state;
  auto names = st.session->children(st.paths.users(), true);
  if (!names.ok())
    return false;
  std::set<std::string> present(names.value.begin(), names.value.end());
  for (auto i = st.security.users.begin(); i != st.security.users.end();) {
    if (present.count(i->first) == 0) {
      i = st.security.users.erase(i);
      mark_security_dirty(self);
    } else {
      ++i;
    }
  }
  for (const auto& name : present)
    if (!read_user(self, name))
      return false;
  return true;
}

void send_security(zk_ptr self) {
  auto& st = self->state;
  st.security_dirty = false;
  self->send(st.args.node, zk_security_atom::value, std::make_shared<const zk_security>(st.security));
}

namespace {

void set_controller(zk_ptr self, cluster::broker_id id) {
  auto& st = self->state;
  if (st.view.controller != id) {
    st.view.controller = id;
    mark_dirty(self);
  }
}

} // namespace

// The election: whoever creates the ephemeral /herald/controller leads
// until its session ends; everyone else watches the node.
bool elect(zk_ptr self) {
  auto& st = self->state;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto current = st.session->get(st.paths.controller(), true);
    if (current.ok()) {
      auto rec = cluster::zk::decode_controller(current.value.data);
      set_controller(self, rec.ok() ? rec.value.id : -1);
      return true;
    }
    if (!current.status.no_node())
      return false;
    std::uint64_t last = 0;
    std::int32_t version = -1;
    auto epoch = st.session->get(st.paths.controller_epoch());
    if (epoch.ok()) {
      version = epoch.value.version;
      try {
        last = std::stoull(epoch.value.data);
      } catch (const std::exception&) {
        last = 0;
      }
    } else if (!epoch.status.no_node()) {
      return false;
    }
    cluster::zk::controller_record mine{st.args.self.id, last + 1};
    auto made = st.session->create(st.paths.controller(), cluster::zk::encode(mine), cluster::zk_create_mode::ephemeral);
    if (made.ok()) {
      spdlog::info("this broker is the controller (epoch {})", mine.epoch);
      auto text = std::to_string(mine.epoch);
      if (version < 0)
        (void)st.session->create(st.paths.controller_epoch(), text);
      else
        (void)st.session->set(st.paths.controller_epoch(), text, version);
      continue;  // read it back with a watch
    }
    if (!made.status.node_exists())
      return false;
  }
  return true;
}

void on_watch(zk_ptr self, cluster::zk_event type, const std::string& path) {
  auto& st = self->state;
  if (!st.ready) {
    setup(self);  // e.g. the duplicate broker node went
    return;
  }
  bool ok = true;
  if (path == st.paths.brokers())
    ok = read_brokers(self);
  else if (path == st.paths.topics())
    ok = read_topics(self);
  else if (path.starts_with(st.paths.topics() + "/"))
    ok = read_topic(self, path.substr(st.paths.topics().size() + 1));
  else if (path == st.paths.controller())
    ok = elect(self);
  else if (path == st.paths.acls())
    ok = read_acls(self);
  else if (path == st.paths.users())
    ok = read_users(self);
  else if (path.starts_with(st.paths.users() + "/"))
    ok = read_user(self, path.substr(st.paths.users().size() + 1));
  if (!ok)
    st.ready = false;  // re-read everything once the session is back
  (void)type;
}

} // namespace herald::actors::zk_detail
