// A Herald cluster on a real ZooKeeper with real heraldd processes: brokers
// register, topics are placed on R of them, every partition gets a leader,
// a killed broker's partitions fail over without losing acknowledged
// records, a delete a broker missed while down is carried out when it
// returns, and ZooKeeper going away (at start or at run time) stops only
// metadata changes, never the data path.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "client/blocking.hpp"
#include "cluster/zk_records.hpp"
#include "tests/support/zk_cluster.hpp"

using namespace herald;
using namespace herald::test;
using namespace std::chrono_literals;

namespace {

bool has_topic_dir(const std::filesystem::path& data_dir, const std::string& topic) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(data_dir / "topics", ec))
    if (e.path().filename().string().starts_with(topic + "-"))
      return true;
  return false;
}

bool has_partition_dir(const std::filesystem::path& data_dir, const std::string& topic, std::uint64_t id,
                       std::uint32_t p) {
  std::error_code ec;
  return std::filesystem::is_directory(data_dir / "topics" / (topic + "-" + std::to_string(id)) / std::to_string(p), ec);
}

schema::ErrorCode try_create(const std::string& address, const std::string& topic, std::uint32_t partitions,
                             std::uint16_t rf) {
  try {
    client::connection conn{address};
    conn.create_topic(topic, partitions, rf);
    return schema::ErrorCode::NONE;
  } catch (const client::error& e) {
    return e.code();
  }
}

// A create's outcome once the broker has joined: a broker registered in
// ZooKeeper may still be reading the cluster (clusterUnavailable) or not yet
// have seen every other broker register (a replication factor it cannot
// place yet): those are retried for a while.
schema::ErrorCode create_error(const std::string& address, const std::string& topic, std::uint32_t partitions,
                               std::uint16_t rf) {
  auto code = schema::ErrorCode::NONE;
  eventually(
    [&] {
      code = try_create(address, topic, partitions, rf);
      return code != schema::ErrorCode::CLUSTER_UNAVAILABLE && (code != schema::ErrorCode::INVALID_TOPIC || rf > 4);
    },
    10s);
  return code;
}

} // namespace

TEST_CASE("four brokers: a 12-partition R3 topic is placed on 3 brokers each, led, written, and fails over a kill -9") {
  SKIP_WITHOUT_ZOOKEEPER();
  const std::string topic = "orders";
  const std::uint32_t partitions = 12;
  zk_cluster c(4);
  REQUIRE(c.wait_registered({1, 2, 3, 4}));
  CHECK(eventually([&] { return c.reader().controller() > 0; }));
  CHECK(cluster::zk::decode_cluster_id(c.reader().cluster_id()).ok());

  // RF above the live brokers is refused with a clear error.
  CHECK(create_error(c.address(1), "too-wide", 3, 5) == schema::ErrorCode::INVALID_TOPIC);
  REQUIRE(create_error(c.address(2), topic, partitions, 3) == schema::ErrorCode::NONE);
  CHECK(create_error(c.address(3), topic, partitions, 3) == schema::ErrorCode::TOPIC_ALREADY_EXISTS);

  auto rec = c.reader().topic(topic);
  REQUIRE(rec);
  REQUIRE(rec->partitions.size() == partitions);
  std::map<int, int> per_broker;
  for (const auto& a : rec->partitions) {
    CHECK(a.replicas.size() == 3);
    CHECK(std::set<int>(a.replicas.begin(), a.replicas.end()).size() == 3);
    for (auto b : a.replicas)
      ++per_broker[b];
  }
  CHECK(per_broker.size() == 4);
  // Each partition's data lives exactly on its three replicas.
  CHECK(eventually([&] {
    for (std::uint32_t p = 0; p < partitions; ++p)
      for (int b = 1; b <= 4; ++b) {
        const auto& r = rec->partitions[p].replicas;
        const bool assigned = std::find(r.begin(), r.end(), b) != r.end();
        if (has_partition_dir(c.data_dir(b), topic, rec->descriptor.id, p) != assigned)
          return false;
      }
    return true;
  }));
  REQUIRE_MESSAGE(eventually([&] {
                    auto l = c.leaders(topic, partitions);
                    return std::none_of(l.begin(), l.end(), [](auto x) { return x <= 0; });
                  }),
                  c.log(1));

  std::map<std::uint32_t, std::set<std::string>> acknowledged;
  for (std::uint32_t p = 0; p < partitions; ++p) {
    auto v = values_of("a" + std::to_string(p), 10);
    REQUIRE(produce(c, topic, p, partitions, v));
    acknowledged[p].insert(v.begin(), v.end());
  }

  // Kill the broker that leads most partitions.
  auto leaders = c.leaders(topic, partitions);
  std::map<int, int> led;
  for (auto l : leaders)
    ++led[l];
  const int victim = std::max_element(led.begin(), led.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
  c.kill9(victim);
  const auto killed_at = std::chrono::steady_clock::now();
  for (std::uint32_t p = 0; p < partitions; ++p) {
    auto v = values_of("b" + std::to_string(p), 5);
    REQUIRE_MESSAGE(produce(c, topic, p, partitions, v, 20s), "partition ", p, " takes no acks=all write");
    acknowledged[p].insert(v.begin(), v.end());
  }
  const auto all_writable_ms =
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at).count();
  MESSAGE("broker " << victim << " (leading " << led[victim] << " of 12) killed: every partition took an acks=all "
                    << "write again within " << all_writable_ms << " ms");
  CHECK(all_writable_ms < 15'000);
  CHECK(c.wait_registered([&] {
    std::vector<cluster::broker_id> ids;
    for (int b = 1; b <= 4; ++b)
      if (b != victim)
        ids.push_back(b);
    return ids;
  }()));

  auto seen = consume_all(c, topic, acknowledged);
  for (const auto& [p, values] : acknowledged)
    for (const auto& v : values)
      CHECK_MESSAGE(seen[p].count(v) == 1, "acknowledged record ", v, " of partition ", p, " is lost");
}

TEST_CASE("a topic deleted while a broker is down is gone from that broker, data and all, once it returns") {
  SKIP_WITHOUT_ZOOKEEPER();
  zk_cluster c(3);
  REQUIRE(c.wait_registered({1, 2, 3}));
  REQUIRE(create_error(c.address(1), "doomed", 2, 3) == schema::ErrorCode::NONE);
  REQUIRE(create_error(c.address(1), "kept", 1, 3) == schema::ErrorCode::NONE);
  REQUIRE(eventually([&] { return has_topic_dir(c.data_dir(3), "doomed") && has_topic_dir(c.data_dir(3), "kept"); }));
  REQUIRE(produce(c, "doomed", 0, 2, values_of("x", 3)));

  c.kill9(3);
  {
    client::connection conn{c.address(2)};
    conn.delete_topic("doomed");
  }
  CHECK_FALSE(c.reader().topic("doomed"));
  CHECK(eventually([&] { return !has_topic_dir(c.data_dir(1), "doomed") && !has_topic_dir(c.data_dir(2), "doomed"); }));
  CHECK(has_topic_dir(c.data_dir(3), "doomed"));  // it was down: nothing happened there yet

  c.start(3);
  REQUIRE(c.wait_registered({1, 2, 3}));
  CHECK_MESSAGE(eventually([&] { return !has_topic_dir(c.data_dir(3), "doomed"); }), c.log(3));
  CHECK(has_topic_dir(c.data_dir(3), "kept"));
  client::connection conn{c.address(3)};
  auto topics = conn.list_topics();
  CHECK(std::none_of(topics.begin(), topics.end(), [](const auto& t) { return t.name == "doomed"; }));
  CHECK(std::any_of(topics.begin(), topics.end(), [](const auto& t) { return t.name == "kept"; }));
}

TEST_CASE("ZooKeeper lost at run time: produce and fetch go on, topic creates answer clusterUnavailable") {
  SKIP_WITHOUT_ZOOKEEPER();
  zk_cluster c(3);
  REQUIRE(c.wait_registered({1, 2, 3}));
  REQUIRE(create_error(c.address(1), "steady", 3, 3) == schema::ErrorCode::NONE);
  std::map<std::uint32_t, std::set<std::string>> acknowledged;
  for (std::uint32_t p = 0; p < 3; ++p) {
    auto v = values_of("before" + std::to_string(p), 5);
    REQUIRE(produce(c, "steady", p, 3, v));
    acknowledged[p].insert(v.begin(), v.end());
  }

  c.zookeeper().stop();
  for (int id = 1; id <= 3; ++id)
    CHECK(eventually([&] { return try_create(c.address(id), "new-" + std::to_string(id), 1, 1) ==
                                  schema::ErrorCode::CLUSTER_UNAVAILABLE; }));
  for (std::uint32_t p = 0; p < 3; ++p) {
    auto v = values_of("during" + std::to_string(p), 5);
    CHECK(produce(c, "steady", p, 3, v, 10s));
    acknowledged[p].insert(v.begin(), v.end());
  }
  auto seen = consume_all(c, "steady", acknowledged);
  for (const auto& [p, values] : acknowledged)
    for (const auto& v : values)
      CHECK_MESSAGE(seen[p].count(v) == 1, "record ", v, " of partition ", p, " not served while ZooKeeper is down");
  CHECK(c.log(1).find("metadata changes wait") != std::string::npos);

  c.zookeeper().start();
  CHECK(eventually([&] { return try_create(c.address(2), "after", 1, 3) == schema::ErrorCode::NONE; }, 30s));
}

TEST_CASE("ZooKeeper unreachable at start: heraldd says so, keeps retrying, and joins when it comes") {
  SKIP_WITHOUT_ZOOKEEPER();
  // A session timeout far longer than the wait at the end, so that the node
  // going within that wait can only be the clean stop closing the session
  // (with 2 s, expiry could come 1.3 s after the last ping, and a close
  // slowed by load could miss a 1.5 s window).
  zk_cluster c(2, {"--zk-session-timeout-ms=20000"}, false);
  CHECK(eventually([&] { return c.log(1).find("unreachable") != std::string::npos; }, 15s));
  CHECK_FALSE(c.broker(1).process().wait_for(0ms));  // still running
  CHECK(c.stop(2));  // SIGTERM while ZooKeeper is away: a clean exit
  c.zookeeper().start();
  CHECK(c.wait_registered({1}));
  CHECK(eventually([&] { return create_error(c.address(1), "late", 1, 1) == schema::ErrorCode::NONE; }));
  // A clean stop closes the session: the broker's node goes at once, not
  // after the session timeout (20 s here).
  CHECK(c.stop(1));
  CHECK(c.wait_registered({}, 10s));
}

TEST_CASE("a broker paused past its session timeout rejoins cleanly after SIGCONT") {
  SKIP_WITHOUT_ZOOKEEPER();
  zk_cluster c(3);
  REQUIRE(c.wait_registered({1, 2, 3}));
  REQUIRE(create_error(c.address(1), "paused", 3, 3) == schema::ErrorCode::NONE);
  c.pause(3);
  CHECK(c.wait_registered({1, 2}));  // its session expired: its node is gone
  c.resume(3);
  CHECK_MESSAGE(c.wait_registered({1, 2, 3}), c.log(3));
  CHECK(c.log(3).find("session expired") != std::string::npos);
  // It serves again: it holds all three partitions (R3 on 3 brokers).
  for (std::uint32_t p = 0; p < 3; ++p)
    CHECK(produce(c, "paused", p, 3, values_of("after" + std::to_string(p), 3)));
}

TEST_CASE("a second broker with a live id, or a data directory of another cluster, is refused") {
  SKIP_WITHOUT_ZOOKEEPER();
  zk_cluster c(1);
  REQUIRE(c.wait_registered({1}));
  temp_dir dir;

  auto flags = c.flags(1);
  std::vector<std::string> argv{heraldd_path(), "--data-dir=" + (dir.path() / "dup").string(),
                                "--listen=127.0.0.1:0"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  child_process dup(argv, dir.path() / "dup.out", dir.path() / "dup.log");
  auto status = dup.wait_for(20s);
  REQUIRE(status);
  CHECK(*status != 0);
  CHECK(read_file(dir.path() / "dup.log").find("already registered by a live broker") != std::string::npos);

  std::filesystem::create_directories(dir.path() / "other");
  {
    std::FILE* f = std::fopen((dir.path() / "other" / "cluster.id").c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs((cluster::zk::new_cluster_id() + "\n").c_str(), f);
    std::fclose(f);
  }
  argv = {heraldd_path(), "--data-dir=" + (dir.path() / "other").string(), "--listen=127.0.0.1:0",
          "--cluster-listen=127.0.0.1:0", "--node-id=7", "--zookeeper=" + c.zookeeper().connect_string()};
  child_process other(argv, dir.path() / "other.out", dir.path() / "other.log");
  status = other.wait_for(20s);
  REQUIRE(status);
  CHECK(*status != 0);
  CHECK(read_file(dir.path() / "other.log").find("belongs to cluster") != std::string::npos);
  CHECK(c.wait_registered({1}));
}
