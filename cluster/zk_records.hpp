#pragma once
// How the cluster model (cluster/cluster_model.hpp) is written into ZooKeeper
// nodes, and where. CAF-free and ZooKeeper-free: plain text in, plain values
// out, so the format is tested without a server.
//
// Paths, under an optional prefix (the chroot of the connect string, handled
// by the broker as a path prefix so that it can create it):
//   <prefix>/herald/cluster_id          persistent  cluster id text (below)
//   <prefix>/herald/brokers/<id>        ephemeral   broker record
//   <prefix>/herald/controller          ephemeral   controller record
//   <prefix>/herald/controller_epoch    persistent  decimal epoch, e.g. "7"
//   <prefix>/herald/topics/<name>       persistent  topic record
//   <prefix>/herald/acls                persistent  every ACL (below); absent: none
//   <prefix>/herald/users/<name>        persistent  one SCRAM user (below)
//
// ENCODING. Every record is UTF-8/ASCII text: lines "key=value", each ended by
// one '\n' (0x0a). The key is the bytes before the first '=' of the line
// (non-empty, [a-z0-9_.]), the value everything after it up to the '\n'
// (may be empty, may contain '=', never a control byte 0x00-0x1f or 0x7f).
// No blank lines, no spaces around '=', no '\r'. The first line is always
// "version=1"; a larger version is refused (written by a newer broker), so
// is a missing one. Keys may come in any order after it; a key twice is
// refused; a key this version does not know is ignored (a newer broker may
// add fields that an older one can skip). Numbers are decimal ASCII without
// sign or leading '+' (except where a '-' is allowed, noted), no leading
// zeros required or refused, and must fit their type. Booleans are "true" or
// "false". A record is at most max_record_bytes long.
//
// cluster id (the /herald/cluster_id node's data and <data-dir>/cluster.id):
//   32 lowercase hex characters, optionally followed by one '\n'.
//
// broker record:
//   version=1
//   id=<int32 > 0>
//   host=<advertised host, 1..255 bytes, no space>
//   port=<1..65535>
//   rack=<rack name, 0..64 bytes of [A-Za-z0-9._-]; empty: no rack>
//   weight=<1..1000000>
//   cluster=<HOST:PORT>   the advertised cluster listener (BASP) other brokers
//                         connect to; host as for host=, port 1..65535.
//                         (host/port above are the client listener.) Written
//                         by every broker since the framed client protocol;
//                         a record without it has no cluster address (port 0)
//
// controller record:
//   version=1
//   id=<int32 > 0>
//   epoch=<uint64 > 0>
//
// topic record:
//   version=1
//   name=<topic name (check_topic_name)>
//   id=<uint64 > 0, unique per creation>
//   partitions=<1..max_partitions_per_topic>
//   replication_factor=<1..65535>
//   segment_bytes=<uint64>            the resolved topic_config fields,
//   max_batch_bytes=<uint32>          checked by check_topic_config
//   fsync=always|interval|never
//   fsync_interval_ms=<uint32>
//   retention_ms=<int64 >= -1>
//   retention_bytes=<int64 >= -1>
//   cleanup=delete|compact
//   tombstone_retention_ms=<int64 >= 0>
//   min_compaction_lag_ms=<int64 >= 0>
//   owner=<principal>                 optional: "User:<name>", the principal that
//                                     created the topic (check_owner: 6..1024 bytes
//                                     of the value rules above), charged for it by
//                                     the per-principal limits. Absent (records
//                                     written before owners were, or by an older
//                                     broker, which also drops it when it rewrites
//                                     the record): no owner, counted for nobody.
//   partition.<i>=replicas:<id>[,<id>...] epoch:<uint64> settled:true|false
//       one line for each i in 0..partitions-1 (decimal i), tokens separated
//       by one space, in this order; replicas are distinct ids > 0, first =
//       preferred leader, 1..255 of them.
// Example (zkCli `get /herald/topics/orders`):
//   version=1
//   name=orders
//   id=9160411533520311042
//   partitions=2
//   replication_factor=3
//   ...
//   owner=User:alice
//   partition.0=replicas:1,2,3 epoch:0 settled:true
//   partition.1=replicas:2,3,1 epoch:0 settled:true
//
// acls (one node for the whole set, so that a change of several ACLs is one
// atomic compare-and-set on the node's version, and a broker reads them all
// with one watch; ~50 bytes an ACL: about 20000 fit in max_record_bytes):
//   version=1
//   <acl>            one line per ACL, in the text form of security/acl.hpp
//                    ("<allow|deny> <principal> <operation> <type>:<pattern>"),
//                    sorted, no duplicates. Unlike the records above, these
//                    lines are not key=value and repeat.
// Encoded and decoded by security::encode_acls / decode_acls. Example:
//   version=1
//   allow User:alice produce topic:orders
//   deny User:* delete topic:*
//
// user record (/herald/users/<name>; security/user_store.hpp
// encode_user_record / decode_user_record; <name> as in the path):
//   version=1
//   name=<user name: 1..255 of [A-Za-z0-9._@-]>
//   scram_sha_256=<the SCRAM credential's one-line text form (security/scram.hpp)>
// The broker never holds a password: the client computes the credential.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cluster/cluster_model.hpp"

namespace herald::cluster::zk {

inline constexpr std::size_t max_record_bytes = 1 << 20;  // ZooKeeper's own default node limit
inline constexpr std::size_t max_replicas_per_partition = 255;

// A decode result: `error` empty on success, otherwise a sentence naming the
// line and what is wrong with it. Never throws.
template <class T>
struct decoded {
  T value{};
  std::string error;
  bool ok() const { return error.empty(); }
  explicit operator bool() const { return ok(); }
};

struct controller_record {
  broker_id id = 0;
  std::uint64_t epoch = 0;
  friend bool operator==(const controller_record&, const controller_record&) = default;
};

std::string encode(const broker_record& b);
std::string encode(const controller_record& c);
std::string encode(const topic_record& t);

decoded<broker_record> decode_broker(std::string_view text);
decoded<controller_record> decode_controller(std::string_view text);
decoded<topic_record> decode_topic(std::string_view text);

// Empty when `owner` may be written as a topic record's owner, otherwise why not.
inline constexpr std::size_t max_owner_bytes = 1024;
std::string check_owner(std::string_view owner);
// Empty when `rack` may be written in a broker record, otherwise why not.
std::string check_rack(std::string_view rack);
// Empty when `host` may be written in a broker record, otherwise why not.
std::string check_host(std::string_view host);

// Cluster ids: a fresh random one, and the check of one read back.
std::string new_cluster_id();
decoded<std::string> decode_cluster_id(std::string_view text);  // value without the '\n'
// A fresh random topic id (> 0): unique per creation across the cluster.
std::uint64_t new_topic_id();

// Paths. `prefix` is "" or "/a/b" (no trailing '/').
struct paths {
  std::string prefix;

  std::string root() const { return prefix + "/herald"; }
  std::string cluster_id() const { return root() + "/cluster_id"; }
  std::string brokers() const { return root() + "/brokers"; }
  std::string broker(broker_id id) const { return brokers() + "/" + std::to_string(id); }
  std::string controller() const { return root() + "/controller"; }
  std::string controller_epoch() const { return root() + "/controller_epoch"; }
  std::string topics() const { return root() + "/topics"; }
  std::string topic(const std::string& name) const { return topics() + "/" + name; }
  std::string acls() const { return root() + "/acls"; }
  std::string users() const { return root() + "/users"; }
  std::string user(const std::string& name) const { return users() + "/" + name; }
};

// Splits "host:port[,host:port...][/chroot]" into the hosts part and the
// chroot prefix ("" or "/a/b", a trailing '/' dropped). error set when the
// hosts part is empty or the chroot is not a plain ZooKeeper path.
struct connect_string {
  std::string hosts;
  std::string prefix;
  std::string error;
};
connect_string split_connect_string(std::string_view text);

} // namespace herald::cluster::zk
