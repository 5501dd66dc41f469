#pragma once
// A ZooKeeper session over the threaded C client (libzookeeper_mt), with
// synchronous helpers that return results instead of C error codes. No CAF:
// the broker turns the callbacks into actor messages.
//
// Session-state model (what `on_state` reports):
//   connecting  -- no server connection. The initial state, and the state after
//                  a connection loss (server down, network cut). The session
//                  itself is still alive on the ensemble until its timeout; the
//                  C client retries every server in the connect string, and if
//                  it gets through in time the SAME session (same id, same
//                  ephemeral nodes, same pending watches) resumes: connected.
//                  Calls made meanwhile fail with ZCONNECTIONLOSS; their effect
//                  on the server is unknown (a create may have happened).
//   connected   -- calls go through.
//   expired     -- the ensemble dropped the session (it was away longer than the
//                  timeout): its ephemeral nodes are gone and its watches will
//                  never fire. Final for this object: the owner must make a new
//                  zk_session, re-register ephemerals, re-read state and re-arm
//                  watches.
//   closed      -- authentication failed or close() was called. Final. (After
//                  close() it is reported on the closing thread.)
//
// THREADING: `on_state` and `on_watch` run on the C client's event thread.
// They must only enqueue (send an actor message, push to a locked queue): no
// blocking, and no synchronous call on this session from inside them (the
// completion it waits for is delivered by that same thread: deadlock).
// The synchronous helpers may be called from any other thread.
//
// Watches are one-shot, as in ZooKeeper: pass watch=true to exists/get/children
// and the next change of that node (or its child list) is delivered once to
// `on_watch`; re-arm by reading again.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

struct _zhandle;

namespace herald::cluster {

enum class zk_state { connecting, connected, expired, closed };
const char* to_string(zk_state s);

// The outcome of one call: code is the ZooKeeper error code (ZOK = 0).
struct [[nodiscard]] zk_status {
  int code = 0;
  std::string message; // e.g. "node does not exist (ZNONODE): /a/b"

  bool ok() const { return code == 0; }
  explicit operator bool() const { return ok(); }
  bool no_node() const;
  bool node_exists() const;
  bool bad_version() const;
  bool connection_loss() const;
  bool session_expired() const;
};

template <class T>
struct [[nodiscard]] zk_result {
  zk_status status;
  T value{};

  bool ok() const { return status.ok(); }
  explicit operator bool() const { return ok(); }
};

// A readable text for a ZooKeeper error code, naming the code.
std::string zk_error_message(int code);

enum class zk_create_mode { persistent, ephemeral, persistent_sequential, ephemeral_sequential };

struct zk_node {
  std::string data;
  int32_t version = 0;        // data version, for set/remove
  int32_t children_version = 0;
  int64_t ephemeral_owner = 0; // session id, 0 for a persistent node
};

enum class zk_event { created, deleted, changed, children };
const char* to_string(zk_event e);

struct zk_watch_event {
  zk_event type;
  std::string path; // relative to the chroot
};

struct zk_options {
  // "host:port[,host:port...][/chroot]". The chroot node must already exist.
  std::string connect;
  std::chrono::milliseconds session_timeout{6000};
  std::function<void(zk_state)> on_state;              // ZooKeeper's thread
  std::function<void(const zk_watch_event&)> on_watch; // ZooKeeper's thread
  // Where the C client's own log lines go (any of its threads; must be
  // thread-safe). Null: its errors go to stderr, as the C client does.
  void (*client_log)(const char* line) = nullptr;
};

class zk_session {
public:
  // Starts connecting (does not wait); state is `connecting` until the first
  // connection. Throws std::runtime_error if the connect string is invalid.
  explicit zk_session(zk_options options);
  ~zk_session(); // close(): an ephemeral node of this session goes at once
  zk_session(const zk_session&) = delete;
  zk_session& operator=(const zk_session&) = delete;

  zk_state state() const;
  // Waits (polling) until the session is connected, or the timeout passes.
  bool wait_connected(std::chrono::milliseconds timeout);
  // The server-assigned session id, 0 before the first connection.
  int64_t session_id() const;
  // Ends the session on the server (ephemeral nodes go now, not at timeout).
  void close();

  // Returns the created path (with the counter for sequential nodes).
  zk_result<std::string> create(const std::string& path, const std::string& data,
                                zk_create_mode mode = zk_create_mode::persistent);
  zk_result<zk_node> get(const std::string& path, bool watch = false);
  // version -1 means any version. Returns the node's new data version.
  zk_result<int32_t> set(const std::string& path, const std::string& data, int32_t version = -1);
  zk_status remove(const std::string& path, int32_t version = -1);
  // Not an error when the node is missing: value is false (a watch set on a
  // missing node fires when it is created).
  zk_result<bool> exists(const std::string& path, bool watch = false);
  zk_result<std::vector<std::string>> children(const std::string& path, bool watch = false);

private:
  static void watcher(_zhandle* zh, int type, int state, const char* path, void* context);
  void on_event(int type, int state, const char* path);
  zk_status status_of(int rc, const std::string& path) const;

  zk_options options_;
  _zhandle* zh_ = nullptr;
  std::atomic<int> state_{static_cast<int>(zk_state::connecting)};
};

} // namespace herald::cluster
