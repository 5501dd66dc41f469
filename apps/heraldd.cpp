// heraldd: one Herald broker node.
//
// Without --zookeeper the node keeps its metadata in its data directory and
// serves every partition itself (or, with --peer, a static cluster where
// every node holds every partition). With --zookeeper it joins a cluster:
// brokers, topics and replica placement live in ZooKeeper
// (actors/zk_actor.hpp, actors/node_cluster.cpp).

#include <atomic>
#include <csignal>
#include <sys/resource.h>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <optional>
#include <vector>
#include <algorithm>

#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/client_listener.hpp"
#include "actors/node_actor.hpp"
#include "actors/cluster_tls.hpp"
#include "actors/system_config.hpp"
#include "cluster/address.hpp"
#include "cluster/local_metadata_store.hpp"
#include "cluster/topic_limits.hpp"
#include "cluster/zk_records.hpp"
#include "protocol/frame.hpp"
#include "security/cluster_exposure.hpp"
#include "security/connection_limits.hpp"
#include "security/sasl_server.hpp"
#include "security/sasl_user_lookup.hpp"
#include "security/principal_limits.hpp"
#include "security/quota.hpp"
#include "security/local_store.hpp"
#include "storage/atomic_file.hpp"
#include "security/tls_context.hpp"
#include "storage/dir_lock.hpp"

namespace {

struct options {
  std::string data_dir;
  std::string listen = "127.0.0.1:9092";
  std::string cluster_listen;
  std::string cluster_advertise;
  std::int32_t node_id = 1;
  std::string port_file;
  std::string log_level = "info";
  std::uint64_t segment_bytes = 128ull << 20;
  std::uint32_t max_batch_bytes = 1u << 20;
  std::string fsync = "always";
  std::uint32_t fsync_interval_ms = 100;
  std::int64_t retention_ms = -1;
  std::int64_t retention_bytes = -1;
  std::vector<std::string> peers;
  std::uint32_t raft_tick_ms = 50;
  bool raft_quiesce = true;
  bool raft_coalesce = true;
  std::uint32_t cleaner_interval_ms = 30'000;
  std::string cleanup_policy = "delete";
  std::int64_t tombstone_retention_ms = 86'400'000;
  std::int64_t min_compaction_lag_ms = 0;
  std::uint32_t max_partitions = herald::cluster::default_max_partitions_per_broker;
  std::uint64_t disk_reserve_bytes = 256ull << 20;
  std::uint32_t disk_check_ms = 1000;
  std::string zookeeper;
  std::string rack;
  std::uint32_t weight = 1;
  std::string advertise;
  std::uint32_t zk_session_timeout_ms = 6000;
  std::uint32_t replica_grace_ms = 60'000;
  herald::actors::cluster_tls_settings cluster_tls;
  bool cluster_insecure = false;  // plain BASP on a non-loopback --cluster-listen, knowingly
  // TLS on the client listener (security/tls_context.hpp).
  herald::security::tls_server_options tls;
  std::string tls_client_auth = "none";
  std::uint32_t tls_reload_check_ms = 60'000;
  // The framed client listener (actors/client_listener.hpp) and its limits.
  std::uint32_t max_frame_bytes = herald::protocol::default_max_frame_bytes;
  std::uint32_t max_inflight_requests = 512;
  std::uint64_t max_connection_inflight_bytes = 80ull << 20;
  std::uint64_t max_queued_request_bytes = 96ull << 20;
  std::uint32_t handshake_timeout_ms = 10'000;
  std::uint32_t frame_timeout_ms = 30'000;
  std::uint32_t idle_timeout_ms = 600'000;
  std::size_t max_connections = 0;         // 0: half the process's descriptor limit
  std::size_t max_connections_per_ip = 0;  // 0: no cap
  // SASL on the client listener (security/sasl_server.hpp).
  std::string sasl_mechanisms;
  // Byte quotas per principal (security/quota.hpp); 0 = none.
  std::uint64_t quota_produce_bytes_per_sec = 0;
  std::uint64_t quota_fetch_bytes_per_sec = 0;
  std::uint64_t quota_partitions = 0;
  std::uint64_t quota_disk_bytes = 0;
  std::vector<std::string> quotas;
  std::string authorizer = "auto";
  std::string super_users;
};

// "--peer ID=HOST:CLIENTPORT/HOST:CLUSTERPORT" for every node of a static
// cluster, this one included: where clients reach it (metadata tells them)
// and where its cluster listener is (node actors connect there).
std::optional<herald::actors::peer_address> parse_peer(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return std::nullopt;
  std::uint64_t id = 0;
  try {
    std::size_t used = 0;
    id = std::stoull(text.substr(0, eq), &used);
    if (used != eq || id == 0 || id > 0x7fffffff) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const auto rest = text.substr(eq + 1);
  const auto slash = rest.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto client = herald::cluster::parse_host_port(rest.substr(0, slash), false);
  auto cluster = herald::cluster::parse_host_port(rest.substr(slash + 1), false);
  if (!client || !cluster) return std::nullopt;
  return herald::actors::peer_address{id, cluster->first, cluster->second, client->first, client->second};
}

// Globals because the signal-waiting thread may outlive main's frame.
sigset_t stop_signals;
std::atomic<bool> stop_requested{false};

int fail(const std::string& why) {
  std::cerr << "heraldd: " << why << std::endl;
  return 1;
}

herald::cluster::fsync_policy parse_fsync(const std::string& s) {
  if (s == "interval")
    return herald::cluster::fsync_policy::interval;
  if (s == "never")
    return herald::cluster::fsync_policy::never;
  return herald::cluster::fsync_policy::always;
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  CLI::App app{"heraldd: a Herald broker node"};
  app.set_config("--config", "", "Read options from this INI or TOML file (keys are the long option names)");
  app.allow_config_extras(false);  // a misspelt key in a config file is an error, not silently ignored
  app.add_option("--data-dir", opt.data_dir, "Directory for logs and metadata (created if missing)")->required();
  app.add_option("--listen", opt.listen,
                 "HOST:PORT to accept clients on (Herald's framed client protocol); port 0 picks a free port")
    ->capture_default_str();
  app.add_option("--cluster-listen", opt.cluster_listen,
                 "HOST:PORT of the cluster listener, where other brokers connect (CAF's BASP; never for clients); "
                 "required with --peer or --zookeeper, refused without; port 0 picks a free port");
  app.add_option("--node-id", opt.node_id, "This node's id")->capture_default_str();
  app.add_option("--port-file", opt.port_file, "Write the HOST:PORT actually listened on to this file");
  app.add_option("--log-level", opt.log_level, "trace, debug, info, warn, error or off")
    ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
    ->capture_default_str();
  app.add_option("--segment-bytes", opt.segment_bytes, "Default segment size of new topics")
    ->check(CLI::Range(herald::cluster::min_segment_bytes, herald::cluster::max_segment_bytes))
    ->capture_default_str();
  app.add_option("--max-batch-bytes", opt.max_batch_bytes, "Default largest record batch of new topics")
    ->check(CLI::Range(herald::cluster::min_batch_bytes, herald::cluster::max_batch_bytes))
    ->capture_default_str();
  app.add_option("--fsync", opt.fsync, "Default fsync policy of new topics: always, interval or never")
    ->check(CLI::IsMember({"always", "interval", "never"}))
    ->capture_default_str();
  app.add_option("--fsync-interval-ms", opt.fsync_interval_ms, "fsync period for --fsync interval")
    ->check(CLI::Range(1u, 60'000u))
    ->capture_default_str();
  app.add_option("--retention-ms", opt.retention_ms, "Default retention time of new topics; -1 keeps forever")
    ->check(CLI::Range(std::int64_t{-1}, std::numeric_limits<std::int64_t>::max()))
    ->capture_default_str();
  app.add_option("--retention-bytes", opt.retention_bytes, "Default retention size per partition; -1: no limit")
    ->check(CLI::Range(std::int64_t{-1}, std::numeric_limits<std::int64_t>::max()))
    ->capture_default_str();
  app.add_option("--peer", opt.peers,
                 "ID=HOST:CLIENTPORT/HOST:CLUSTERPORT of every node of a static cluster, this one included "
                 "(repeat the flag): its --listen and --cluster-listen addresses; every topic is then replicated "
                 "on all of them");
  app.add_option("--raft-tick-ms", opt.raft_tick_ms,
                 "Raft clock period: heartbeats every tick, elections after 10-20 silent ticks")
    ->check(CLI::Range(5u, 10'000u))
    ->capture_default_str();
  app.add_option("--raft-quiesce", opt.raft_quiesce,
                 "Idle partitions stop heartbeating until written to or their leader's node is lost "
                 "(false: heartbeat every tick, as before)")
    ->capture_default_str();
  app.add_option("--raft-coalesce", opt.raft_coalesce,
                 "Send Raft messages to each peer as one batch per burst instead of one message each")
    ->capture_default_str();
  app.add_option("--cleaner-interval-ms", opt.cleaner_interval_ms,
                 "How often each partition's cleaner looks for expired records to reclaim and keys to compact")
    ->check(CLI::Range(10u, 86'400'000u))
    ->capture_default_str();
  app.add_option("--cleanup-policy", opt.cleanup_policy, "Default cleanup policy of new topics: delete or compact")
    ->check(CLI::IsMember({"delete", "compact"}))
    ->capture_default_str();
  app.add_option("--tombstone-retention-ms", opt.tombstone_retention_ms,
                 "Default time a compacted topic keeps a key's latest tombstone")
    ->check(CLI::Range(std::int64_t{0}, std::numeric_limits<std::int64_t>::max()))
    ->capture_default_str();
  app.add_option("--min-compaction-lag-ms", opt.min_compaction_lag_ms,
                 "Default age below which compaction keeps older values of a key")
    ->check(CLI::Range(std::int64_t{0}, std::numeric_limits<std::int64_t>::max()))
    ->capture_default_str();
  app.add_option("--max-partitions", opt.max_partitions,
                 "Most partition replicas this node hosts, all topics together; creates beyond are refused")
    ->check(CLI::Range(1u, 1u << 20))
    ->capture_default_str();
  app.add_option("--disk-reserve-bytes", opt.disk_reserve_bytes,
                 "Free space below which topic creates and produces are refused with diskFull (reads, deletes "
                 "and retention go on); 0: no reserve")
    ->capture_default_str();
  app.add_option("--disk-check-ms", opt.disk_check_ms, "How often free space is sampled against the reserve")
    ->check(CLI::Range(10u, 60'000u))
    ->capture_default_str();
  app.add_option("--zookeeper", opt.zookeeper,
                 "HOST:PORT[,HOST:PORT...][/chroot] of a ZooKeeper ensemble: join that cluster (brokers, topics and "
                 "replica placement live there); without it the node runs alone or with --peer");
  app.add_option("--rack", opt.rack, "ZooKeeper mode: this broker's rack; a partition's replicas go to distinct racks");
  app.add_option("--weight", opt.weight, "ZooKeeper mode: relative share of replicas this broker takes")
    ->check(CLI::Range(1u, 1'000'000u))
    ->capture_default_str();
  app.add_option("--advertise", opt.advertise,
                 "ZooKeeper mode: HOST:PORT clients reach this one at (default: the --listen address)");
  app.add_option("--cluster-advertise", opt.cluster_advertise,
                 "ZooKeeper mode: HOST:PORT other brokers reach this one's cluster listener at (default: the "
                 "--cluster-listen address)");
  app.add_option("--zk-session-timeout-ms", opt.zk_session_timeout_ms,
                 "ZooKeeper session timeout: a broker silent this long is gone from the cluster")
    ->check(CLI::Range(400u, 120'000u))
    ->capture_default_str();
  app.add_option("--replica-grace-ms", opt.replica_grace_ms,
                 "ZooKeeper mode: how long a broker may be gone before the controller re-creates its replicas elsewhere")
    ->check(CLI::Range(0u, 86'400'000u))
    ->capture_default_str();
  app.add_option("--cluster-tls-cert", opt.cluster_tls.cert_file,
                 "Mutual TLS between brokers: this broker's certificate (PEM; with --cluster-tls-key and --cluster-tls-ca)");
  app.add_option("--cluster-tls-key", opt.cluster_tls.key_file, "Mutual TLS between brokers: its private key (PEM)");
  app.add_option("--cluster-tls-ca", opt.cluster_tls.ca_file,
                 "Mutual TLS between brokers: the CA whose certificates are brokers (PEM); peers without one are refused");
  app.add_flag("--cluster-insecure", opt.cluster_insecure,
               "Allow --cluster-listen on a non-loopback address without --cluster-tls-*: plain BASP, which trusts "
               "whoever connects (any of them can act as a broker or make this one allocate 2 GiB); only on a "
               "network that nothing but the brokers reaches");
  app.add_option("--sasl-mechanisms", opt.sasl_mechanisms,
                 "Client listener: clients must authenticate with one of these SASL mechanisms (comma-separated; "
                 "today SCRAM-SHA-256) before any request; users and their credentials come from `herald user` "
                 "(ZooKeeper /herald/users or the data directory)");
  app.add_option("--max-frame-bytes", opt.max_frame_bytes,
                 "Client listener: largest frame (its length field) after the handshake; larger ones end the "
                 "connection before anything is allocated for them")
    ->check(CLI::Range(herald::protocol::pre_auth_max_frame, 1u << 30))
    ->capture_default_str();
  app.add_option("--max-inflight-requests", opt.max_inflight_requests,
                 "Client listener: requests one connection may have unanswered; beyond, they are answered throttled")
    ->check(CLI::Range(1u, 1u << 16))
    ->capture_default_str();
  app.add_option("--max-connection-inflight-bytes", opt.max_connection_inflight_bytes,
                 "Client listener: bytes one connection holds (a frame still arriving, requests not answered, "
                 "responses not written); at this its socket is not read until under again. At least --max-frame-bytes")
    ->check(CLI::Range(std::uint64_t{1} << 16, std::uint64_t{1} << 36))
    ->capture_default_str();
  app.add_option("--max-queued-request-bytes", opt.max_queued_request_bytes,
                 "Client listener: the same bytes, all connections together (the broker's memory for clients); at "
                 "this no connection is read until under again. At least --max-frame-bytes")
    ->check(CLI::Range(std::uint64_t{1} << 20, std::uint64_t{1} << 40))
    ->capture_default_str();
  app.add_option("--handshake-timeout-ms", opt.handshake_timeout_ms,
                 "Client listener: a connection's hello (and authentication) must complete within this")
    ->check(CLI::Range(100u, 600'000u))
    ->capture_default_str();
  app.add_option("--frame-timeout-ms", opt.frame_timeout_ms,
                 "Client listener: a started frame must complete within this (slowloris), and unread responses "
                 "must start draining within this, or the connection is closed")
    ->check(CLI::Range(100u, 3'600'000u))
    ->capture_default_str();
  app.add_option("--idle-timeout-ms", opt.idle_timeout_ms,
                 "Client listener: a connection with nothing in flight and nothing received this long is closed")
    ->check(CLI::Range(1'000u, 86'400'000u))
    ->capture_default_str();
  app.add_option("--max-connections", opt.max_connections,
                 "Client listener: most client connections at once; beyond, a new one gets a goodbye and is closed "
                 "(0: half the process's file descriptor limit)")
    ->capture_default_str();
  app.add_option("--max-connections-per-ip", opt.max_connections_per_ip,
                 "Client listener: most client connections from one IP address at once (0: no cap)")
    ->capture_default_str();
  app.add_option("--quota-produce-bytes-per-sec", opt.quota_produce_bytes_per_sec,
                 "Client listener: produce bytes per second each principal may send (beyond, responses carry a "
                 "throttle the client waits out and the connection is not read meanwhile); 0: no quota")
    ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 40))
    ->capture_default_str();
  app.add_option("--quota-fetch-bytes-per-sec", opt.quota_fetch_bytes_per_sec,
                 "Client listener: fetched bytes per second each principal may receive; 0: no quota")
    ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 40))
    ->capture_default_str();
  app.add_option("--quota-partitions", opt.quota_partitions,
                 "Partitions each principal's topics may have in all (a topic is its creator's; checked on create and "
                 "alter --partitions; super-users exempt); 0: no limit")
    ->capture_default_str();
  app.add_option("--quota-disk-bytes", opt.quota_disk_bytes,
                 "Bytes each principal's topics may reserve in all, partitions x replication factor x retention.bytes "
                 "(such a principal must set retention.bytes; super-users exempt); 0: no limit")
    ->capture_default_str();
  app.add_option("--quota", opt.quotas,
                 "PRINCIPAL=produce:N,fetch:M,partitions:P,disk:B, a principal's own quotas instead of the defaults "
                 "(a part left out keeps the default, 0 exempts; repeat the flag), e.g. User:alice=produce:1048576. "
                 "In ZooKeeper mode give every broker the same partition and disk limits");
  app.add_option("--authorizer", opt.authorizer,
                 "ACL checks (docs/security.md): auto (once any ACL exists or clients authenticate), on (default deny "
                 "from the start), off")
    ->check(CLI::IsMember({"auto", "on", "off"}))
    ->capture_default_str();
  app.add_option("--super-users", opt.super_users,
                 "Principals allowed everything whatever the ACLs say, comma-separated: User:admin,User:ops");
  app.add_option("--tls-cert", opt.tls.cert_file,
                 "TLS on the client listener: this broker's certificate (PEM, then any intermediates; with --tls-key)");
  app.add_option("--tls-key", opt.tls.key_file, "TLS on the client listener: its private key (PEM)");
  app.add_option("--tls-ca", opt.tls.ca_file, "TLS on the client listener: the CA (PEM) client certificates must come from");
  app.add_option("--tls-client-auth", opt.tls_client_auth,
                 "TLS on the client listener: none, optional (a certificate, if sent, must verify and names the "
                 "principal) or required (clients without one are refused)")
    ->check(CLI::IsMember({"none", "optional", "required"}))
    ->capture_default_str();
  app.add_option("--tls-reload-check-ms", opt.tls_reload_check_ms,
                 "TLS on the client listener: how often new connections look for changed certificate files "
                 "(SIGHUP reloads at once)")
    ->check(CLI::Range(0u, 86'400'000u))
    ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(e.what());
  }

  auto logger = spdlog::stderr_color_mt("heraldd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(opt.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  auto listen = herald::cluster::parse_host_port(opt.listen, true);
  if (!listen)
    return fail("--listen " + opt.listen + " is not HOST:PORT");
  auto [host, port] = *listen;

  std::vector<std::string> sasl_mechanisms;
  if (!opt.sasl_mechanisms.empty()) {
    std::string why;
    auto parsed = herald::security::parse_sasl_mechanisms(opt.sasl_mechanisms, &why);
    if (!parsed)
      return fail("--sasl-mechanisms: " + why);
    sasl_mechanisms = std::move(*parsed);
  }
  // The users' SCRAM credentials: filled by the node (ZooKeeper or the data
  // directory), read by every client connection.
  auto credentials = std::make_shared<herald::security::credential_store>();
  // A produce of the largest batch must fit in one frame (the request around
  // the batch takes far less than 64 KiB).
  if (opt.max_frame_bytes < std::uint64_t{opt.max_batch_bytes} + (64u << 10))
    return fail("--max-frame-bytes " + std::to_string(opt.max_frame_bytes) +
                " leaves no room for a produce of --max-batch-bytes " + std::to_string(opt.max_batch_bytes) +
                " (needs at least 64 KiB more)");

  herald::security::connection_limits_config connection_caps{opt.max_connections, opt.max_connections_per_ip};
  if (connection_caps.max_total == 0) {
    // Descriptors are shared with segment files and peers: clients get half.
    rlimit files{};
    connection_caps.max_total = getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY
                                  ? std::max<std::size_t>(16, files.rlim_cur / 2)
                                  : 10'000;
    connection_caps.max_per_ip = std::min(connection_caps.max_per_ip, connection_caps.max_total);
  }
  if (auto why = herald::security::check_connection_limits_config(connection_caps); !why.empty())
    return fail(why);
  herald::security::quota_config quota_config;
  if (auto why = herald::security::build_quota_config({opt.quota_produce_bytes_per_sec, opt.quota_fetch_bytes_per_sec,
                                                       opt.quota_partitions, opt.quota_disk_bytes},
                                                      opt.quotas, quota_config);
      !why.empty())
    return fail(why);

  // One frame of the largest size must fit in either budget, or it could never complete.
  if (opt.max_connection_inflight_bytes < opt.max_frame_bytes || opt.max_queued_request_bytes < opt.max_frame_bytes)
    return fail("--max-connection-inflight-bytes and --max-queued-request-bytes must be at least --max-frame-bytes (" +
                std::to_string(opt.max_frame_bytes) + ")");

  std::vector<herald::actors::peer_address> peers;
  for (const auto& text : opt.peers) {
    auto peer = parse_peer(text);
    if (!peer)
      return fail("--peer " + text + " is not ID=HOST:CLIENTPORT/HOST:CLUSTERPORT with an id in 1..2147483647");
    for (const auto& other : peers)
      if (other.id == peer->id)
        return fail("--peer names node " + std::to_string(peer->id) + " twice");
    peers.push_back(*peer);
  }
  if (!peers.empty() && std::none_of(peers.begin(), peers.end(), [&](const auto& p) {
        return p.id == static_cast<std::uint64_t>(opt.node_id);
      }))
    return fail("--peer must list this node (--node-id " + std::to_string(opt.node_id) + ") too");
  if (opt.node_id <= 0)
    return fail("--node-id must be positive");
  // The cluster listener: only a node with peers has one (a single node
  // publishes nothing over BASP).
  std::optional<std::pair<std::string, std::uint16_t>> cluster_listen;
  if (!opt.cluster_listen.empty()) {
    if (opt.peers.empty() && opt.zookeeper.empty())
      return fail("--cluster-listen needs --peer or --zookeeper (a single node has no cluster listener)");
    cluster_listen = herald::cluster::parse_host_port(opt.cluster_listen, true);
    if (!cluster_listen)
      return fail("--cluster-listen " + opt.cluster_listen + " is not HOST:PORT");
    // BASP trusts its peers: off loopback it needs mutual TLS or an explicit --cluster-insecure.
    if (herald::security::classify_cluster_listener(cluster_listen->first, opt.cluster_tls.enabled(),
                                                    opt.cluster_insecure) ==
        herald::security::cluster_exposure::refused)
      return fail(herald::security::cluster_exposure_refusal(opt.cluster_listen));
  } else if (!opt.peers.empty() || !opt.zookeeper.empty()) {
    return fail("--peer and --zookeeper need --cluster-listen HOST:PORT: other brokers connect there, never to "
                "the client listener");
  }
  auto super_users = herald::security::parse_super_users(opt.super_users);
  if (!super_users.ok())
    return fail("--super-users: " + super_users.error);
  std::string advertise_host;
  std::uint16_t advertise_port = 0;
  std::string cluster_advertise_host;
  std::uint16_t cluster_advertise_port = 0;
  if (!opt.zookeeper.empty()) {
    if (!opt.peers.empty())
      return fail("--zookeeper and --peer exclude each other: with ZooKeeper the peers are the registered brokers");
    if (auto c = herald::cluster::zk::split_connect_string(opt.zookeeper); !c.error.empty())
      return fail("--zookeeper " + opt.zookeeper + ": " + c.error);
    if (auto why = herald::cluster::zk::check_rack(opt.rack); !why.empty())
      return fail("--rack: " + why);
    if (!opt.advertise.empty()) {
      auto a = herald::cluster::parse_host_port(opt.advertise, false);
      if (!a)
        return fail("--advertise " + opt.advertise + " is not HOST:PORT");
      if (auto why = herald::cluster::zk::check_host(a->first); !why.empty())
        return fail("--advertise: " + why);
      advertise_host = a->first;
      advertise_port = a->second;
    }
    if (!opt.cluster_advertise.empty()) {
      auto a = herald::cluster::parse_host_port(opt.cluster_advertise, false);
      if (!a)
        return fail("--cluster-advertise " + opt.cluster_advertise + " is not HOST:PORT");
      if (auto why = herald::cluster::zk::check_host(a->first); !why.empty())
        return fail("--cluster-advertise: " + why);
      cluster_advertise_host = a->first;
      cluster_advertise_port = a->second;
    }
  } else if (!opt.rack.empty() || !opt.advertise.empty() || !opt.cluster_advertise.empty()) {
    return fail("--rack, --advertise and --cluster-advertise need --zookeeper");
  }

  if (auto why = herald::actors::check_cluster_tls(opt.cluster_tls); !why.empty())
    return fail(why);
  std::shared_ptr<herald::security::tls_context_holder> client_tls;
  herald::security::parse_tls_client_auth(opt.tls_client_auth, opt.tls.client_auth);
  if (!opt.tls.cert_file.empty() || !opt.tls.key_file.empty() || !opt.tls.ca_file.empty()) {
    if (opt.tls.cert_file.empty() || opt.tls.key_file.empty())
      return fail("TLS on the client listener needs --tls-cert and --tls-key");
    client_tls = std::make_shared<herald::security::tls_context_holder>(
      opt.tls, std::chrono::milliseconds{opt.tls_reload_check_ms});
    if (!client_tls->ok())
      return fail("--tls-*: " + client_tls->error());
  } else if (opt.tls.client_auth != herald::security::tls_client_auth::none) {
    return fail("--tls-client-auth needs --tls-cert, --tls-key and --tls-ca");
  }

  std::error_code ec;
  std::filesystem::create_directories(opt.data_dir, ec);
  if (ec)
    return fail("cannot create data directory " + opt.data_dir + ": " + ec.message());
  auto lock = herald::storage::dir_lock::acquire(opt.data_dir);
  if (!lock)
    return fail(lock.error().message);
  auto metadata = herald::cluster::local_metadata_store::open(opt.data_dir, opt.node_id);
  if (!metadata)
    return fail("cannot load metadata: " + metadata.error().message);
  // Without ZooKeeper the data directory holds ACLs and users; with it,
  // ZooKeeper does (files left from a single-node past are not used).
  herald::security::local_security local_security;
  if (opt.zookeeper.empty()) {
    local_security = herald::security::load_local_security(opt.data_dir);
    if (!local_security.error.empty())
      return fail("cannot load ACLs and users: " + local_security.error +
                  " (refusing to start without them rather than open everything up)");
  }

  // Signals are taken by sigwait below; block them before CAF starts its
  // threads so that every thread inherits the mask.
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP); // reload TLS certificates
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  caf::actor_system_config cfg;
  herald::configure_actor_system(cfg);
  herald::actors::configure_cluster_tls(cfg, opt.cluster_tls);
  caf::actor_system system{cfg};

  herald::actors::node_args args;
  args.data_dir = opt.data_dir;
  args.node_id = opt.node_id;
  args.topic_defaults.segment_bytes = opt.segment_bytes;
  args.topic_defaults.max_batch_bytes = opt.max_batch_bytes;
  args.topic_defaults.fsync = parse_fsync(opt.fsync);
  args.topic_defaults.fsync_interval_ms = opt.fsync_interval_ms;
  args.topic_defaults.retention_ms = opt.retention_ms;
  args.topic_defaults.retention_bytes = opt.retention_bytes;
  args.metadata = std::shared_ptr<herald::cluster::local_metadata_store>(std::move(*metadata));
  args.peers = std::move(peers);
  args.raft_tick_ms = opt.raft_tick_ms;
  args.raft_quiesce = opt.raft_quiesce;
  args.raft_coalesce = opt.raft_coalesce;
  args.cleaner_interval_ms = opt.cleaner_interval_ms;
  args.topic_defaults.compact = opt.cleanup_policy == "compact";
  args.topic_defaults.tombstone_retention_ms = opt.tombstone_retention_ms;
  args.topic_defaults.min_compaction_lag_ms = opt.min_compaction_lag_ms;
  args.max_partitions = opt.max_partitions;
  args.disk_reserve_bytes = opt.disk_reserve_bytes;
  args.disk_check = std::chrono::milliseconds{opt.disk_check_ms};
  args.zookeeper = opt.zookeeper;
  args.rack = opt.rack;
  args.weight = opt.weight;
  args.advertise_host = advertise_host;
  args.advertise_port = advertise_port;
  args.cluster_advertise_host = cluster_advertise_host;
  args.cluster_advertise_port = cluster_advertise_port;
  args.zk_session_timeout = std::chrono::milliseconds{opt.zk_session_timeout_ms};
  args.replica_grace = std::chrono::milliseconds{opt.replica_grace_ms};
  args.authorizer = *herald::security::parse_authorizer_mode(opt.authorizer);
  if (quota_config.any_ownership())
    args.principal_limits = std::make_shared<herald::security::principal_limits>(quota_config, super_users.value);
  args.super_users = std::move(super_users.value);
  args.acls = std::move(local_security.acls);
  args.users = std::move(local_security.users);
  // Without ZooKeeper the users are known now: fill the credentials before
  // the listener opens. The node fills them too, but only once it has
  // started on a worker thread, and the port file (the signal that heraldd
  // is up) can appear first: a client authenticating in between was told
  // "unknown user" with a right password (seen twice in ~1000 test runs).
  if (opt.zookeeper.empty())
    credentials->replace(args.users);
  args.credentials = credentials;  // kept current by the node, read by SASL
  // Clients authenticate (SASL, or client certificates naming principals):
  // `--authorizer auto` enforces ACLs from the start.
  args.authentication_configured = !sasl_mechanisms.empty() ||
                                   (client_tls && opt.tls.client_auth != herald::security::tls_client_auth::none);
  auto node = herald::actors::spawn_node(system, std::move(args));
  if (cluster_listen && herald::security::classify_cluster_listener(cluster_listen->first, opt.cluster_tls.enabled(),
                                                                     opt.cluster_insecure) ==
                          herald::security::cluster_exposure::allowed_insecure)
    spdlog::warn("{}", herald::security::cluster_exposure_warning(opt.cluster_listen));

  // The cluster listener (BASP, over mutual TLS when configured) for the
  // other brokers' node actors; a single node has none.
  std::string cluster_address;
  std::uint16_t cluster_port = 0;
  if (cluster_listen) {
    auto cbound = herald::actors::publish_cluster(system, node, cluster_listen->second, cluster_listen->first);
    if (!cbound) {
      caf::anon_send(node, herald::shutdown_atom::value);
      return fail("cannot listen on --cluster-listen " + opt.cluster_listen + ": " + system.render(cbound.error()));
    }
    cluster_port = *cbound;
    cluster_address = cluster_listen->first + ":" + std::to_string(cluster_port);
  }

  // The client listener: Herald's framed protocol (actors/client_listener),
  // one connection actor per client. Clients never reach BASP.
  herald::actors::client_listener_args la;
  la.host = host;
  la.port = port;
  la.max_queued_request_bytes = opt.max_queued_request_bytes;
  la.connection.node = node;
  la.connection.node_id = opt.node_id;
  la.connection.tls = client_tls;
  la.connection.limits.max_frame_bytes = opt.max_frame_bytes;
  la.connection.limits.max_inflight_requests = opt.max_inflight_requests;
  la.connection.limits.max_inflight_bytes = opt.max_connection_inflight_bytes;
  la.connection.limits.handshake_timeout = std::chrono::milliseconds{opt.handshake_timeout_ms};
  la.connection.limits.frame_timeout = std::chrono::milliseconds{opt.frame_timeout_ms};
  la.connection.limits.idle_timeout = std::chrono::milliseconds{opt.idle_timeout_ms};
  la.connection_caps = std::make_shared<herald::security::connection_limits>(connection_caps);
  la.connection.sasl_mechanisms = sasl_mechanisms;
  la.connection.sasl_lookup = herald::security::scram_lookup_in(credentials);
  if (quota_config.any())
    la.connection.quotas = std::make_shared<herald::security::quota_registry>(quota_config);
  auto listener = herald::actors::spawn_client_listener(system, std::move(la));
  if (!listener) {
    caf::anon_send(node, herald::shutdown_atom::value);
    return fail("cannot listen on " + opt.listen + ": " + system.render(listener.error()));
  }
  auto address = host + ":" + std::to_string(listener->port);
  caf::anon_send(node, herald::address_atom::value, host, listener->port,
                 cluster_listen ? cluster_listen->first : std::string{}, cluster_port);
  // The listening line first, flushed: scripts and tests take the port
  // file as the signal that heraldd is up, so everything it announces must
  // already be written when the file appears.
  std::cout << "heraldd node " << opt.node_id << " listening on " << address
            << (cluster_address.empty() ? std::string{} : " (cluster listener on " + cluster_address + ")")
            << " (data dir " << opt.data_dir << ")" << std::endl;
  if (!opt.port_file.empty()) {
    auto text = address + "\n";
    if (auto st = herald::storage::write_file_atomically(opt.port_file, {text.data(), text.size()}); !st) {
      caf::anon_send(node, herald::shutdown_atom::value);
      return fail("cannot write port file: " + st.message);
    }
  }

  // The node actor is the root of the supervision tree; if it dies for any
  // reason other than the shutdown a signal asked for, the process exits
  // non-zero so whatever supervises heraldd (systemd, a test) sees it.
  std::thread signal_waiter([node] {
    int sig = 0;
    while (sigwait(&stop_signals, &sig) == 0 && sig == SIGHUP) {
      spdlog::info("SIGHUP: TLS certificates are reloaded for new connections");
      herald::security::request_tls_reload();
    }
    spdlog::info("signal {} received, shutting down", sig);
    stop_requested = true;
    caf::anon_send(node, herald::shutdown_atom::value);
  });
  signal_waiter.detach();  // may stay blocked in sigwait if the node dies first

  caf::error reason;
  {
    caf::scoped_actor self{system};
    self->monitor(node);
    self->receive([&](caf::down_msg& dm) { reason = dm.reason; });
  }
  if (!stop_requested && reason)
    return fail("node actor died: " + system.render(reason));
  return 0;
}
