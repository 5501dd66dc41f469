// ACLs and users: the node keeps the set in force, publishes an authorizer
// snapshot to its sessions (with the routing table), and answers
// alterAcls, describeAcls, alterUsers and describeUsers. Without ZooKeeper
// the data directory holds them (security/local_store.hpp) and a static
// cluster's peers apply each change too; with ZooKeeper, /herald/acls and
// /herald/users do (the ZooKeeper actor writes and watches them).

#include <set>

#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/node_state.hpp"
#include "schema/wire.hpp"
#include "security/acl_wire.hpp"
#include "security/local_store.hpp"

namespace herald::actors {

namespace {

using schema::ErrorCode;

constexpr auto zk_request_timeout = std::chrono::seconds{15};

struct acl_change {
  std::vector<security::acl_entry> add, remove;
  std::string error;
};

acl_change read_change(schema::AlterAclsRequest::Reader req) {
  acl_change out;
  auto take = [&](capnp::List<schema::Acl>::Reader list, std::vector<security::acl_entry>& into, const char* what) {
    for (unsigned i = 0; i < list.size() && out.error.empty(); ++i) {
      auto a = security::from_wire(list[i]);
      if (!a.ok())
        out.error = std::string{what} + " ACL " + std::to_string(i + 1) + ": " + a.error;
      into.push_back(std::move(a.value));
    }
  };
  take(req.getAdd(), out.add, "add");
  take(req.getRemove(), out.remove, "remove");
  if (out.error.empty() && out.add.empty() && out.remove.empty())
    out.error = "no ACL to add or remove";
  return out;
}

bytes alter_acls_response(std::uint32_t added, std::uint32_t removed) {
  capnp::MallocMessageBuilder builder;
  auto r = builder.initRoot<schema::Response>();
  r.initError().setCode(ErrorCode::NONE);
  auto a = r.initAlterAcls();
  a.setAdded(added);
  a.setRemoved(removed);
  return wire::to_bytes(builder);
}

bytes alter_users_response(std::uint32_t upserted, std::uint32_t removed) {
  capnp::MallocMessageBuilder builder;
  auto r = builder.initRoot<schema::Response>();
  r.initError().setCode(ErrorCode::NONE);
  auto a = r.initAlterUsers();
  a.setUpserted(upserted);
  a.setRemoved(removed);
  return wire::to_bytes(builder);
}

bytes zk_failure(std::int32_t code, const std::string& message) {
  switch (code) {
    case zk_unavailable: return wire::error_response(ErrorCode::CLUSTER_UNAVAILABLE, message);
    case zk_refused: return wire::error_response(ErrorCode::INVALID_REQUEST, message);
    default: return wire::error_response(ErrorCode::INTERNAL, message);
  }
}

void alter_acls(node_ptr self, const bytes& request, schema::AlterAclsRequest::Reader req, bytes_promise& rp,
                bool from_peer) {
  auto& st = self->state;
  auto change = read_change(req);
  if (!change.error.empty())
    return rp.deliver(wire::error_response(ErrorCode::INVALID_REQUEST, change.error)), void();
  if (st.zk_mode()) {
    if (!st.zk)
      return rp.deliver(wire::error_response(ErrorCode::CLUSTER_UNAVAILABLE, "ZooKeeper unreachable: ACLs unchanged")),
             void();
    std::vector<std::string> add, remove;
    for (const auto& a : change.add)
      add.push_back(security::encode(a));
    for (const auto& a : change.remove)
      remove.push_back(security::encode(a));
    auto p = rp;
    self->request(st.zk, zk_request_timeout, zk_acls_atom::value, std::move(add), std::move(remove))
      .then(
        [=](std::int32_t code, const std::string& message, std::uint32_t added, std::uint32_t removed) mutable {
          if (code != zk_ok)
            return p.deliver(zk_failure(code, message)), void();
          spdlog::info("ACLs changed in ZooKeeper: {} added, {} removed", added, removed);
          p.deliver(alter_acls_response(added, removed));
        },
        [=](caf::error& e) mutable {
          p.deliver(wire::error_response(ErrorCode::CLUSTER_UNAVAILABLE,
                                         "ZooKeeper did not answer (" + self->system().render(e) +
                                           "); the ACLs may or may not have changed: check with herald acl list"));
        });
    return;
  }
  std::set<security::acl_entry> acls(st.acls.begin(), st.acls.end());
  std::uint32_t added = 0, removed = 0;
  for (const auto& a : change.add)
    added += acls.insert(a).second ? 1 : 0;
  for (const auto& a : change.remove)
    removed += static_cast<std::uint32_t>(acls.erase(a));
  if (added > 0 || removed > 0) {
    std::vector<security::acl_entry> next(acls.begin(), acls.end());
    if (auto why = security::save_acls(st.args.data_dir, next); !why.empty())
      return rp.deliver(wire::error_response(ErrorCode::STORAGE_ERROR, "ACLs unchanged: " + why)), void();
    st.acls = std::move(next);
    spdlog::info("ACLs changed: {} added, {} removed ({} in all)", added, removed, st.acls.size());
    publish_authorizer(self);
  }
  if (!from_peer)
    broadcast_admin(self, request);  // a static cluster's peers apply it too
  rp.deliver(alter_acls_response(added, removed));
}

void describe_acls(node_ptr self, schema::DescribeAclsRequest::Reader req, bytes_promise& rp) {
  auto& st = self->state;
  std::string principal = req.getPrincipal();
  std::vector<const security::acl_entry*> shown;
  for (const auto& a : st.acls)
    if (principal.empty() || a.principal == principal || a.principal == "User:*")
      shown.push_back(&a);
  capnp::MallocMessageBuilder builder;
  auto r = builder.initRoot<schema::Response>();
  r.initError().setCode(ErrorCode::NONE);
  auto d = r.initDescribeAcls();
  auto list = d.initAcls(static_cast<unsigned>(shown.size()));
  for (unsigned i = 0; i < shown.size(); ++i)
    security::to_wire(*shown[i], list[i]);
  d.setEnforcing(st.authz && st.authz->enforcing());
  auto supers = d.initSuperUsers(static_cast<unsigned>(st.args.super_users.size()));
  unsigned i = 0;
  for (const auto& s : st.args.super_users)
    supers.set(i++, s);
  rp.deliver(wire::to_bytes(builder));
}

void alter_users(node_ptr self, const bytes& request, schema::AlterUsersRequest::Reader req, bytes_promise& rp,
                 bool from_peer) {
  auto& st = self->state;
  std::vector<std::string> names, credentials, remove;
  for (auto u : req.getUpsert()) {
    std::string name = u.getName();
    std::string credential = u.getScramSha256();
    auto why = security::check_user_name(name);
    if (why.empty())
      why = security::check_credential(credential);
    if (!why.empty())
      return rp.deliver(wire::error_response(ErrorCode::INVALID_REQUEST, "user '" + name + "': " + why)), void();
    names.push_back(std::move(name));
    credentials.push_back(std::move(credential));
  }
  for (auto n : req.getRemove()) {
    std::string name = n;
    if (auto why = security::check_user_name(name); !why.empty())
      return rp.deliver(wire::error_response(ErrorCode::INVALID_REQUEST, "user '" + name + "': " + why)), void();
    remove.push_back(std::move(name));
  }
  if (names.empty() && remove.empty())
    return rp.deliver(wire::error_response(ErrorCode::INVALID_REQUEST, "no user to add or remove")), void();
  if (st.zk_mode()) {
    if (!st.zk)
      return rp.deliver(wire::error_response(ErrorCode::CLUSTER_UNAVAILABLE, "ZooKeeper unreachable: users unchanged")),
             void();
    auto p = rp;
    self->request(st.zk, zk_request_timeout, zk_users_atom::value, std::move(names), std::move(credentials),
                  std::move(remove))
      .then(
        [=](std::int32_t code, const std::string& message, std::uint32_t upserted, std::uint32_t removed) mutable {
          if (code != zk_ok)
            return p.deliver(zk_failure(code, message)), void();
          spdlog::info("users changed in ZooKeeper: {} added or updated, {} removed", upserted, removed);
          p.deliver(alter_users_response(upserted, removed));
        },
        [=](caf::error& e) mutable {
          p.deliver(wire::error_response(ErrorCode::CLUSTER_UNAVAILABLE,
                                         "ZooKeeper did not answer (" + self->system().render(e) +
                                           "); the users may or may not have changed: check with herald user list"));
        });
    return;
  }
  auto users = st.users;
  std::uint32_t upserted = 0, removed = 0;
  for (std::size_t i = 0; i < names.size(); ++i, ++upserted)
    users[names[i]] = credentials[i];
  for (const auto& name : remove)
    removed += static_cast<std::uint32_t>(users.erase(name));
  if (users != st.users) {
    if (auto why = security::save_users(st.args.data_dir, users); !why.empty())
      return rp.deliver(wire::error_response(ErrorCode::STORAGE_ERROR, "users unchanged: " + why)), void();
    st.users = std::move(users);
    st.args.credentials->replace(st.users);
    spdlog::info("users changed: {} added or updated, {} removed ({} in all)", upserted, removed, st.users.size());
  }
  if (!from_peer)
    broadcast_admin(self, request);
  rp.deliver(alter_users_response(upserted, removed));
}

void describe_users(node_ptr self, bytes_promise& rp) {
  auto& st = self->state;
  capnp::MallocMessageBuilder builder;
  auto r = builder.initRoot<schema::Response>();
  r.initError().setCode(ErrorCode::NONE);
  auto names = r.initDescribeUsers().initNames(static_cast<unsigned>(st.users.size()));
  unsigned i = 0;
  for (const auto& [name, credential] : st.users)
    names.set(i++, name);
  rp.deliver(wire::to_bytes(builder));
}

} // namespace

void start_security(node_ptr self) {
  auto& st = self->state;
  if (!st.args.credentials)
    st.args.credentials = std::make_shared<security::credential_store>();
  if (!st.zk_mode()) {
    st.acls = st.args.acls;
    st.users = st.args.users;
    st.security_known = true;
  }
  st.args.credentials->replace(st.users);
  publish_authorizer(self);
}

void publish_authorizer(node_ptr self) {
  auto& st = self->state;
  auto mode = st.args.authorizer;
  // ZooKeeper mode before the first security view: the ACLs are not known
  // yet, so nothing is allowed but super-users (fail closed), unless
  // authorization is off.
  if (!st.security_known && mode != security::authorizer_mode::off)
    mode = security::authorizer_mode::on;
  const bool was = st.authz && st.authz->enforcing();
  auto authz = std::make_shared<security::authorizer>(st.acls, st.args.super_users, mode,
                                                      st.args.authentication_configured);
  authz->set_pending(!st.security_known && mode != security::authorizer_mode::off);
  st.authz = std::move(authz);
  if (st.authz->enforcing() != was && st.security_known)
    spdlog::info("authorization is {} ({} ACL(s), {} super-user(s), --authorizer={})",
                 st.authz->enforcing() ? "enforced" : "off", st.acls.size(), st.args.super_users.size(),
                 security::to_string(st.args.authorizer));
  publish_routes(self);
}

bool handle_security_request(node_ptr self, const bytes& request, schema::Request::Reader req, bytes_promise& rp,
                             bool from_peer) {
  switch (req.which()) {
    case schema::Request::ALTER_ACLS: alter_acls(self, request, req.getAlterAcls(), rp, from_peer); return true;
    case schema::Request::DESCRIBE_ACLS: describe_acls(self, req.getDescribeAcls(), rp); return true;
    case schema::Request::ALTER_USERS: alter_users(self, request, req.getAlterUsers(), rp, from_peer); return true;
    case schema::Request::DESCRIBE_USERS: describe_users(self, rp); return true;
    default: return false;
  }
}

void on_security_view(node_ptr self, zk_security_ptr view) {
  auto& st = self->state;
  auto acls = security::decode_acls(view->acls);
  if (!acls.ok()) {
    // Keep what is in force: dropping to no ACLs would open everything up.
    spdlog::error("ZooKeeper's ACLs are unreadable ({}); keeping the {} ACL(s) in force", acls.error, st.acls.size());
  } else {
    st.acls = std::move(acls.value);
  }
  st.users = view->users;
  st.args.credentials->replace(st.users);
  st.security_known = true;
  publish_authorizer(self);
}

} // namespace herald::actors
