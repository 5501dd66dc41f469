#pragma once
// A static three-or-more-node Herald cluster for system tests: real heraldd
// processes on loopback, each told every node's two addresses with --peer
// (clients on --listen, other brokers on --cluster-listen). Ports are chosen
// free before the start (a static peer list needs them up front); the small
// race with other processes is accepted in tests.

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/broker.hpp"

namespace herald::test {

class static_cluster {
public:
  static_cluster(const std::filesystem::path& dir, int nodes, std::vector<std::string> extra_flags = {});

  int size() const { return static_cast<int>(nodes_.size()); }
  // Node ids are 1..size(). address(): the client listener.
  const std::string& address(int id) const { return addresses_.at(id - 1); }
  const std::string& cluster_address(int id) const { return cluster_addresses_.at(id - 1); }
  bool running(int id) const { return nodes_.at(id - 1) != nullptr; }
  broker_process& node(int id) { return *nodes_.at(id - 1); }
  std::filesystem::path data_dir(int id) const;

  void kill9(int id);   // SIGKILL: a crash
  bool stop(int id);    // SIGTERM: a clean stop
  void restart(int id);  // start again on the same data directory and port
  void pause(int id);   // SIGSTOP; returns once every thread of it is stopped
  void resume(int id);  // SIGCONT; returns once it runs again

private:
  void start(int id);
  std::filesystem::path dir_;
  std::vector<std::string> extra_flags_;
  std::vector<std::string> addresses_;
  std::vector<std::string> cluster_addresses_;
  std::vector<std::unique_ptr<broker_process>> nodes_;
};

// A TCP port on 127.0.0.1, below the ephemeral range, that was free a moment
// ago.
std::uint16_t free_port();

// The batches of one partition's log in a stopped node's data directory,
// laid end to end as stored ([log start, log end)).
std::vector<char> read_partition_log(const std::filesystem::path& data_dir, const std::string& topic,
                                     std::uint32_t partition);

// The values of the records (control batches skipped) in batches laid end to end.
std::vector<std::string> record_values(const std::vector<char>& batches);

} // namespace herald::test
