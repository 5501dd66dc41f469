#pragma once
// The node actor: the root of a broker's supervision tree.
//
//   node
//   ├── partition actor per hosted partition (detached, monitored; restarted
//   │   at once on a crash up to `max_restarts` times in `restart_window`,
//   │   after which it is offline and retried with a back-off from 1 s to
//   │   60 s, or at once on restartPartition; actors/restart_policy.hpp)
//   └── session actor per connected client (monitored; dies with its client)
//
// It owns the topic metadata (local_metadata_store when there is no
// ZooKeeper) and answers metadata, createTopic, deleteTopic, describeTopic and
// restartPartition requests that sessions forward to it.
//
// Disk: every `disk_check` it samples the data directory's free space
// (cluster/disk_guard.hpp); below `disk_reserve_bytes` creates (here) and
// produces (in sessions) are refused with diskFull. A topic delete needs no
// free space: it renames the topic's directory to `<dir>.deleting` (the
// durable intent, finished at the next start if the node dies first),
// removes the data, then rewrites the metadata, retrying that every check
// while the disk is too full to hold it.
//
// Protocol:
//   (hello_atom, actor owner, string principal, string client address) -> actor
//                                         a new session for a framed-listener
//                                         connection (its authenticated principal),
//                                         living as long as owner. There is no
//                                         session without an identity: the node is
//                                         also published on the cluster listener.
//   (request_atom, bytes) -> bytes        admin and metadata requests
//   (address_atom, string host, uint16 port, string cluster_host, uint16 cluster_port)
//                                         where clients reach this node, and
//                                         where peers do (port 0: no cluster listener)
//   (lookup_atom, string topic, uint32 p) -> actor   the partition's actor
//                                         (invalid when unknown or offline)
//   (shutdown_atom)                       stop children, then quit
//
// Replication (a static peer list until the cluster issue brings ZooKeeper):
// every topic is replicated on every node of `peers`, each partition a Raft
// group of all of them. The node actor connects to each peer's published
// node actor (through the middleman, asynchronously; retried every
// `peer_retry` while down) and carries Raft messages between the local
// partition actors and the peers:
//   (raft_out_atom, to, topic, partition, bytes)  from a local replica: sent
//       to peer `to` as (raft_atom, topic, partition, bytes), or dropped while
//       that peer is unreachable (Raft retries)
//   (raft_atom, topic, partition, bytes)          from a peer: to the replica
//   (peer_atom, bytes request)                    a topic create or delete
//       that a peer accepted, applied here too
//
// At scale (actors/node_raft_transport.cpp): what the local replicas send
// to one peer is coalesced: buffered per peer and sent as one
//   (raft_batch_atom, bytes)                      schema/raft_batch.hpp
// when the node's mailbox has taken what was already queued (a flush message
// to itself), so a burst of heartbeats from thousands of groups is one CAF
// message per peer; an AppendEntries over 64 KiB goes alone, after the
// batch before it. The node runs the replicas' Raft clock: every
// raft_tick_ms it sends tick_atom to the replicas whose group is awake (a
// quiet one tells it (quiet_atom, true) and costs nothing until it wakes),
// and it tells every replica (link_atom, node, up) when a peer's connection
// is lost or made, which is how a quiet group's followers learn that their
// leader's node is gone.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "cluster/topic.hpp"
#include "security/authorizer.hpp"
#include "security/user_store.hpp"

namespace herald::security {
class principal_limits;  // security/principal_limits.hpp
}

namespace herald::cluster {
class local_metadata_store;
}

namespace herald::actors {

// A node of the cluster: where its node actor is published (the cluster
// listener, BASP: host/port) and where clients reach it (the framed client
// listener: client_host/client_port, what metadata tells clients).
struct peer_address {
  std::uint64_t id = 0;
  std::string host;
  std::uint16_t port = 0;
  std::string client_host;
  std::uint16_t client_port = 0;
};

struct node_args {
  std::filesystem::path data_dir;
  std::int32_t node_id = 1;
  cluster::topic_config topic_defaults;
  unsigned max_restarts = 5;
  std::chrono::seconds restart_window{60};
  std::shared_ptr<cluster::local_metadata_store> metadata;
  // Every node of the static cluster, this one included; empty: a cluster
  // of this node alone.
  std::vector<peer_address> peers;
  std::chrono::milliseconds peer_retry{500};
  std::uint32_t raft_tick_ms = 50;
  // Idle Raft groups stop heartbeating (raft::options::quiesce).
  bool raft_quiesce = true;
  // Raft messages to one peer go as one batch per burst (schema/raft_batch.hpp).
  bool raft_coalesce = true;
  std::uint32_t cleaner_interval_ms = 30'000;
  // Partition replicas this node may host in all (cluster/topic_limits.hpp).
  std::uint32_t max_partitions = 4096;
  // Free bytes below which creates and produces are refused; 0: no reserve.
  std::uint64_t disk_reserve_bytes = 0;
  std::chrono::milliseconds disk_check{1000};
  // Back-off of an offline replica's retries.
  std::chrono::milliseconds restart_backoff{1000};
  std::chrono::milliseconds max_restart_backoff{60'000};

  // ZooKeeper mode (actors/node_cluster.cpp), replacing `peers`: empty
  // `zookeeper` means a single node or a static cluster.
  std::string zookeeper;  // host:port[,host:port...][/chroot]
  std::string rack;
  std::uint32_t weight = 1;
  std::string advertise_host;  // empty: the address it listens on
  std::uint16_t advertise_port = 0;
  std::string cluster_advertise_host;  // empty: the cluster listener's address
  std::uint16_t cluster_advertise_port = 0;
  std::chrono::milliseconds zk_session_timeout{6000};
  std::chrono::milliseconds replica_grace{60'000};  // the controller's (CTL)

  // Authorization (actors/node_security.cpp, docs/security.md).
  security::authorizer_mode authorizer = security::authorizer_mode::auto_;
  std::set<std::string> super_users;
  // SASL or mTLS configured on the client listener: `auto` enforces then.
  bool authentication_configured = false;
  // Without ZooKeeper: the data directory's ACLs and users as loaded at
  // start (security/local_store.hpp).
  std::vector<security::acl_entry> acls;
  security::user_map users;
  // The users' SCRAM credentials, kept current by the node for whoever
  // runs SCRAM (connection actors, any thread). Null: the node makes one.
  std::shared_ptr<security::credential_store> credentials;
  // Partition and disk limits per principal, checked where a create or a
  // grow is decided (node_admin.cpp, node_cluster.cpp, node_reassign.cpp).
  // Null: none. In ZooKeeper mode every broker must be given the same.
  std::shared_ptr<const security::principal_limits> principal_limits;
};

caf::actor spawn_node(caf::actor_system& system, node_args args);

// Where a partition's log lives: <data-dir>/topics/<name>-<topic id>/<partition>.
// The id keeps a re-created topic apart from the remains of a deleted one.
std::filesystem::path partition_dir(const std::filesystem::path& data_dir, const std::string& topic,
                                    std::uint64_t topic_id, std::uint32_t partition);

} // namespace herald::actors
