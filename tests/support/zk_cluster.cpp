#include "tests/support/zk_cluster.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <stdexcept>
#include <xxhash.h>

#include "client/blocking.hpp"
#include "cluster/zk_records.hpp"
#include "cluster/zk_session.hpp"

namespace herald::test {

using namespace std::chrono_literals;

zk_reader::zk_reader(const std::string& connect) {
  cluster::zk_options o;
  o.client_log = [](const char*) {};  // ZooKeeper going away is part of some tests
  o.connect = connect;
  o.session_timeout = std::chrono::milliseconds{4000};
  session_ = std::make_unique<cluster::zk_session>(std::move(o));
}

zk_reader::~zk_reader() = default;

bool zk_reader::connected(std::chrono::milliseconds timeout) {
  return session_->wait_connected(timeout);
}

std::vector<cluster::broker_id> zk_reader::live_brokers() {
  std::vector<cluster::broker_id> ids;
  auto names = session_->children(cluster::zk::paths{}.brokers());
  if (!names.ok())
    return ids;
  for (const auto& n : names.value)
    ids.push_back(std::stoi(n));
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::optional<cluster::topic_record> zk_reader::topic(const std::string& name) {
  auto got = session_->get(cluster::zk::paths{}.topic(name));
  if (!got.ok())
    return std::nullopt;
  auto rec = cluster::zk::decode_topic(got.value.data);
  if (!rec.ok())
    throw std::runtime_error(rec.error);
  return rec.value;
}

cluster::broker_id zk_reader::controller() {
  auto got = session_->get(cluster::zk::paths{}.controller());
  if (!got.ok())
    return -1;
  auto rec = cluster::zk::decode_controller(got.value.data);
  return rec.ok() ? rec.value.id : -1;
}

std::string zk_reader::cluster_id() {
  auto got = session_->get(cluster::zk::paths{}.cluster_id());
  return got.ok() ? got.value.data : std::string{};
}

zk_cluster::zk_cluster(int brokers, std::vector<std::string> extra_flags, bool start_zookeeper)
  : extra_flags_(std::move(extra_flags)) {
  if (start_zookeeper)
    zk_.start();
  brokers_.resize(static_cast<std::size_t>(brokers));
  runs_.assign(static_cast<std::size_t>(brokers), 0);
  for (int id = 1; id <= brokers; ++id)
    start(id);
}

zk_cluster::~zk_cluster() {
  // Brokers first (their children die with them), then ZooKeeper.
  for (auto& b : brokers_)
    if (b)
      b->kill9();
  brokers_.clear();
  reader_.reset();
}

zk_reader& zk_cluster::reader() {
  if (!reader_) {
    reader_ = std::make_unique<zk_reader>(zk_.connect_string());
    if (!reader_->connected())
      throw std::runtime_error("the test's ZooKeeper reader did not connect");
  }
  return *reader_;
}

const std::string& zk_cluster::address(int id) const {
  return brokers_.at(static_cast<std::size_t>(id - 1))->address();
}

std::filesystem::path zk_cluster::data_dir(int id) const {
  return dir_.path() / ("broker" + std::to_string(id)) / "data";
}

std::string zk_cluster::log(int id) const {
  std::string all;
  for (int run = 1; run <= runs_.at(static_cast<std::size_t>(id - 1)); ++run)
    all += read_file(dir_.path() / ("broker" + std::to_string(id)) / ("run" + std::to_string(run)) / "heraldd.log");
  return all;
}

std::vector<std::string> zk_cluster::flags(int id) const {
  std::vector<std::string> f{"--node-id=" + std::to_string(id), "--zookeeper=" + zk_.connect_string(),
                             "--cluster-listen=127.0.0.1:0"};
  // 2 s unless the test asks for another (heraldd takes an option once).
  if (std::none_of(extra_flags_.begin(), extra_flags_.end(),
                   [](const auto& x) { return x.starts_with("--zk-session-timeout-ms="); }))
    f.push_back("--zk-session-timeout-ms=2000");
  f.insert(f.end(), extra_flags_.begin(), extra_flags_.end());
  return f;
}

void zk_cluster::start(int id) {
  const auto i = static_cast<std::size_t>(id - 1);
  const auto run = ++runs_.at(i);
  auto log_dir = dir_.path() / ("broker" + std::to_string(id)) / ("run" + std::to_string(run));
  std::filesystem::create_directories(log_dir);
  brokers_.at(i) = std::make_unique<broker_process>(data_dir(id), log_dir, flags(id));
}

void zk_cluster::kill9(int id) {
  auto& b = brokers_.at(static_cast<std::size_t>(id - 1));
  b->kill9();
  b.reset();
}

bool zk_cluster::stop(int id) {
  auto& b = brokers_.at(static_cast<std::size_t>(id - 1));
  const bool clean = b->stop();
  b.reset();
  return clean;
}

void zk_cluster::pause(int id) {
  broker(id).process().signal(SIGSTOP);
  if (!broker(id).process().wait_stopped())
    throw std::runtime_error("broker " + std::to_string(id) + " did not stop");
}

void zk_cluster::resume(int id) {
  broker(id).process().signal(SIGCONT);
  if (!broker(id).process().wait_continued())
    throw std::runtime_error("broker " + std::to_string(id) + " did not resume");
}

bool zk_cluster::wait_registered(const std::vector<cluster::broker_id>& ids, std::chrono::milliseconds timeout) {
  return eventually([&] { return reader().live_brokers() == ids; }, timeout);
}

std::vector<std::int32_t> zk_cluster::leaders(const std::string& topic, std::uint32_t partitions) {
  std::vector<std::int32_t> out(partitions, -1);
  for (int id = 1; id <= size(); ++id) {
    if (!running(id))
      continue;
    try {
      client::connection conn{address(id)};
      auto d = conn.describe_topic(topic);
      for (const auto& p : d.partitions)
        if (p.id < partitions && p.leader > 0 && p.error.empty())
          out[p.id] = p.leader;
    } catch (const std::exception&) {
      // a broker that cannot answer right now tells nothing
    }
  }
  return out;
}

std::string key_for_partition(std::uint32_t partition, std::uint32_t partitions) {
  for (int i = 0;; ++i) {
    auto key = "k" + std::to_string(i);
    if (XXH3_64bits(key.data(), key.size()) % partitions == partition)
      return key;
  }
}

bool send_to(const std::string& address, const std::string& topic, const std::string& key,
             const std::vector<std::string>& values) {
  try {
    client::connection conn{address};
    client::producer_options o;
    o.acks = schema::Acks::ALL;
    o.request_timeout_ms = 3000;
    o.batch_records = values.size();
    client::producer p(conn, o);
    for (const auto& v : values)
      p.send(topic, key, v);
    return p.flush().acknowledged == values.size();
  } catch (const std::exception&) {
    return false;
  }
}

// Sends `values` to `partition` at acks=all through its leader (any running
// broker that acknowledges them all), until `patience` runs out.
bool produce(zk_cluster& c, const std::string& topic, std::uint32_t partition, std::uint32_t partitions,
             const std::vector<std::string>& values, std::chrono::milliseconds patience) {
  const auto key = key_for_partition(partition, partitions);
  return eventually(
    [&] {
      auto leaders = c.leaders(topic, partitions);
      const auto l = leaders[partition];
      if (l > 0 && c.running(l) && send_to(c.address(l), topic, key, values))
        return true;
      for (int id = 1; id <= c.size(); ++id)
        if (c.running(id) && id != l && send_to(c.address(id), topic, key, values))
          return true;
      return false;
    },
    patience);
}

// Every value of every partition, read back from the running brokers
// (followers serve committed records too); polls until `expected` is all
// there or the deadline passes.
std::map<std::uint32_t, std::set<std::string>> consume_all(zk_cluster& c, const std::string& topic,
                                                           const std::map<std::uint32_t, std::set<std::string>>& expected) {
  std::map<std::uint32_t, std::set<std::string>> seen;
  auto complete = [&] {
    for (const auto& [p, values] : expected)
      for (const auto& v : values)
        if (seen[p].count(v) == 0)
          return false;
    return true;
  };
  for (int id = 1; id <= c.size() && !complete(); ++id) {
    if (!c.running(id))
      continue;
    try {
      client::connection conn{c.address(id)};
      client::consumer_options o;
      o.start = client::start_position::earliest;
      client::consumer consumer(conn, topic, o);
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      while (!complete() && std::chrono::steady_clock::now() < deadline)
        for (auto& r : consumer.poll(200ms))
          seen[r.partition].insert(r.record.value);
    } catch (const std::exception&) {
    }
  }
  return seen;
}

std::vector<std::string> values_of(const std::string& prefix, int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i)
    v.push_back(prefix + "-" + std::to_string(i));
  return v;
}

} // namespace herald::test
