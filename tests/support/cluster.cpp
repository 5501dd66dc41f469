#include "tests/support/cluster.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <random>
#include <stdexcept>

#include "storage/control_batch.hpp"
#include "storage/partition_log.hpp"
#include "storage/record_batch.hpp"

namespace herald::test {

namespace {

bool can_bind(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// Where the kernel does not pick ports for outgoing connections: a port
// taken from the ephemeral range could be handed to some client's socket
// before the broker listens on it.
std::uint16_t first_ephemeral_port() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned low = 32768;
  in >> low;
  return static_cast<std::uint16_t>(std::clamp(low, 12000u, 65535u));
}

} // namespace

std::uint16_t free_port() {
  static std::mt19937 rng{std::random_device{}()};
  const std::uint16_t top = first_ephemeral_port();
  std::uniform_int_distribution<unsigned> pick(10000, top - 1u);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const auto port = static_cast<std::uint16_t>(pick(rng));
    if (can_bind(port)) return port;
  }
  throw std::runtime_error("no free port below " + std::to_string(top));
}

static_cluster::static_cluster(const std::filesystem::path& dir, int nodes, std::vector<std::string> extra_flags)
  : dir_(dir), extra_flags_(std::move(extra_flags)) {
  // Another process may still take a port between the check and the
  // listen: then the whole cluster starts again on new ports.
  for (int attempt = 1;; ++attempt) {
    addresses_.clear();
    cluster_addresses_.clear();
    nodes_.clear();
    for (int id = 1; id <= nodes; ++id) {
      addresses_.push_back("127.0.0.1:" + std::to_string(free_port()));
      std::string cluster;
      do cluster = "127.0.0.1:" + std::to_string(free_port());
      while (std::find(addresses_.begin(), addresses_.end(), cluster) != addresses_.end() ||
             std::find(cluster_addresses_.begin(), cluster_addresses_.end(), cluster) != cluster_addresses_.end());
      cluster_addresses_.push_back(cluster);
    }
    nodes_.resize(static_cast<std::size_t>(nodes));
    try {
      for (int id = 1; id <= nodes; ++id) start(id);
      return;
    } catch (const std::exception&) {
      if (attempt == 5) throw;
    }
  }
}

std::filesystem::path static_cluster::data_dir(int id) const { return dir_ / ("node" + std::to_string(id)) / "data"; }

void static_cluster::start(int id) {
  std::vector<std::string> flags{"--node-id=" + std::to_string(id), "--listen=" + address(id),
                                 "--cluster-listen=" + cluster_address(id)};
  for (int peer = 1; peer <= size(); ++peer)
    flags.push_back("--peer=" + std::to_string(peer) + "=" + address(peer) + "/" + cluster_address(peer));
  flags.insert(flags.end(), extra_flags_.begin(), extra_flags_.end());
  auto log_dir = dir_ / ("node" + std::to_string(id));
  std::filesystem::create_directories(log_dir);
  nodes_.at(id - 1) = std::make_unique<broker_process>(data_dir(id), log_dir, flags);
}

void static_cluster::kill9(int id) {
  nodes_.at(id - 1)->kill9();
  nodes_.at(id - 1).reset();
}

bool static_cluster::stop(int id) {
  const bool clean = nodes_.at(id - 1)->stop();
  // A failed stop is a test failure; its log is what explains it.
  if (!clean) std::cerr << "node " << id << " did not stop cleanly; its log:\n" << nodes_.at(id - 1)->log() << "\n";
  nodes_.at(id - 1).reset();
  return clean;
}

void static_cluster::restart(int id) { start(id); }
// Both wait for the kernel to confirm: a test that goes on right after
// kill(2) would race the node's last moments before it really stops.
void static_cluster::pause(int id) {
  node(id).process().signal(SIGSTOP);
  if (!node(id).process().wait_stopped()) throw std::runtime_error("node " + std::to_string(id) + " did not stop");
}
void static_cluster::resume(int id) {
  node(id).process().signal(SIGCONT);
  if (!node(id).process().wait_continued()) throw std::runtime_error("node " + std::to_string(id) + " did not resume");
}

std::vector<char> read_partition_log(const std::filesystem::path& data_dir, const std::string& topic,
                                     std::uint32_t partition) {
  std::filesystem::path dir;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir / "topics"))
    if (entry.path().filename().string().starts_with(topic + "-")) dir = entry.path() / std::to_string(partition);
  if (dir.empty()) throw std::runtime_error("no log of " + topic + " in " + data_dir.string());
  auto log = storage::partition_log::open(dir, storage::log_config{});
  if (!log) throw std::runtime_error("cannot open " + dir.string() + ": " + log.error().message);
  std::vector<char> all;
  std::uint64_t offset = (*log)->log_start_offset();
  while (offset < (*log)->log_end_offset()) {
    auto read = (*log)->read(offset, 1u << 20, (*log)->log_end_offset());
    if (!read) throw std::runtime_error("read failed: " + read.error().message);
    all.insert(all.end(), read->bytes.begin(), read->bytes.end());
    offset = read->next_offset;
  }
  return all;
}

std::vector<std::string> record_values(const std::vector<char>& batches) {
  std::vector<std::string> values;
  auto s = storage::for_each_batch(batches, [&](std::span<const char> batch) {
    if (storage::is_control_batch(batch)) return;
    auto rs = storage::for_each_record(batch, 0, [&](storage::record&& r) { values.push_back(std::move(r.value)); });
    if (!rs) throw std::runtime_error("bad records: " + rs.message);
  });
  if (!s) throw std::runtime_error("bad batches: " + s.message);
  return values;
}

} // namespace herald::test
