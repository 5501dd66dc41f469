#pragma once
// The ZooKeeper actor: a broker's one connection to the cluster's metadata.
// Detached (its own thread): it owns a cluster::zk_session and makes the
// session's blocking synchronous calls there, so no CAF worker ever waits on
// ZooKeeper. The session's callbacks (ZooKeeper's event thread) only enqueue
// messages to it (anon_send), tagged with the session's generation so that
// late events of a replaced session are recognised and dropped.
//
// What it does, and keeps doing (layout and encoding: cluster/zk_records.hpp):
//   - connects; while ZooKeeper is unreachable it logs a line every few
//     seconds and keeps trying. It never exits for that.
//   - checks /herald/cluster_id against <data-dir>/cluster.id: creates the
//     node (first broker of a cluster) or the file (a broker's first start);
//     a different id on either side is fatal (a wrong chroot or data dir must
//     not make the broker delete every local topic as "absent from ZK").
//   - registers the ephemeral /herald/brokers/<id>. A node of that id left by
//     this data directory's previous session (its id is in
//     <data-dir>/zk.session) is deleted at once; one of another session is
//     waited for up to twice the session timeout (a crashed broker's session
//     expiring) and then refused as a duplicate live id: fatal.
//   - runs the controller election (ephemeral /herald/controller holding id
//     and epoch; /herald/controller_epoch counts them); losers watch it.
//   - watches /herald/brokers and /herald/topics (and every topic node) and
//     sends the node actor a fresh cluster_view whenever anything changes.
//   - session expiry: a new session, then all of the above again (register,
//     re-read, re-arm watches). A connection loss within the session only
//     marks it unavailable: the C client resumes the same session.
//   - executes metadata writes for the node actor (and the controller).
//
// Protocol (CAF-free types live in cluster/cluster_model.hpp):
//   to the node actor given in zk_args:
//     (zk_view_atom, zk_view_ptr)          the current view, after each change
//     (zk_status_atom, bool available)     whether writes can go through now
//     (zk_fatal_atom, std::string why)     the broker must not run (exit)
//   requests it answers with (int32 zk_outcome, std::string message):
//     (zk_create_atom, zk_topic_ptr)        create /herald/topics/<name>
//                                           (exists: outcome exists)
//     (zk_delete_atom, std::string name, uint64 id)  remove it if its id is
//                                           `id` (0: any)
//     (zk_update_atom, std::string name, zk_topic_update fn)  read, apply fn,
//                                           write back with the version read
//                                           (CAS), again on a conflict; fn
//                                           returning a non-empty string
//                                           refuses (outcome refused)
//     (zk_acls_atom, vector<string> add, vector<string> remove)  ACL lines
//                                           (security/acl.hpp) added to and
//                                           removed from /herald/acls (a CAS
//                                           update, created when absent);
//                                           answered (outcome, message,
//                                           uint32 added, uint32 removed)
//     (zk_users_atom, vector<string> names, vector<string> credentials,
//      vector<string> remove)               /herald/users/<name> written or
//                                           removed; answered (outcome,
//                                           message, uint32 upserted, uint32 removed)
//   to the node: (zk_security_atom, zk_security_ptr) after every change of
//     /herald/acls or /herald/users (watched), and at once after a write
//     above, before its answer (so the node's sessions know the change
//     before the client hears of it)
//   (zk_settled_atom, std::string topic, uint32 partition, uint64 epoch)
//       fire and forget: settled=true for that partition if its epoch is
//       still `epoch` (a CAS update).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "cluster/cluster_model.hpp"

namespace herald {

using zk_view_atom = caf::atom_constant<caf::atom("zk_view")>;
using zk_status_atom = caf::atom_constant<caf::atom("zk_status")>;
using zk_fatal_atom = caf::atom_constant<caf::atom("zk_fatal")>;
using zk_create_atom = caf::atom_constant<caf::atom("zk_create")>;
using zk_delete_atom = caf::atom_constant<caf::atom("zk_delete")>;
using zk_update_atom = caf::atom_constant<caf::atom("zk_update")>;
using zk_settled_atom = caf::atom_constant<caf::atom("zk_settled")>;
using zk_security_atom = caf::atom_constant<caf::atom("zk_secur")>;
using zk_acls_atom = caf::atom_constant<caf::atom("zk_acls")>;
using zk_users_atom = caf::atom_constant<caf::atom("zk_users")>;

} // namespace herald

namespace herald::actors {

using zk_view_ptr = std::shared_ptr<const cluster::cluster_view>;
using zk_topic_ptr = std::shared_ptr<const cluster::topic_record>;
// Edits a topic record in place; returns "" to write it, else why not.
using zk_topic_update = std::function<std::string(cluster::topic_record&)>;

// /herald/acls and /herald/users as read (cluster/zk_records.hpp): the ACL
// text undecoded (the node decodes it, keeping the ACLs it has when the
// text is damaged) and each user's credential.
struct zk_security {
  std::string acls;
  std::map<std::string, std::string> users;
};
using zk_security_ptr = std::shared_ptr<const zk_security>;

enum zk_outcome : std::int32_t {
  zk_ok = 0,
  zk_exists = 1,       // create: the topic already exists
  zk_no_node = 2,      // delete/update: no such topic (or another id)
  zk_unavailable = 3,  // ZooKeeper unreachable now: retriable
  zk_refused = 4,      // update: the function refused
  zk_failed = 5,       // anything else (message says)
};

struct zk_args {
  std::string connect;  // host:port[,host:port...][/chroot]
  std::chrono::milliseconds session_timeout{6000};
  cluster::broker_record self;  // this broker as the cluster sees it
  std::filesystem::path data_dir;  // cluster.id and zk.session live here
  caf::actor node;
  std::chrono::milliseconds tick{500};  // retry and "still unreachable" clock
};

// Spawned detached; it stops (closing its session, so the broker's
// ephemeral node goes at once) on an exit message.
caf::actor spawn_zk_actor(caf::actor_system& system, zk_args args);

} // namespace herald::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(herald::actors::zk_view_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(herald::actors::zk_topic_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(herald::actors::zk_topic_update)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(herald::actors::zk_security_ptr)
