// The controller on a real ZooKeeper with real heraldd processes: the
// controller is killed and another takes over; the replicas of a broker gone
// past the grace period are re-created elsewhere (every partition back to 3
// voters on live brokers, every acknowledged record still consumable); a
// 5th broker receives its share; an operator's reassignment and a topic
// grown by alter --partitions are carried out.

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "client/blocking.hpp"
#include "tests/support/zk_cluster.hpp"

using namespace herald;
using namespace herald::test;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> fast_grace = {"--replica-grace-ms", "3000"};

std::string run_listing(const std::filesystem::path& dir) {
  std::string out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    out += it->path().string() + "\n";
  return out;
}

bool create(zk_cluster& c, int via, const std::string& topic, std::uint32_t partitions, std::uint16_t rf) {
  return eventually(
    [&] {
      try {
        client::connection conn{c.address(via)};
        conn.create_topic(topic, partitions, rf);
        return true;
      } catch (const client::error& e) {
        return e.code() == schema::ErrorCode::TOPIC_ALREADY_EXISTS;
      } catch (const std::exception&) {
        return false;
      }
    },
    20s);
}

// Every partition: `rf` distinct replicas, all among `live`, settled.
bool placed_on(zk_cluster& c, const std::string& topic, std::size_t rf, const std::set<int>& live) {
  auto rec = c.reader().topic(topic);
  if (!rec) return false;
  for (const auto& a : rec->partitions) {
    if (!a.settled || a.replicas.size() != rf) return false;
    if (std::set<int>(a.replicas.begin(), a.replicas.end()).size() != rf) return false;
    for (auto b : a.replicas)
      if (!live.count(b)) return false;
  }
  return true;
}

std::map<std::uint32_t, std::set<std::string>> fill(zk_cluster& c, const std::string& topic, std::uint32_t partitions,
                                                    const std::string& prefix) {
  std::map<std::uint32_t, std::set<std::string>> acknowledged;
  for (std::uint32_t p = 0; p < partitions; ++p) {
    auto v = values_of(prefix + std::to_string(p), 5);
    REQUIRE_MESSAGE(produce(c, topic, p, partitions, v), "partition ", p, " takes no acks=all write");
    acknowledged[p].insert(v.begin(), v.end());
  }
  return acknowledged;
}

void check_consumable(zk_cluster& c, const std::string& topic,
                      const std::map<std::uint32_t, std::set<std::string>>& acknowledged) {
  auto seen = consume_all(c, topic, acknowledged);
  for (const auto& [p, values] : acknowledged)
    for (const auto& v : values) CHECK_MESSAGE(seen[p].count(v) == 1, "acknowledged record ", v, " of partition ", p, " is lost");
}

}  // namespace

TEST_CASE("the controller is killed: another takes over and re-creates its replicas after the grace, RF restored") {
  SKIP_WITHOUT_ZOOKEEPER();
  const std::string topic = "orders";
  const std::uint32_t partitions = 12;
  zk_cluster c(4, fast_grace);
  REQUIRE(c.wait_registered({1, 2, 3, 4}));
  REQUIRE(eventually([&] { return c.reader().controller() > 0; }));
  REQUIRE(create(c, 1, topic, partitions, 3));
  auto acknowledged = fill(c, topic, partitions, "a");

  const int victim = c.reader().controller();
  auto before = c.reader().topic(topic);
  REQUIRE(before);
  std::size_t held = 0;
  for (const auto& a : before->partitions) held += std::count(a.replicas.begin(), a.replicas.end(), victim);
  c.kill9(victim);
  const auto killed_at = std::chrono::steady_clock::now();
  std::set<int> live;
  for (int b = 1; b <= 4; ++b)
    if (b != victim) live.insert(b);

  REQUIRE_MESSAGE(eventually([&] { auto id = c.reader().controller(); return id > 0 && id != victim; }, 30s),
                  "no new controller");
  const auto took_over_ms =
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at).count();
  REQUIRE_MESSAGE(eventually([&] { return placed_on(c, topic, 3, live); }, 90s), c.log(c.reader().controller()));
  const auto restored_ms =
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at).count();
  MESSAGE("controller (broker " << victim << ", " << held << " of 36 replicas) killed: broker "
                                << c.reader().controller() << " controls after " << took_over_ms
                                << " ms; every partition has 3 settled replicas on live brokers after " << restored_ms
                                << " ms (grace 3000 ms)");
  CHECK(restored_ms >= 3000);
  auto after = c.reader().topic(topic);
  REQUIRE(after);
  for (std::size_t p = 0; p < partitions; ++p) {
    const auto& was = before->partitions[p].replicas;
    const bool moved = std::count(was.begin(), was.end(), victim) == 1;
    CHECK(after->partitions[p].epoch == before->partitions[p].epoch + (moved ? 1 : 0));
  }
  auto more = fill(c, topic, partitions, "b");
  for (auto& [p, v] : more) acknowledged[p].insert(v.begin(), v.end());
  check_consumable(c, topic, acknowledged);
}

TEST_CASE("a 5th broker joins and receives its share of replicas, with the data") {
  SKIP_WITHOUT_ZOOKEEPER();
  const std::string topic = "orders";
  const std::uint32_t partitions = 12;
  zk_cluster c(5, fast_grace);
  REQUIRE(c.wait_registered({1, 2, 3, 4, 5}));
  c.kill9(5);  // holds nothing yet: the topic is placed on 1..4
  REQUIRE(c.wait_registered({1, 2, 3, 4}));
  REQUIRE(create(c, 1, topic, partitions, 3));
  auto acknowledged = fill(c, topic, partitions, "a");
  // (A broker whose view still listed 5 may have placed replicas there: the
  // controller moves them after the grace.)
  REQUIRE(eventually([&] { return placed_on(c, topic, 3, {1, 2, 3, 4}); }, 60s));

  c.start(5);
  REQUIRE(c.wait_registered({1, 2, 3, 4, 5}));
  std::size_t on_5 = 0;
  REQUIRE_MESSAGE(eventually(
                    [&] {
                      auto rec = c.reader().topic(topic);
                      if (!rec || !placed_on(c, topic, 3, {1, 2, 3, 4, 5})) return false;
                      on_5 = 0;
                      for (const auto& a : rec->partitions) on_5 += std::count(a.replicas.begin(), a.replicas.end(), 5);
                      return on_5 > 0;
                    },
                    60s),
                  c.log(c.reader().controller()));
  MESSAGE("a 5th broker joined: it holds " << on_5 << " of 36 replicas (ideal 7.2)");
  CHECK(on_5 >= 5);
  // Broker 5 holds the data: stop one other replica of a partition it holds
  // is not needed; its own log must have every record (consume through it).
  auto more = fill(c, topic, partitions, "b");
  for (auto& [p, v] : more) acknowledged[p].insert(v.begin(), v.end());
  check_consumable(c, topic, acknowledged);
}

TEST_CASE("herald partition reassign moves one partition, and herald topic alter --partitions grows a topic") {
  SKIP_WITHOUT_ZOOKEEPER();
  const std::string topic = "moves";
  zk_cluster c(4, fast_grace);
  REQUIRE(c.wait_registered({1, 2, 3, 4}));
  REQUIRE(create(c, 2, topic, 2, 3));
  auto acknowledged = fill(c, topic, 2, "a");
  auto rec = c.reader().topic(topic);
  REQUIRE(rec);
  // The broker not holding partition 0 replaces its first replica.
  std::vector<int> target = rec->partitions[0].replicas;
  int outsider = 1;
  while (std::count(target.begin(), target.end(), outsider)) ++outsider;
  const int leaving = target.front();
  target.front() = outsider;
  std::string list;
  for (auto b : target) list += (list.empty() ? "" : ",") + std::to_string(b);

  auto out = c.data_dir(1).parent_path() / "cli.out", err = c.data_dir(1).parent_path() / "cli.err";
  CHECK(run_cli(c.address(3), "partition reassign " + topic + " 0 --replicas " + list, out, err) == 0);
  CHECK(run_cli(c.address(3), "partition reassign " + topic + " 0 --replicas 1,2", out, err) == 1);
  CHECK(read_file(err).find("replication factor 3") != std::string::npos);
  REQUIRE_MESSAGE(eventually(
                    [&] {
                      auto r = c.reader().topic(topic);
                      return r && r->partitions[0].settled && r->partitions[0].replicas == target;
                    },
                    60s),
                  c.log(c.reader().controller()));
  // The replica that left is removed once settled.
  CHECK_MESSAGE(eventually([&] {
                  return !std::filesystem::exists(c.data_dir(leaving) / "topics" /
                                                  (topic + "-" + std::to_string(rec->descriptor.id)) / "0");
                }),
                c.log(leaving), run_listing(c.data_dir(leaving)));

  CHECK(run_cli(c.address(4), "topic alter " + topic + " --partitions 4", out, err) == 0);
  CHECK(run_cli(c.address(4), "topic alter " + topic + " --partitions 1", out, err) == 1);
  CHECK(read_file(err).find("not removed") != std::string::npos);
  REQUIRE(eventually([&] {
    auto r = c.reader().topic(topic);
    return r && r->partitions.size() == 4 && placed_on(c, topic, 3, {1, 2, 3, 4});
  }));
  auto more = fill(c, topic, 4, "b");
  for (auto& [p, v] : more) acknowledged[p].insert(v.begin(), v.end());
  check_consumable(c, topic, acknowledged);
}
