#include "cluster/zk_session.hpp"

#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace herald::cluster {

namespace {

// The C client logs every reconnect attempt to stderr at its default level;
// errors only, set once per process.
void quiet_client_log() {
  static std::once_flag once;
  std::call_once(once, [] { zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR); });
}

int create_flags(zk_create_mode mode) {
  switch (mode) {
    case zk_create_mode::persistent:
      return 0;
    case zk_create_mode::ephemeral:
      return ZOO_EPHEMERAL;
    case zk_create_mode::persistent_sequential:
      return ZOO_SEQUENCE;
    case zk_create_mode::ephemeral_sequential:
      return ZOO_EPHEMERAL | ZOO_SEQUENCE;
  }
  return 0;
}

// ZooKeeper's own limit on node data (jute.maxbuffer) is 1 MiB.
constexpr int max_data = 1 << 20;

} // namespace

const char* to_string(zk_state s) {
  switch (s) {
    case zk_state::connecting:
      return "connecting";
    case zk_state::connected:
      return "connected";
    case zk_state::expired:
      return "expired";
    case zk_state::closed:
      return "closed";
  }
  return "?";
}

const char* to_string(zk_event e) {
  switch (e) {
    case zk_event::created:
      return "created";
    case zk_event::deleted:
      return "deleted";
    case zk_event::changed:
      return "changed";
    case zk_event::children:
      return "children";
  }
  return "?";
}

std::string zk_error_message(int code) {
  switch (code) {
    case ZOK:
      return "ok";
    case ZNONODE:
      return "node does not exist (ZNONODE)";
    case ZNODEEXISTS:
      return "node already exists (ZNODEEXISTS)";
    case ZBADVERSION:
      return "node was changed by someone else: version mismatch (ZBADVERSION)";
    case ZNOTEMPTY:
      return "node has children (ZNOTEMPTY)";
    case ZNOCHILDRENFOREPHEMERALS:
      return "ephemeral nodes cannot have children (ZNOCHILDRENFOREPHEMERALS)";
    case ZCONNECTIONLOSS:
      return "connection to ZooKeeper lost; the call's outcome is unknown (ZCONNECTIONLOSS)";
    case ZOPERATIONTIMEOUT:
      return "ZooKeeper operation timed out (ZOPERATIONTIMEOUT)";
    case ZSESSIONEXPIRED:
      return "ZooKeeper session expired: ephemeral nodes and watches are gone (ZSESSIONEXPIRED)";
    case ZINVALIDSTATE:
      return "ZooKeeper handle is closed or expired (ZINVALIDSTATE)";
    case ZBADARGUMENTS:
      return "invalid path or arguments (ZBADARGUMENTS)";
    case ZNOAUTH:
      return "not authorized (ZNOAUTH)";
    case ZAUTHFAILED:
      return "authentication failed (ZAUTHFAILED)";
    case ZMARSHALLINGERROR:
      return "ZooKeeper marshalling error (ZMARSHALLINGERROR)";
    default:
      return std::string{"ZooKeeper error "} + std::to_string(code) + " (" + zerror(code) + ")";
  }
}

bool zk_status::no_node() const {
  return code == ZNONODE;
}
bool zk_status::node_exists() const {
  return code == ZNODEEXISTS;
}
bool zk_status::bad_version() const {
  return code == ZBADVERSION;
}
bool zk_status::connection_loss() const {
  return code == ZCONNECTIONLOSS;
}
bool zk_status::session_expired() const {
  return code == ZSESSIONEXPIRED || code == ZINVALIDSTATE;
}

zk_session::zk_session(zk_options options) : options_(std::move(options)) {
  quiet_client_log();
  zh_ = zookeeper_init2(options_.connect.c_str(), &zk_session::watcher,
                        static_cast<int>(options_.session_timeout.count()), nullptr, this, 0, options_.client_log);
  if (zh_ == nullptr)
    throw std::runtime_error("cannot start a ZooKeeper session for '" + options_.connect +
                             "' (expected host:port[,host:port...][/chroot])");
}

zk_session::~zk_session() {
  close();
}

void zk_session::close() {
  if (zh_ == nullptr)
    return;
  // Joins the client's threads: no callback runs after this returns.
  zookeeper_close(zh_);
  zh_ = nullptr;
  if (state() != zk_state::expired) {
    state_ = static_cast<int>(zk_state::closed);
    if (options_.on_state)
      options_.on_state(zk_state::closed);
  }
}

zk_state zk_session::state() const {
  return static_cast<zk_state>(state_.load());
}

bool zk_session::wait_connected(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (state() != zk_state::connected) {
    if (state() == zk_state::expired || state() == zk_state::closed ||
        std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  return true;
}

int64_t zk_session::session_id() const {
  if (zh_ == nullptr)
    return 0;
  const clientid_t* id = zoo_client_id(zh_);
  return id ? id->client_id : 0;
}

void zk_session::watcher(_zhandle*, int type, int state, const char* path, void* context) {
  static_cast<zk_session*>(context)->on_event(type, state, path);
}

void zk_session::on_event(int type, int state, const char* path) {
  if (type == ZOO_SESSION_EVENT) {
    zk_state next;
    if (state == ZOO_CONNECTED_STATE)
      next = zk_state::connected;
    else if (state == ZOO_EXPIRED_SESSION_STATE)
      next = zk_state::expired;
    else if (state == ZOO_AUTH_FAILED_STATE)
      next = zk_state::closed;
    else
      next = zk_state::connecting; // ZOO_CONNECTING_STATE / ZOO_ASSOCIATING_STATE
    auto previous = static_cast<zk_state>(state_.exchange(static_cast<int>(next)));
    if (previous != next && options_.on_state)
      options_.on_state(next);
    return;
  }
  std::optional<zk_event> event;
  if (type == ZOO_CREATED_EVENT)
    event = zk_event::created;
  else if (type == ZOO_DELETED_EVENT)
    event = zk_event::deleted;
  else if (type == ZOO_CHANGED_EVENT)
    event = zk_event::changed;
  else if (type == ZOO_CHILD_EVENT)
    event = zk_event::children;
  if (event && options_.on_watch)
    options_.on_watch(zk_watch_event{*event, path ? path : ""});
}

zk_status zk_session::status_of(int rc, const std::string& path) const {
  if (rc == ZOK)
    return {};
  return {rc, zk_error_message(rc) + ": " + path};
}

zk_result<std::string> zk_session::create(const std::string& path, const std::string& data,
                                          zk_create_mode mode) {
  if (zh_ == nullptr)
    return {status_of(ZINVALIDSTATE, path), {}};
  std::string created(path.size() + 32, '\0'); // room for a sequence suffix
  int rc = zoo_create(zh_, path.c_str(), data.data(), static_cast<int>(data.size()), &ZOO_OPEN_ACL_UNSAFE,
                      create_flags(mode), created.data(), static_cast<int>(created.size()));
  if (rc != ZOK)
    return {status_of(rc, path), {}};
  created.resize(created.find('\0'));
  return {{}, std::move(created)};
}

zk_result<zk_node> zk_session::get(const std::string& path, bool watch) {
  if (zh_ == nullptr)
    return {status_of(ZINVALIDSTATE, path), {}};
  // Most metadata nodes are small: read into a small buffer, and again into
  // one of the node's size when the stat says the data did not fit (it may
  // grow between the reads, hence the loop; a watch is set only once).
  std::string buffer(4096, '\0');
  Stat stat{};
  int len = 0;
  for (int attempt = 0;; ++attempt) {
    len = static_cast<int>(buffer.size());
    int rc = zoo_get(zh_, path.c_str(), watch && attempt == 0 ? 1 : 0, buffer.data(), &len, &stat);
    if (rc != ZOK)
      return {status_of(rc, path), {}};
    if (stat.dataLength <= static_cast<int32_t>(buffer.size()) || attempt == 3)
      break;
    buffer.assign(static_cast<size_t>(std::min(stat.dataLength, max_data)), '\0');
  }
  buffer.resize(len < 0 ? 0 : static_cast<size_t>(len)); // -1: the node holds null data
  return {{}, zk_node{std::move(buffer), stat.version, stat.cversion, stat.ephemeralOwner}};
}

zk_result<int32_t> zk_session::set(const std::string& path, const std::string& data, int32_t version) {
  if (zh_ == nullptr)
    return {status_of(ZINVALIDSTATE, path), 0};
  Stat stat{};
  int rc = zoo_set2(zh_, path.c_str(), data.data(), static_cast<int>(data.size()), version, &stat);
  if (rc != ZOK)
    return {status_of(rc, path), 0};
  return {{}, stat.version};
}

zk_status zk_session::remove(const std::string& path, int32_t version) {
  if (zh_ == nullptr)
    return status_of(ZINVALIDSTATE, path);
  return status_of(zoo_delete(zh_, path.c_str(), version), path);
}

zk_result<bool> zk_session::exists(const std::string& path, bool watch) {
  if (zh_ == nullptr)
    return {status_of(ZINVALIDSTATE, path), false};
  Stat stat{};
  int rc = zoo_exists(zh_, path.c_str(), watch ? 1 : 0, &stat);
  if (rc == ZNONODE)
    return {{}, false};
  if (rc != ZOK)
    return {status_of(rc, path), false};
  return {{}, true};
}

zk_result<std::vector<std::string>> zk_session::children(const std::string& path, bool watch) {
  if (zh_ == nullptr)
    return {status_of(ZINVALIDSTATE, path), {}};
  String_vector names{};
  int rc = zoo_get_children(zh_, path.c_str(), watch ? 1 : 0, &names);
  if (rc != ZOK)
    return {status_of(rc, path), {}};
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(names.count));
  for (int32_t i = 0; i < names.count; ++i)
    out.emplace_back(names.data[i]);
  deallocate_String_vector(&names);
  return {{}, std::move(out)};
}

} // namespace herald::cluster
