#pragma once
// Which actor serves which partition on this node. The node actor owns the
// truth and hands sessions immutable snapshots (routing_atom), so a session
// routes a request without asking anyone. A snapshot is replaced whenever a
// topic is created or deleted or a partition actor restarts; the node sends
// the new one to every session before it answers the request that caused it,
// so a client that saw "topic created" never meets a session that has not.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

namespace herald::cluster {
class disk_guard;
}
namespace herald::security {
class authorizer;
}

namespace herald::actors {

struct routing_table {
  // Indexed by partition id. A default (invalid) actor marks a partition
  // that is offline after too many restarts.
  std::map<std::string, std::vector<caf::actor>> partitions;
  // The node's free-space reserve: sessions refuse produces while it is full.
  std::shared_ptr<const cluster::disk_guard> disk;
  // ZooKeeper mode: per topic, per partition, whether this broker holds a
  // replica (0) or not: then the leader to try (> 0) or -1 (unknown). A
  // partition held elsewhere is answered notLeader with that hint, not
  // "offline". Absent topic: every partition is held here.
  std::map<std::string, std::vector<std::int32_t>> elsewhere;
  // Who may do what (security/authorizer.hpp): replaced with the table
  // whenever ACLs change, so a session authorizes without asking anyone.
  // Null: allow everything.
  std::shared_ptr<const security::authorizer> authz;
};

using routing_ptr = std::shared_ptr<const routing_table>;

} // namespace herald::actors

// Snapshots only travel between actors of one process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(herald::actors::routing_ptr)
