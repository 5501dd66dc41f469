// herald: the command-line client (topics, produce, consume).
//
// Exit status 0 on success; otherwise non-zero with one line on stderr
// saying why. `produce` always prints how many records were acknowledged,
// also when it fails part-way, so a script knows exactly which are safe.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "apps/acl_commands.hpp"
#include "apps/cluster_status.hpp"
#include "apps/user_commands.hpp"
#include "client/blocking.hpp"
#include "schema/wire.hpp"

namespace {

using namespace herald;
using clock_type = std::chrono::steady_clock;

// The first line of a password file, without its line end; nullopt when the
// file cannot be read or the line is empty.
std::optional<std::string> read_password_file(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line))
    return std::nullopt;
  if (!line.empty() && line.back() == '\r')
    line.pop_back();
  if (line.empty())
    return std::nullopt;
  return line;
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

const char* fsync_name(cluster::fsync_policy p) {
  switch (p) {
    case cluster::fsync_policy::interval: return "interval";
    case cluster::fsync_policy::never: return "never";
    case cluster::fsync_policy::always: break;
  }
  return "always";
}

void print_topic_line(const client::topic_status& t) {
  std::cout << t.name << "\tpartitions=" << t.partition_count << "\treplication-factor=" << t.replication_factor;
  if (!t.owner.empty())
    std::cout << "\towner=" << t.owner;
  std::cout << "\n";
}

struct produce_args {
  std::string topic;
  std::string acks = "all";
  std::string key_separator;
  std::int64_t ttl_ms = 0;  // 0: records never expire
  std::string compression = "none";
  bool tombstones = false;  // each line is a key to delete
};

int run_produce(client::connection& conn, const produce_args& a) {
  client::producer_options options;
  options.acks = a.acks == "0" ? schema::Acks::NONE : a.acks == "1" ? schema::Acks::LEADER : schema::Acks::ALL;
  options.compression = a.compression == "lz4"    ? storage::codec::lz4
                        : a.compression == "zstd" ? storage::codec::zstd
                                                  : storage::codec::none;
  client::producer producer{conn, options};
  auto start = clock_type::now();
  std::uint64_t lines = 0;
  std::string line;
  std::string stopped;
  while (std::getline(std::cin, line)) {
    if (!conn.connected()) {
      stopped = "no broker reachable; stopped reading input";
      break;
    }
    ++lines;
    if (a.tombstones) {
      producer.send_tombstone(a.topic, line);
      continue;
    }
    const std::int64_t expires_at =
      a.ttl_ms == 0 ? 0
                    : std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                          .count() + a.ttl_ms;
    std::size_t at = a.key_separator.empty() ? std::string::npos : line.find(a.key_separator);
    if (at == std::string::npos) {
      producer.send(a.topic, std::nullopt, line, expires_at);
    } else {
      std::string_view view{line};
      producer.send(a.topic, view.substr(0, at), view.substr(at + a.key_separator.size()), expires_at);
    }
  }
  auto outcome = producer.flush();
  auto elapsed = seconds_since(start);
  if (options.acks == schema::Acks::NONE && outcome.failed == 0 && stopped.empty()) {
    // acks=0: the leader took every batch; none is known to be stored.
    std::printf("sent %llu records in %.3f s with acks=0 (the leader took them; nothing is acknowledged)\n",
                static_cast<unsigned long long>(lines), elapsed);
    return 0;
  }
  if (options.acks == schema::Acks::NONE) {
    std::printf("sent %llu records with acks=0; the broker refused %llu\n",
                static_cast<unsigned long long>(outcome.acknowledged), static_cast<unsigned long long>(outcome.failed));
    std::fflush(stdout);
    std::cerr << "herald: " << (stopped.empty() ? "" : stopped + "; ") << outcome.failed << " records failed ("
              << outcome.first_error << ")" << std::endl;
    return 1;
  }
  std::printf("acknowledged %llu of %llu records in %.3f s (%.0f records/s)\n",
              static_cast<unsigned long long>(outcome.acknowledged), static_cast<unsigned long long>(lines), elapsed,
              elapsed > 0 ? static_cast<double>(outcome.acknowledged) / elapsed : 0.0);
  std::fflush(stdout);
  if (outcome.failed == 0 && stopped.empty())
    return 0;
  std::cerr << "herald: " << (stopped.empty() ? "" : stopped + "; ") << outcome.failed << " records failed ("
            << outcome.first_error << "); lines 1-" << outcome.acknowledged_prefix << " are acknowledged" << std::endl;
  return 1;
}

struct consume_args {
  std::string topic;
  bool from_beginning = false;
  std::int64_t max_messages = -1;
  std::int64_t timeout_ms = -1;
  bool print_key = false;
  bool print_offset = false;
};

int run_consume(client::connection& conn, const consume_args& a) {
  client::consumer_options options;
  options.start = a.from_beginning ? client::start_position::earliest : client::start_position::latest;
  client::consumer consumer{conn, a.topic, options};
  auto start = clock_type::now();
  auto last_record = start;
  std::int64_t count = 0;
  std::string out;
  while (a.max_messages < 0 || count < a.max_messages) {
    auto wait = std::chrono::milliseconds{1000};
    if (a.timeout_ms >= 0) {
      auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - last_record);
      auto left = std::chrono::milliseconds{a.timeout_ms} - idle;
      if (left.count() <= 0)
        break;
      wait = std::min(wait, left);
    }
    auto max = a.max_messages < 0 ? 4096u : static_cast<std::uint32_t>(std::min<std::int64_t>(4096, a.max_messages - count));
    auto records = consumer.poll(wait, max);
    if (records.empty())
      continue;
    last_record = clock_type::now();
    out.clear();
    for (auto& r : records) {
      if (a.print_offset)
        out += std::to_string(r.partition) + ":" + std::to_string(r.record.offset) + "\t";
      if (a.print_key)
        out += (r.record.key ? *r.record.key : std::string{"null"}) + "\t";
      out += r.record.value;
      out += '\n';
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    count += static_cast<std::int64_t>(records.size());
  }
  std::fflush(stdout);
  auto elapsed = seconds_since(start);
  std::fprintf(stderr, "consumed %lld records in %.3f s\n", static_cast<long long>(count), elapsed);
  // A partition that could not be read (offline, unavailable, no leader)
  // makes the run fail: "0 records" would otherwise read as an empty topic.
  // (A run that stopped at --max-messages read what it asked for.)
  if (a.max_messages >= 0 && count >= a.max_messages)
    return 0;
  std::string unreadable;
  for (const auto& p : consumer.status()) {
    if (p.last_error == schema::ErrorCode::NONE)
      continue;
    unreadable += (unreadable.empty() ? "" : ", ") + a.topic + "/" + std::to_string(p.partition) + " (" +
                  wire::to_string(p.last_error) + (p.message.empty() ? "" : ": " + p.message) + ")";
  }
  if (unreadable.empty())
    return 0;
  std::cerr << "herald: could not read partitions " << unreadable << std::endl;
  return 1;
}

} // namespace

int main(int argc, char** argv) {
  // Diagnostics go to stderr: stdout carries records and results only.
  spdlog::set_default_logger(spdlog::stderr_color_mt("herald"));
  CLI::App app{"herald: Herald's command-line client"};
  app.require_subcommand(1);
  std::string broker = "127.0.0.1:9092";
  app.add_option("--broker", broker,
                 "Broker HOST:PORT to start from, or a comma-separated list; the others are found from metadata")->envname("HERALD_BROKER")->capture_default_str();
  // SASL SCRAM-SHA-256 for brokers that require it. The password only ever
  // comes from a file: a command line is visible to every local user.
  std::string user;
  std::string password_file;
  app.add_option("--user", user, "SASL user name (SCRAM-SHA-256), for brokers started with --sasl-mechanisms")
    ->envname("HERALD_USER");
  app.add_option("--password-file", password_file,
                 "File whose first line is the SASL user's password (never give a password on the command line)")
    ->envname("HERALD_PASSWORD_FILE");

  // TLS to the brokers (docs/security.md): on with any of these.
  bool tls = false;
  security::tls_client_options tls_options;
  app.add_flag("--tls", tls, "Connect with TLS, checking brokers against the system's CAs (or --tls-ca)");
  app.add_option("--tls-ca", tls_options.ca_file, "TLS: the CA file (PEM) brokers' certificates are checked against")
    ->envname("HERALD_TLS_CA");
  app.add_option("--tls-cert", tls_options.cert_file, "TLS: a client certificate (PEM), for brokers that ask for one")
    ->envname("HERALD_TLS_CERT");
  app.add_option("--tls-key", tls_options.key_file, "TLS: the client certificate's key (PEM)")->envname("HERALD_TLS_KEY");
  app.add_option("--tls-server-name", tls_options.server_name,
                 "TLS: the name brokers' certificates must carry (default: the host connected to)");

  auto* topic = app.add_subcommand("topic", "Create, list, describe and delete topics");
  topic->require_subcommand(1);
  std::string topic_name;
  std::uint32_t partitions = 1;
  std::uint16_t replication_factor = 0;
  std::uint64_t segment_bytes = 0;
  std::uint32_t max_batch_bytes = 0;
  std::string fsync;
  std::int64_t retention_ms = 0;
  std::int64_t retention_bytes = 0;
  std::string cleanup_policy;
  std::int64_t tombstone_retention_ms = 0;
  std::int64_t min_compaction_lag_ms = 0;
  auto* create = topic->add_subcommand("create", "Create a topic");
  create->add_option("name", topic_name, "Topic name")->required();
  create->add_option("--partitions", partitions, "Number of partitions")->capture_default_str();
  create->add_option("--replication-factor", replication_factor, "Replicas per partition; 0: the broker decides (every node of a static cluster)")->capture_default_str();
  create->add_option("--segment-bytes", segment_bytes, "Segment size (default: the broker's)");
  create->add_option("--max-batch-bytes", max_batch_bytes, "Largest record batch (default: the broker's)");
  create->add_option("--fsync", fsync, "always, interval or never (default: the broker's)")
    ->check(CLI::IsMember({"always", "interval", "never"}));
  create->add_option("--retention-ms", retention_ms, "Delete segments older than this (ms); -1 keeps forever, 0 takes the broker default")
    ->check(CLI::Range(std::int64_t{-1}, std::numeric_limits<std::int64_t>::max()));
  create->add_option("--retention-bytes", retention_bytes, "Delete old segments beyond this size per partition; -1: no limit, 0: the broker default")
    ->check(CLI::Range(std::int64_t{-1}, std::numeric_limits<std::int64_t>::max()));
  create->add_option("--cleanup-policy", cleanup_policy,
                     "delete (old segments go by retention) or compact (also keep each key's latest record)")
    ->check(CLI::IsMember({"delete", "compact"}));
  create->add_option("--tombstone-retention-ms", tombstone_retention_ms,
                     "compact: how long a key's latest tombstone stays (0: the broker default)")
    ->check(CLI::Range(std::int64_t{0}, std::numeric_limits<std::int64_t>::max()));
  create->add_option("--min-compaction-lag-ms", min_compaction_lag_ms,
                     "compact: records younger than this keep their older values")
    ->check(CLI::Range(std::int64_t{0}, std::numeric_limits<std::int64_t>::max()));
  auto* list = topic->add_subcommand("list", "List topics");
  auto* describe = topic->add_subcommand("describe", "Describe a topic and its partitions");
  describe->add_option("name", topic_name, "Topic name")->required();
  auto* remove = topic->add_subcommand("delete", "Delete a topic and its data");
  remove->add_option("name", topic_name, "Topic name")->required();
  auto* alter = topic->add_subcommand("alter", "Add partitions to a topic (cluster on ZooKeeper)");
  alter->add_option("name", topic_name, "Topic name")->required();
  std::uint32_t new_partitions = 0;
  alter->add_option("--partitions", new_partitions, "The new partition count (not fewer than now)")->required();

  auto* partition_cmd = app.add_subcommand("partition", "Partition administration");
  partition_cmd->require_subcommand(1);
  std::uint32_t partition_id = 0;
  auto* restart = partition_cmd->add_subcommand("restart", "Bring an offline partition replica back now");
  restart->add_option("topic", topic_name, "Topic")->required();
  restart->add_option("partition", partition_id, "Partition id")->required();
  auto* reassign = partition_cmd->add_subcommand(
    "reassign", "Move a partition's replicas to other brokers (cluster on ZooKeeper); the first is the preferred leader");
  reassign->add_option("topic", topic_name, "Topic")->required();
  reassign->add_option("partition", partition_id, "Partition id")->required();
  std::vector<std::int32_t> new_replicas;
  reassign->add_option("--replicas", new_replicas, "Broker ids, comma-separated, e.g. 1,2,4")
    ->required()
    ->delimiter(',');

  auto* cluster_cmd = app.add_subcommand("cluster", "The cluster as a whole");
  cluster_cmd->require_subcommand(1);
  std::int64_t max_lag_ms = 5000;
  auto* cluster_status = cluster_cmd->add_subcommand(
    "status", "Brokers, controller, and every partition's leader, replicas, high watermark and follower lag; "
              "exits 1 when some partition has no leader");
  cluster_status->add_option("--max-lag-ms", max_lag_ms,
                             "A follower not at the leader's log end for longer is out of sync")
    ->check(CLI::NonNegativeNumber)
    ->capture_default_str();

  cli::acl_commands acl{app};
  cli::user_commands users{app};

  produce_args pa;
  auto* produce = app.add_subcommand("produce", "Produce one record per stdin line");
  produce->add_option("topic", pa.topic, "Topic")->required();
  produce->add_option("--acks", pa.acks, "0, 1 or all")->check(CLI::IsMember({"0", "1", "all"}))->capture_default_str();
  produce->add_option("--key-separator", pa.key_separator, "Split each line into key and value at this string");
  produce->add_option("--ttl-ms", pa.ttl_ms, "Records expire this long after they are sent: consumers never see "
                                             "them after, the broker reclaims their space")
    ->check(CLI::Range(std::int64_t{1}, std::numeric_limits<std::int64_t>::max()));
  produce->add_flag("--tombstone", pa.tombstones, "Each line is a key to delete (compacted topics)");
  produce->add_option("--compression", pa.compression, "Compress batches: none, lz4 or zstd")
    ->check(CLI::IsMember({"none", "lz4", "zstd"}))
    ->capture_default_str();

  consume_args ca;
  auto* consume = app.add_subcommand("consume", "Print one record value per line");
  consume->add_option("topic", ca.topic, "Topic")->required();
  consume->add_flag("--from-beginning", ca.from_beginning, "Start at the earliest offset (default: the end)");
  consume->add_option("--max-messages", ca.max_messages, "Stop after this many records")
    ->check(CLI::NonNegativeNumber);
  consume->add_option("--timeout-ms", ca.timeout_ms, "Stop after this long without new records")
    ->check(CLI::NonNegativeNumber);
  consume->add_flag("--print-key", ca.print_key, "Print KEY<TAB> before each value");
  consume->add_flag("--print-offset", ca.print_offset, "Print PARTITION:OFFSET<TAB> before each value");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "herald: " << e.what() << std::endl;
    return 2;
  }

  client::cluster_options login;
  if (!user.empty() || !password_file.empty()) {
    if (user.empty() || password_file.empty()) {
      std::cerr << "herald: --user and --password-file go together" << std::endl;
      return 2;
    }
    auto password = read_password_file(password_file);
    if (!password) {
      std::cerr << "herald: --password-file " << password_file << ": cannot read a password from it" << std::endl;
      return 2;
    }
    login.sasl_user = user;
    login.sasl_password = std::move(*password);
  }

  try {
    login.tls = tls || !tls_options.ca_file.empty() || !tls_options.cert_file.empty();
    login.tls_options = tls_options;
    client::connection conn{broker, login};
    if (create->parsed()) {
      std::optional<cluster::topic_config> config;
      if (segment_bytes != 0 || max_batch_bytes != 0 || !fsync.empty() || retention_ms != 0 || retention_bytes != 0 ||
          !cleanup_policy.empty() || tombstone_retention_ms != 0 || min_compaction_lag_ms != 0) {
        // Zero fields mean "broker default". The fsync policy has no such
        // value: once any override is given it is sent as well (always
        // unless --fsync says otherwise).
        config.emplace();
        config->segment_bytes = segment_bytes;
        config->max_batch_bytes = max_batch_bytes;
        config->fsync_interval_ms = 0;
        config->retention_ms = retention_ms;
        config->retention_bytes = retention_bytes;
        config->compact = cleanup_policy == "compact";
        config->tombstone_retention_ms = tombstone_retention_ms;
        config->min_compaction_lag_ms = min_compaction_lag_ms;
        config->fsync = fsync == "never" ? cluster::fsync_policy::never
                        : fsync == "interval" ? cluster::fsync_policy::interval
                                              : cluster::fsync_policy::always;
      }
      conn.create_topic(topic_name, partitions, replication_factor, config);
      std::cout << "created topic " << topic_name << "\n";
    } else if (list->parsed()) {
      for (const auto& t : conn.list_topics())
        print_topic_line(t);
    } else if (describe->parsed()) {
      auto t = conn.describe_topic(topic_name);
      print_topic_line(t);
      std::cout << "\tsegment-bytes=" << t.config.segment_bytes << "\tmax-batch-bytes=" << t.config.max_batch_bytes
                << "\tfsync=" << fsync_name(t.config.fsync) << "\tretention-ms=" << t.config.retention_ms
                << "\tretention-bytes=" << t.config.retention_bytes
                << "\tcleanup-policy=" << (t.config.compact ? "compact" : "delete") << "\n";
      for (const auto& p : t.partitions) {
        std::cout << "\tpartition=" << p.id << "\tleader=" << p.leader << "\tlog-start=" << p.log_start_offset
                  << "\thigh-watermark=" << p.high_watermark;
        if (!p.error.empty())
          std::cout << "\terror=" << p.error;
        std::cout << "\n";
      }
    } else if (remove->parsed()) {
      conn.delete_topic(topic_name);
      std::cout << "deleted topic " << topic_name << "\n";
    } else if (restart->parsed()) {
      std::cout << conn.restart_partition(topic_name, partition_id) << "\n";
    } else if (alter->parsed()) {
      conn.alter_topic_partitions(topic_name, new_partitions);
      std::cout << "topic " << topic_name << " now has " << new_partitions << " partitions\n";
    } else if (reassign->parsed()) {
      conn.reassign_partition(topic_name, partition_id, new_replicas);
      std::cout << "partition " << topic_name << "/" << partition_id << " is moving; herald topic describe "
                << topic_name << " shows its replicas\n";
    } else if (cluster_status->parsed()) {
      return cli::run_status(conn, broker, max_lag_ms, login);
    } else if (acl.parsed()) {
      return acl.run(conn);
    } else if (users.parsed()) {
      return users.run(conn);
    } else if (produce->parsed()) {
      return run_produce(conn, pa);
    } else if (consume->parsed()) {
      return run_consume(conn, ca);
    }
  } catch (const std::exception& e) {
    std::cerr << "herald: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
