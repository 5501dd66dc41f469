#include "actors/zk_actor.hpp"

#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "cluster/zk_records.hpp"
#include "cluster/zk_session.hpp"
#include "security/acl.hpp"
#include "security/user_store.hpp"
#include "storage/atomic_file.hpp"

namespace herald {
using zk_event_atom = caf::atom_constant<caf::atom("zk_event")>;  // (gen, state) from ZooKeeper's thread
using zk_watch_atom = caf::atom_constant<caf::atom("zk_watch")>;  // (gen, event, path) from ZooKeeper's thread
using zk_tick_atom = caf::atom_constant<caf::atom("zk_tick")>;    // retry clock
using zk_flush_atom = caf::atom_constant<caf::atom("zk_flush")>;  // send the view once the mailbox is drained
} // namespace herald

namespace herald::actors {

namespace {

using cluster::zk_session;
using cluster::zk_state;
using clock_type = std::chrono::steady_clock;

// The C client's own log lines: its connect errors repeat every retry, so
// they go to debug; the actor logs one clear line every few seconds instead.
void client_log(const char* line) {
  spdlog::debug("zookeeper client: {}", line);
}

// Where ZooKeeper's threads send: this actor until its state goes (the
// strong handle it holds is dropped then, so there is no lasting cycle).
class zk_inbox {
public:
  void set(caf::actor a) {
    std::lock_guard<std::mutex> lock{mutex_};
    actor_ = std::move(a);
  }
  caf::actor get() {
    std::lock_guard<std::mutex> lock{mutex_};
    return actor_;
  }

private:
  std::mutex mutex_;
  caf::actor actor_;
};

struct zk_actor_state {
  std::shared_ptr<zk_inbox> inbox = std::make_shared<zk_inbox>();
  zk_args args;
  cluster::zk::paths paths;
  std::string hosts;
  std::unique_ptr<zk_session> session;
  std::uint64_t generation = 0;  // of `session`; callbacks carry it
  zk_state state = zk_state::connecting;
  bool ready = false;       // registered and watching in this session
  bool announced = false;   // the node was last told "available"
  clock_type::time_point down_since = clock_type::now();
  clock_type::time_point last_complaint{};
  std::optional<clock_type::time_point> duplicate_since;  // waiting for an old broker node to go
  bool fatal = false;

  cluster::cluster_view view;
  std::map<std::string, std::int32_t> topic_versions;
  bool dirty = false;
  bool flush_queued = false;
  zk_security security;          // /herald/acls and /herald/users as last read
  bool security_dirty = false;

  static inline const char* name = "herald.zk";

  // CAF destroys the state when the actor exits (before attached functors
  // run): the session closes here, so the broker's ephemeral node goes at once.
  ~zk_actor_state() {
    inbox->set(caf::actor{});
    session.reset();
  }
};

using zk_ptr = caf::stateful_actor<zk_actor_state>*;

bool retriable(const cluster::zk_status& s) {
  return s.connection_loss() || s.session_expired() || s.code == -7 /* ZOPERATIONTIMEOUT */;
}

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
  auto& st = self->state;
  st.dirty = true;
  if (!st.flush_queued) {
    st.flush_queued = true;
    self->send(self, zk_flush_atom::value);
  }
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

// ---- reading -------------------------------------------------------------

// false: the call failed retriably (the caller gives up this round).
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

void set_controller(zk_ptr self, cluster::broker_id id) {
  auto& st = self->state;
  if (st.view.controller != id) {
    st.view.controller = id;
    mark_dirty(self);
  }
}

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

// ---- set-up of a session ---------------------------------------------------

bool ensure_path(zk_ptr self, const std::string& path) {
  auto& st = self->state;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    const auto part = path.substr(0, pos);
    auto made = st.session->create(part, "");
    if (!made.ok() && !made.status.node_exists())
      return false;
  }
  return true;
}

std::optional<std::string> read_local_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in)
    return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool write_local_file(const std::filesystem::path& p, const std::string& text) {
  auto st = storage::write_file_atomically(p, {text.data(), text.size()});
  if (!st)
    spdlog::error("cannot write {}: {}", p.string(), st.message);
  return static_cast<bool>(st);
}

// false: retry later (or fatal, which is flagged).
bool check_cluster_id(zk_ptr self) {
  auto& st = self->state;
  const auto file = st.args.data_dir / "cluster.id";
  std::optional<std::string> local;
  if (auto text = read_local_file(file)) {
    auto id = cluster::zk::decode_cluster_id(*text);
    if (!id.ok()) {
      fail_fatally(self, file.string() + ": " + id.error + "; refusing to join (move it away to join afresh)");
      return false;
    }
    local = id.value;
  }
  auto got = st.session->get(st.paths.cluster_id());
  if (got.status.no_node()) {
    const auto id = local ? *local : cluster::zk::new_cluster_id();
    auto made = st.session->create(st.paths.cluster_id(), id + "\n");
    if (!made.ok() && !made.status.node_exists())
      return false;
    got = st.session->get(st.paths.cluster_id());
  }
  if (!got.ok())
    return false;
  auto remote = cluster::zk::decode_cluster_id(got.value.data);
  if (!remote.ok()) {
    fail_fatally(self, "ZooKeeper node " + st.paths.cluster_id() + ": " + remote.error + "; refusing to join");
    return false;
  }
  if (local && *local != remote.value) {
    fail_fatally(self, "this data directory belongs to cluster " + *local + " but ZooKeeper (" + st.args.connect +
                         ") holds cluster " + remote.value +
                         ": wrong --zookeeper chroot or wrong --data-dir? Refusing to start (nothing was changed)");
    return false;
  }
  if (!local && !write_local_file(file, remote.value + "\n"))
    return false;
  return true;
}

bool register_broker(zk_ptr self) {
  auto& st = self->state;
  const auto path = st.paths.broker(st.args.self.id);
  const auto data = cluster::zk::encode(st.args.self);
  const auto session_file = st.args.data_dir / "zk.session";
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto made = st.session->create(path, data, cluster::zk_create_mode::ephemeral);
    if (made.ok())
      break;
    if (!made.status.node_exists())
      return false;
    auto old = st.session->get(path);
    if (old.status.no_node())
      continue;
    if (!old.ok())
      return false;
    if (old.value.ephemeral_owner == st.session->session_id()) {
      if (old.value.data != data && !st.session->set(path, data).ok())
        return false;
      break;
    }
    const auto previous = read_local_file(session_file);
    if (previous && *previous == std::to_string(old.value.ephemeral_owner) + "\n") {
      spdlog::info("removing broker node {} left by this broker's previous session", path);
      auto removed = st.session->remove(path, old.value.version);
      if (!removed.ok() && !removed.no_node() && !removed.bad_version())
        return false;
      continue;
    }
    // Another session holds this id: a crashed broker's session still
    // running out, or a second live broker with the same id.
    const auto now = clock_type::now();
    if (!st.duplicate_since) {
      st.duplicate_since = now;
      spdlog::warn("broker id {} is registered by another ZooKeeper session ({}); waiting up to {} ms for it to "
                   "expire",
                   st.args.self.id, old.value.data.substr(0, 200), 2 * st.args.session_timeout.count());
    }
    if (now - *st.duplicate_since > 2 * st.args.session_timeout) {
      auto rec = cluster::zk::decode_broker(old.value.data);
      fail_fatally(self, "broker id " + std::to_string(st.args.self.id) + " is already registered by a live broker" +
                           (rec.ok() ? " at " + rec.value.host + ":" + std::to_string(rec.value.port) : "") +
                           "; give this broker another --node-id. Refusing to start");
      return false;
    }
    (void)st.session->exists(path, true);  // its deletion wakes us
    return false;
  }
  st.duplicate_since.reset();
  write_local_file(session_file, std::to_string(st.session->session_id()) + "\n");
  return true;
}

void setup(zk_ptr self) {
  auto& st = self->state;
  if (st.ready || st.fatal || !st.session || st.state != zk_state::connected)
    return;
  if (!ensure_path(self, st.paths.brokers()) || !ensure_path(self, st.paths.topics()) ||
      !ensure_path(self, st.paths.users()))
    return;
  if (!check_cluster_id(self) || !register_broker(self))
    return;
  if (!read_brokers(self) || !read_topics(self) || !read_acls(self) || !read_users(self) || !elect(self))
    return;
  st.ready = true;
  st.security_dirty = true;  // the node hears of ACLs and users at least once per session
  spdlog::info("joined the cluster through ZooKeeper {} as broker {} ({} live broker(s), {} topic(s), controller {})",
               st.args.connect, st.args.self.id, st.view.live_brokers.size(), st.view.topics.size(),
               st.view.controller);
  mark_dirty(self);
  announce(self, true);
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

// ---- writes ----------------------------------------------------------------

using outcome = std::tuple<std::int32_t, std::string>;

outcome unavailable(const std::string& what) {
  return {zk_unavailable, "ZooKeeper unreachable: metadata changes wait (" + what + ")"};
}

bool writable(zk_ptr self) {
  auto& st = self->state;
  return st.session && st.ready && st.state == zk_state::connected;
}

outcome failed(const cluster::zk_status& s) {
  if (retriable(s))
    return unavailable(s.message);
  return {zk_failed, s.message};
}

outcome update_topic(zk_ptr self, const std::string& name, const zk_topic_update& fn) {
  auto& st = self->state;
  if (!writable(self))
    return unavailable("not connected");
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto got = st.session->get(st.paths.topic(name));
    if (got.status.no_node())
      return {zk_no_node, "topic " + name + " does not exist"};
    if (!got.ok())
      return failed(got.status);
    auto rec = cluster::zk::decode_topic(got.value.data);
    if (!rec.ok())
      return {zk_failed, rec.error};
    if (auto why = fn(rec.value); !why.empty())
      return {zk_refused, why};
    auto set = st.session->set(st.paths.topic(name), cluster::zk::encode(rec.value), got.value.version);
    if (set.ok()) {
      (void)read_topic(self, name);
      return {zk_ok, ""};
    }
    if (!set.status.bad_version())
      return failed(set.status);
  }
  return {zk_failed, "topic " + name + " kept changing under 20 attempts to update it"};
}

// Adds and removes ACL lines in /herald/acls: read, change, write back with
// the version read (created when absent), again on a conflict.
std::tuple<std::int32_t, std::string, std::uint32_t, std::uint32_t>
update_acls(zk_ptr self, const std::vector<std::string>& add, const std::vector<std::string>& remove) {
  auto& st = self->state;
  if (!writable(self)) {
    auto [code, message] = unavailable("not connected");
    return {code, message, 0, 0};
  }
  std::vector<security::acl_entry> adds, removes;
  for (const auto& line : add) {
    auto a = security::parse_acl(line);
    if (!a.ok())
      return {zk_refused, a.error, 0, 0};
    adds.push_back(std::move(a.value));
  }
  for (const auto& line : remove) {
    auto a = security::parse_acl(line);
    if (!a.ok())
      return {zk_refused, a.error, 0, 0};
    removes.push_back(std::move(a.value));
  }
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto got = st.session->get(st.paths.acls());
    std::int32_t version = -1;
    std::string text;
    if (got.ok()) {
      version = got.value.version;
      text = std::move(got.value.data);
    } else if (!got.status.no_node()) {
      auto [code, message] = failed(got.status);
      return {code, message, 0, 0};
    }
    auto current = security::decode_acls(text);
    if (!current.ok())
      return {zk_failed, "ZooKeeper node " + st.paths.acls() + " is unreadable (" + current.error +
                           "); repair it with zkCli before changing ACLs", 0, 0};
    std::set<security::acl_entry> acls(current.value.begin(), current.value.end());
    std::uint32_t added = 0, removed = 0;
    for (const auto& a : adds)
      added += acls.insert(a).second ? 1 : 0;
    for (const auto& a : removes)
      removed += static_cast<std::uint32_t>(acls.erase(a));
    if (added == 0 && removed == 0)
      return {zk_ok, "", 0, 0};
    auto next = security::encode_acls({acls.begin(), acls.end()});
    if (next.size() > cluster::zk::max_record_bytes)
      return {zk_refused, "too many ACLs: their text would exceed " + std::to_string(cluster::zk::max_record_bytes) +
                            " bytes (ZooKeeper's node limit)", 0, 0};
    auto written = version < 0 ? st.session->create(st.paths.acls(), next).status
                               : st.session->set(st.paths.acls(), next, version).status;
    if (written.ok()) {
      if (read_acls(self))
        send_security(self);
      return {zk_ok, "", added, removed};
    }
    if (!written.bad_version() && !written.node_exists()) {
      auto [code, message] = failed(written);
      return {code, message, 0, 0};
    }
  }
  return {zk_failed, st.paths.acls() + " kept changing under 20 attempts to update it", 0, 0};
}

std::tuple<std::int32_t, std::string, std::uint32_t, std::uint32_t>
update_users(zk_ptr self, const std::vector<std::string>& names, const std::vector<std::string>& credentials,
             const std::vector<std::string>& remove) {
  auto& st = self->state;
  if (!writable(self)) {
    auto [code, message] = unavailable("not connected");
    return {code, message, 0, 0};
  }
  if (names.size() != credentials.size())
    return {zk_refused, "as many credentials as user names, please", 0, 0};
  std::uint32_t upserted = 0, removed = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto data = security::encode_user_record(names[i], credentials[i]);
    auto made = st.session->create(st.paths.user(names[i]), data);
    if (made.status.node_exists()) {
      auto set = st.session->set(st.paths.user(names[i]), data, -1);
      if (!set.ok()) {
        auto [code, message] = failed(set.status);
        return {code, message, upserted, removed};
      }
    } else if (!made.ok()) {
      auto [code, message] = failed(made.status);
      return {code, message, upserted, removed};
    }
    ++upserted;
  }
  for (const auto& name : remove) {
    auto gone = st.session->remove(st.paths.user(name), -1);
    if (gone.no_node())
      continue;
    if (!gone.ok()) {
      auto [code, message] = failed(gone);
      return {code, message, upserted, removed};
    }
    ++removed;
  }
  if (read_users(self))
    send_security(self);
  return {zk_ok, "", upserted, removed};
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
    [=](zk_create_atom, const zk_topic_ptr& topic) -> outcome {
      auto& st = self->state;
      if (!writable(self))
        return unavailable("not connected");
      auto made = st.session->create(st.paths.topic(topic->descriptor.name), cluster::zk::encode(*topic));
      if (made.status.node_exists())
        return {zk_exists, "topic " + topic->descriptor.name + " already exists"};
      if (!made.ok())
        return failed(made.status);
      (void)read_topic(self, topic->descriptor.name);
      return {zk_ok, ""};
    },
    [=](zk_delete_atom, const std::string& name, std::uint64_t id) -> outcome {
      auto& st = self->state;
      if (!writable(self))
        return unavailable("not connected");
      auto got = st.session->get(st.paths.topic(name));
      if (got.status.no_node())
        return {zk_no_node, "topic " + name + " does not exist"};
      if (!got.ok())
        return failed(got.status);
      if (id != 0) {
        auto rec = cluster::zk::decode_topic(got.value.data);
        if (rec.ok() && rec.value.descriptor.id != id)
          return {zk_no_node, "topic " + name + " was re-created meanwhile"};
      }
      auto removed = st.session->remove(st.paths.topic(name), got.value.version);
      if (removed.no_node() || removed.bad_version())
        return {zk_no_node, "topic " + name + " changed meanwhile; try again"};
      if (!removed.ok())
        return failed(removed);
      (void)read_topic(self, name);
      return {zk_ok, ""};
    },
    [=](zk_update_atom, const std::string& name, const zk_topic_update& fn) -> outcome {
      return update_topic(self, name, fn);
    },
    [=](zk_acls_atom, const std::vector<std::string>& add, const std::vector<std::string>& remove)
      -> std::tuple<std::int32_t, std::string, std::uint32_t, std::uint32_t> { return update_acls(self, add, remove); },
    [=](zk_users_atom, const std::vector<std::string>& names, const std::vector<std::string>& credentials,
        const std::vector<std::string>& remove) -> std::tuple<std::int32_t, std::string, std::uint32_t, std::uint32_t> {
      return update_users(self, names, credentials, remove);
    },
    [=](zk_settled_atom, const std::string& topic, std::uint32_t partition, std::uint64_t epoch) {
      auto [code, message] = update_topic(self, topic, [=](cluster::topic_record& rec) -> std::string {
        if (partition >= rec.partitions.size() || rec.partitions[partition].epoch != epoch)
          return "epoch moved on";
        if (rec.partitions[partition].settled)
          return "already settled";
        rec.partitions[partition].settled = true;
        return {};
      });
      if (code == zk_ok)
        spdlog::info("{}/{}: replica set of epoch {} settled", topic, partition, epoch);
      else if (code != zk_refused)
        spdlog::debug("{}/{}: cannot record settled epoch {} yet: {}", topic, partition, epoch, message);
    },
  };
}

} // namespace

caf::actor spawn_zk_actor(caf::actor_system& system, zk_args args) {
  return system.spawn<caf::detached>(zk_actor, std::move(args));
}

} // namespace herald::actors
