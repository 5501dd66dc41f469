// The ZooKeeper actor: joining through a new session: paths, the cluster id, the broker's ephemeral node
// (the split of its files: actors/zk_actor_state.hpp).

#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "actors/zk_actor_state.hpp"
#include "storage/atomic_file.hpp"

namespace herald::actors::zk_detail {

namespace {

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

} // namespace

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

} // namespace herald::actors::zk_detail
