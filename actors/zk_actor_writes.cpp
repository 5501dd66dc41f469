// The ZooKeeper actor: metadata writes for the node actor (and the controller)
// (the split of its files: actors/zk_actor_state.hpp).

#include <set>

#include <spdlog/spdlog.h>

#include "actors/zk_actor_state.hpp"
#include "security/acl.hpp"
#include "security/user_store.hpp"

namespace herald::actors::zk_detail {

namespace {

bool retriable(const cluster::zk_status& s) {
  return s.connection_loss() || s.session_expired() || s.code == -7 /* ZOPERATIONTIMEOUT */;
}

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

} // namespace

outcome create_topic(zk_ptr self, const zk_topic_ptr& topic) {
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
}

outcome delete_topic(zk_ptr self, const std::string& name, std::uint64_t id) {
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
counted_outcome update_acls(zk_ptr self, const std::vector<std::string>& add, const std::vector<std::string>& remove) {
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

counted_outcome update_users(zk_ptr self, const std::vector<std::string>& names,
                             const std::vector<std::string>& credentials, const std::vector<std::string>& remove) {
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

// Fire and forget: nothing waits for the answer.
void mark_settled(zk_ptr self, const std::string& topic, std::uint32_t partition, std::uint64_t epoch) {
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
}

} // namespace herald::actors::zk_detail
