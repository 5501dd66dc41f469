#pragma once
// Private to the node actor's translation units (node_actor.cpp supervises,
// node_admin.cpp answers admin requests).

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/node_actor.hpp"
#include "actors/restart_policy.hpp"
#include "actors/routing_table.hpp"
#include "actors/zk_actor.hpp"
#include "cluster/cluster_model.hpp"
#include "cluster/disk_guard.hpp"
#include "cluster/local_metadata_store.hpp"
#include "replication/follower_status.hpp"
#include "replication/replica_origin.hpp"
#include "schema/client.capnp.h"
#include "schema/raft_batch.hpp"
#include "security/authorizer.hpp"
#include "security/user_store.hpp"

namespace herald::actors {

using bytes = std::vector<char>;
using bytes_promise = caf::typed_response_promise<bytes>;

struct node_state {
  node_args args;
  std::string host;  // the client listener (address_atom)
  std::uint16_t port = 0;
  std::string cluster_host;  // the cluster listener; port 0: none
  std::uint16_t cluster_port = 0;
  std::map<std::string, std::vector<caf::actor>> partitions;
  struct replica_slot {
    std::string topic;
    std::uint32_t partition = 0;
    std::uint64_t incarnation = 0;  // restart_policy's: tells a stale actor's down apart
  };
  std::map<caf::actor_addr, replica_slot> partition_of;
  restart_policy restarts;
  std::shared_ptr<cluster::disk_guard> disk;
  bool stopping = false;         // shutdown under way: downs are not crashes
  bool deletes_pending = false;  // a `.deleting` directory or a metadata rewrite awaits
  std::set<caf::actor> sessions;
  routing_ptr routes = std::make_shared<routing_table>();
  std::map<std::uint64_t, caf::actor> peers;  // connected peers' node actors
  std::set<std::uint64_t> connecting;
  // node_raft_transport.cpp: per-peer batches being coalesced, and the
  // replicas whose Raft clock runs (not quiet).
  std::map<std::uint64_t, wire::raft_batch_builder> raft_batches;
  bool raft_flush_scheduled = false;
  std::map<caf::actor_addr, caf::actor> ticking;
  bool raft_clock_running = false;
  // Where each peer is: args.peers (static cluster) or the live brokers
  // (ZooKeeper mode, changing with the view).
  std::map<std::uint64_t, peer_address> peer_addresses;

  // ZooKeeper mode (node_cluster.cpp).
  caf::actor zk;
  caf::actor controller;         // controller_actor.hpp: acts while this broker is elected
  // Replicas moved off this broker, stopping: their directories go when they are down.
  std::map<caf::actor_addr, std::filesystem::path> removing;
  zk_view_ptr view;              // the last view from ZooKeeper; null before the first
  bool zk_available = false;     // metadata writes can go through now
  std::map<std::string, std::set<std::uint32_t>> hosted;  // replicas this broker runs (or restarts)
  struct view_wait {             // an admin answer held until the view shows its effect
    std::function<bool(const cluster::cluster_view&)> done;
    bytes response;
    bytes_promise rp;
    std::chrono::steady_clock::time_point deadline;
  };
  std::vector<view_wait> view_waits;
  // Creates this broker wrote to ZooKeeper that its view does not show yet:
  // counted for their owners by the next create's limit check (else a quick
  // second create would not see the first).
  std::map<std::string, cluster::topic_descriptor> pending_creates;
  caf::error fatal;              // the reason the node stops, when not a signal

  // Authorization (node_security.cpp): the ACLs and users in force (the
  // data directory's, or ZooKeeper's once its first security view came).
  std::vector<security::acl_entry> acls;
  security::user_map users;
  bool security_known = false;   // ZooKeeper mode: a security view arrived
  security::authorizer_ptr authz;
  bool zk_mode() const { return !args.zookeeper.empty(); }

  // The replica ids of every partition: all nodes of the static cluster.
  std::vector<std::uint64_t> replica_ids() const;

  static inline const char* name = "herald.node";
};

using node_ptr = caf::stateful_actor<node_state>*;

// Starts the actors of every partition of `topic`.
// origin: founder when the topic is being created, must_exist otherwise.
void start_topic(node_ptr self, const cluster::topic_descriptor& topic,
                 replication::replica_origin origin = replication::replica_origin::must_exist);

// Builds a new routing snapshot and sends it to every session.
void publish_routes(node_ptr self);

// Starts the actor of one partition replica in its slot (a restart, or an
// admin's restartPartition) and returns it.
caf::actor start_partition(node_ptr self, const cluster::topic_descriptor& topic, std::uint32_t partition,
                           replication::replica_origin origin = replication::replica_origin::must_exist);

// Stops the actors of `topic` deliberately (a delete): their downs are not
// crashes and never restart anything.
void stop_topic(node_ptr self, const std::string& topic);

// Finishes topic deletes: removes the data under every `<topic dir>.deleting`,
// drops those topics from the metadata and rewrites it, then the markers.
// What cannot be done yet (a disk too full for the metadata) is retried at
// the next disk check.
void sweep_deletes(node_ptr self);

// Answers an admin or metadata request. `from_peer`: a create or delete a
// peer already applied; it is applied here and not forwarded again.
// `principal`: who asked (a client's session; a new topic's owner, charged
// by the per-principal limits).
inline const std::string anonymous_principal = "User:ANONYMOUS";
void handle_admin_request(node_ptr self, const bytes& request, bytes_promise rp, bool from_peer = false,
                          const std::string& principal = anonymous_principal);

// The per-principal limits on a create by `principal` of `topic` (its
// owner) or on growing `topic` to `partitions` partitions, given every topic
// this broker knows: empty when allowed (or no limits), else the refusal for
// ErrorCode quotaExceeded (node_admin.cpp).
std::string limit_refusal_for_create(node_ptr self, const std::string& principal,
                                     const cluster::topic_descriptor& topic,
                                     const std::vector<const cluster::topic_descriptor*>& topics);
std::string limit_refusal_for_grow(node_ptr self, const std::string& principal,
                                   const cluster::topic_descriptor& topic, std::uint32_t partitions,
                                   const std::vector<const cluster::topic_descriptor*>& topics);

// A CreateTopic request for `topic` as it stands (sent to a peer that
// connects, so that a node that missed a create while down catches up).
bytes create_request_for(const cluster::topic_descriptor& topic);

// Deletes a topic's local data and replicas (the `.deleting` path); an error
// text when its directory could not even be marked.
std::string delete_local_topic(node_ptr self, const std::string& name);

// Fills a PartitionInfo's followers from a leader's stats (node_admin.cpp).
void fill_followers(const std::vector<replication::follower_status>& followers, schema::PartitionInfo::Builder out);

// Stops children and quits with `reason` (none: a requested shutdown).
void shutdown_node(node_ptr self, caf::error reason);

// node_cluster.cpp: ZooKeeper mode.
void start_cluster(node_ptr self);                 // spawns the ZooKeeper actor
void start_local_replicas(node_ptr self);          // start-up: replicas with local data
void on_cluster_view(node_ptr self, zk_view_ptr view);
void on_cluster_status(node_ptr self, bool available);
void expire_view_waits(node_ptr self);
// A local leader committed the replica set of `epoch`: recorded in ZooKeeper.
void on_replica_settled(node_ptr self, const std::string& topic, std::uint32_t partition, std::uint64_t epoch);
// Metadata, createTopic, deleteTopic and describeTopic in ZooKeeper mode;
// false when `request` is not one of them.
bool handle_cluster_request(node_ptr self, const bytes& request, bytes_promise& rp, const std::string& principal);
// node_reassign.cpp: alterTopic and reassignPartition in ZooKeeper mode.
void alter_topic(node_ptr self, schema::AlterTopicRequest::Reader req, bytes_promise rp, const std::string& principal);
void reassign_partition(node_ptr self, schema::ReassignPartitionRequest::Reader req, bytes_promise rp);
// A partition's voters in ZooKeeper mode: the view's replicas, or (before
// the view) the ones cached when the replica was started.
std::vector<std::uint64_t> cluster_replica_ids(node_ptr self, const std::string& topic, std::uint32_t partition);

// node_security.cpp: ACLs and users.
// Loads the start-up ACLs/users (from args) and publishes the first snapshot.
void start_security(node_ptr self);
// Rebuilds the authorizer from the state and publishes it with the routes.
void publish_authorizer(node_ptr self);
// alterAcls, describeAcls, alterUsers, describeUsers; false when `req` is
// none of them. `from_peer`: applied by a peer of a static cluster already.
bool handle_security_request(node_ptr self, const bytes& request, schema::Request::Reader req, bytes_promise& rp,
                             bool from_peer);
// ZooKeeper mode: /herald/acls and /herald/users as the ZooKeeper actor read them.
void on_security_view(node_ptr self, zk_security_ptr view);

// node_peers.cpp: connections to the other nodes of the static cluster.
void connect_peers(node_ptr self);
void connect_peer(node_ptr self, std::uint64_t id);
// True when `source` was a peer's node actor (and is now forgotten).
bool on_peer_down(node_ptr self, const caf::actor_addr& source);
// Drops the message while `to` is unreachable (and starts connecting).
void send_raft_to_peer(node_ptr self, std::uint64_t to, const std::string& topic, std::uint32_t partition,
                       bytes&& data);
// Sends an applied create/delete request to every connected peer.
void broadcast_admin(node_ptr self, const bytes& request);

// node_raft_transport.cpp: Raft messages at scale.
// To a connected peer: coalesced into its batch (or sent alone if large).
void queue_raft(node_ptr self, std::uint64_t to, const caf::actor& peer, const std::string& topic,
                std::uint32_t partition, bytes&& data);
void flush_raft_batches(node_ptr self);
// A batch from a peer: each message to its local replica.
void on_raft_batch(node_ptr self, const bytes& batch);
// Forwards one Raft message to the local replica of (topic, partition).
void deliver_raft(node_ptr self, const std::string& topic, std::uint32_t partition, bytes&& data);
// A peer's connection was lost (up = false) or made: tell every replica.
void tell_replicas_link(node_ptr self, std::uint64_t peer, bool up);
// The Raft clock: runs while some replica is awake; replicas report quiet/awake.
void start_raft_clock(node_ptr self);
void tick_replica(node_ptr self, const caf::actor& replica);  // its group is awake
void on_raft_clock(node_ptr self);
void on_replica_quiet(node_ptr self, const caf::actor& replica, bool quiet);

} // namespace herald::actors
