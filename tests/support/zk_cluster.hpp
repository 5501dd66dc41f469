#pragma once
// A Herald cluster on ZooKeeper for system tests: a real ZooKeeper server
// (tests/support/zookeeper_server.hpp) and N real heraldd processes started
// with --zookeeper, each on two free loopback ports (clients on --listen,
// brokers on --cluster-listen; new ones at every start: brokers re-register
// their addresses) and its own data directory. Brokers
// can be killed (-9), stopped, restarted, paused (SIGSTOP) and resumed; the
// test reads the cluster's state straight from ZooKeeper (zk_reader) and
// from brokers, and waits for conditions by polling with deadlines.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/cluster_model.hpp"
#include "tests/support/broker.hpp"
#include "tests/support/zookeeper_server.hpp"

namespace herald::cluster {
class zk_session;
}

namespace herald::test {

// Reads the cluster's ZooKeeper nodes (brokers, topics, controller) through
// its own session, as a second client would.
class zk_reader {
public:
  explicit zk_reader(const std::string& connect);  // "host:port" (no chroot)
  ~zk_reader();
  bool connected(std::chrono::milliseconds timeout = std::chrono::seconds{10});
  std::vector<cluster::broker_id> live_brokers();  // sorted; empty when unreadable
  std::optional<cluster::topic_record> topic(const std::string& name);
  cluster::broker_id controller();  // -1: none
  std::string cluster_id();
  cluster::zk_session& session() { return *session_; }

private:
  std::unique_ptr<cluster::zk_session> session_;
};

class zk_cluster {
public:
  // Starts ZooKeeper (unless `start_zookeeper` is false: start it later with
  // zookeeper().start()) and brokers 1..n with `extra_flags`. Brokers'
  // ZooKeeper sessions time out after 2 s unless extra_flags say
  // --zk-session-timeout-ms=.
  zk_cluster(int brokers, std::vector<std::string> extra_flags = {}, bool start_zookeeper = true);
  ~zk_cluster();

  zookeeper_server& zookeeper() { return zk_; }
  zk_reader& reader();  // connects on first use

  int size() const { return static_cast<int>(brokers_.size()); }
  bool running(int id) const { return brokers_.at(static_cast<std::size_t>(id - 1)) != nullptr; }
  const std::string& address(int id) const;  // of its current run
  broker_process& broker(int id) { return *brokers_.at(static_cast<std::size_t>(id - 1)); }
  std::filesystem::path data_dir(int id) const;
  std::string log(int id) const;  // all runs, oldest first

  void start(int id);  // again on the same data directory (a new port)
  void kill9(int id);
  bool stop(int id);
  void pause(int id);
  void resume(int id);

  // Polls until `ids` (sorted) are exactly the brokers registered in ZooKeeper.
  bool wait_registered(const std::vector<cluster::broker_id>& ids,
                       std::chrono::milliseconds timeout = std::chrono::seconds{30});

  // The leader of each partition as the running brokers report it (describe
  // on every running broker; -1 where none knows one).
  std::vector<std::int32_t> leaders(const std::string& topic, std::uint32_t partitions);

  std::vector<std::string> flags(int id) const;

private:
  temp_dir dir_;
  zookeeper_server zk_;
  std::unique_ptr<zk_reader> reader_;
  std::vector<std::string> extra_flags_;
  std::vector<std::unique_ptr<broker_process>> brokers_;
  std::vector<int> runs_;
};

// A key the client's partitioner (XXH3 of the key, modulo the partition
// count) sends to `partition`.
std::string key_for_partition(std::uint32_t partition, std::uint32_t partitions);

// Writing and reading a topic in system tests, as a client would.

// Sends `values` with `key` at acks=all through a client started from
// `address` (3 s request timeout); true when every one is acknowledged.
bool send_to(const std::string& address, const std::string& topic, const std::string& key,
             const std::vector<std::string>& values);

// Sends `values` to `partition` at acks=all through its leader (or any
// running broker that acknowledges them all), until `patience` runs out.
bool produce(zk_cluster& c, const std::string& topic, std::uint32_t partition, std::uint32_t partitions,
             const std::vector<std::string>& values, std::chrono::milliseconds patience = std::chrono::seconds{30});

// Every value of every partition, read back from the running brokers
// (followers serve committed records too); polls until `expected` is all
// there or the deadline passes.
std::map<std::uint32_t, std::set<std::string>> consume_all(zk_cluster& c, const std::string& topic,
                                                           const std::map<std::uint32_t, std::set<std::string>>& expected);

// "prefix-0" .. "prefix-(n-1)".
std::vector<std::string> values_of(const std::string& prefix, int n);

} // namespace herald::test
