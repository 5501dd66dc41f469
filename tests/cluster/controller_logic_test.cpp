// The controller's decisions (cluster/controller_logic.hpp) on a 4-broker
// cluster with a 12-partition topic at R3 (the test cluster): a
// broker gone past its grace has its replicas re-placed and nothing else
// moves; a 5th broker receives its share; one unsettled change per
// partition; the replication factor never drops; grown topics, operator
// reassignments, leadership balance.

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "cluster/controller_logic.hpp"
#include "cluster/placement.hpp"

using namespace herald::cluster;
using controller::broker_liveness;
using controller::plan_replicas;

namespace {

constexpr std::int64_t grace = 3000;

broker_record broker(broker_id id) { return {id, "127.0.0.1", static_cast<std::uint16_t>(9000 + id), "", 1, "", 0}; }

cluster_view cluster_of(int brokers, std::uint32_t partitions = 12, std::uint16_t rf = 3) {
  cluster_view v;
  for (int id = 1; id <= brokers; ++id) v.live_brokers[id] = broker(id);
  topic_record t;
  t.descriptor.name = "orders";
  t.descriptor.id = 77;
  t.descriptor.partition_count = partitions;
  t.descriptor.replication_factor = rf;
  std::vector<placement::broker> b;
  for (int id = 1; id <= brokers; ++id) b.push_back({id, "", 1.0});
  auto placed = placement::place(b, {77, "orders"}, partitions, rf);
  REQUIRE(placed.ok());
  for (auto& r : placed.replicas) t.partitions.push_back({r, 0, true});
  v.topics["orders"] = t;
  v.controller = 1;
  return v;
}

// The plan written to ZooKeeper and carried out: every changed partition settles.
void apply_and_settle(cluster_view& v, const controller::replica_plan& plan) {
  for (auto [name, record] : plan.rewrites) {
    for (auto& p : record.partitions) p.settled = true;
    v.topics[name] = record;
  }
}

std::size_t holding(const cluster_view& v, broker_id id) {
  std::size_t n = 0;
  for (const auto& [name, t] : v.topics)
    for (const auto& p : t.partitions) n += std::count(p.replicas.begin(), p.replicas.end(), id);
  return n;
}

void check_rf_on_live(const cluster_view& v) {
  for (const auto& [name, t] : v.topics)
    for (const auto& p : t.partitions) {
      CHECK(p.replicas.size() == t.descriptor.replication_factor);
      CHECK(std::set<broker_id>(p.replicas.begin(), p.replicas.end()).size() == p.replicas.size());
      for (auto id : p.replicas) CHECK(v.live_brokers.count(id) == 1);
    }
}

}  // namespace

TEST_CASE("controller: a freshly placed topic on live brokers is left alone") {
  auto v = cluster_of(4);
  broker_liveness seen;
  seen.observe(v, 0);
  const auto plan = plan_replicas(v, seen, 100'000, grace);
  CHECK(plan.rewrites.empty());
  CHECK(plan.notes.empty());
}

TEST_CASE("controller: a broker gone past its grace has exactly its replicas re-placed, epoch+1, unsettled") {
  auto v = cluster_of(4);
  broker_liveness seen;
  seen.observe(v, 0);
  const auto before = v.topics["orders"];
  const std::size_t on_4 = holding(v, 4);
  v.live_brokers.erase(4);  // last seen at 0
  seen.observe(v, 1000);

  // Within the grace (a restart): nothing moves.
  CHECK(plan_replicas(v, seen, grace, grace).rewrites.empty());

  const auto plan = plan_replicas(v, seen, grace + 1, grace);
  REQUIRE(plan.rewrites.count("orders") == 1);
  const auto& after = plan.rewrites.at("orders");
  std::size_t changed = 0;
  for (std::size_t p = 0; p < after.partitions.size(); ++p) {
    const auto& was = before.partitions[p];
    const auto& now = after.partitions[p];
    const bool had_4 = std::count(was.replicas.begin(), was.replicas.end(), 4) == 1;
    if (had_4) {
      ++changed;
      CHECK(now.epoch == was.epoch + 1);
      CHECK_FALSE(now.settled);
      // The two replicas that stay, stay.
      for (auto id : was.replicas)
        if (id != 4) CHECK(std::count(now.replicas.begin(), now.replicas.end(), id) == 1);
    } else {
      CHECK(now == was);
    }
  }
  CHECK(changed == on_4);
  CHECK(plan.changes.size() == on_4);
  MESSAGE("4 brokers, 12 partitions R3: broker 4 held " << on_4 << " replicas; " << changed
                                                          << " partitions re-placed, the others untouched");
  apply_and_settle(v, plan);
  check_rf_on_live(v);
  // Settled: the next rounds change nothing (no churn).
  CHECK(plan_replicas(v, seen, 100'000, grace).rewrites.empty());
}

TEST_CASE("controller: a new broker receives about its share and nothing else moves") {
  auto v = cluster_of(4);
  broker_liveness seen;
  seen.observe(v, 0);
  const auto before = v.topics["orders"];
  v.live_brokers[5] = broker(5);
  seen.observe(v, 10);
  const auto plan = plan_replicas(v, seen, 20, grace);
  REQUIRE(plan.rewrites.count("orders") == 1);
  apply_and_settle(v, plan);
  const auto on_5 = holding(v, 5);
  std::vector<std::vector<broker_id>> a, b;
  for (auto& p : before.partitions) a.push_back(p.replicas);
  for (auto& p : v.topics["orders"].partitions) b.push_back(p.replicas);
  const auto moved = placement::moved_replicas(a, b);
  MESSAGE("a 5th broker joins 4 (12 partitions R3): it receives " << on_5 << " replicas (ideal 36/5 = 7.2); "
                                                                   << moved << " replicas moved in all");
  CHECK(on_5 >= 6);
  CHECK(on_5 <= 9);
  CHECK(moved == on_5);
  check_rf_on_live(v);
  CHECK(plan_replicas(v, seen, 30, grace).rewrites.empty());
}

TEST_CASE("controller: an unsettled partition is not changed again unless its own target lost a broker") {
  auto v = cluster_of(5);
  broker_liveness seen;
  seen.observe(v, 0);
  v.live_brokers.erase(5);
  seen.observe(v, 0);
  auto first = plan_replicas(v, seen, grace + 1, grace);
  REQUIRE(first.rewrites.count("orders") == 1);
  v.topics["orders"] = first.rewrites.at("orders");  // written, not settled yet
  // Now broker 4 goes too.
  v.live_brokers.erase(4);
  seen.observe(v, grace + 1);
  const auto second = plan_replicas(v, seen, 2 * grace + 2, grace);
  REQUIRE(second.rewrites.count("orders") == 1);
  const auto& mid = v.topics["orders"];
  const auto& next = second.rewrites.at("orders");
  for (std::size_t p = 0; p < mid.partitions.size(); ++p) {
    const auto& cur = mid.partitions[p];
    const bool has_4 = std::count(cur.replicas.begin(), cur.replicas.end(), 4) == 1;
    if (!cur.settled && !has_4) CHECK(next.partitions[p] == cur);  // one change at a time
    if (has_4) {
      CHECK(next.partitions[p].epoch == cur.epoch + 1);  // redirected even if unsettled: 4 will never catch up
      CHECK(std::count(next.partitions[p].replicas.begin(), next.partitions[p].replicas.end(), 4) == 0);
    }
  }
}

TEST_CASE("controller: too few usable brokers for the replication factor: the topic waits, never shrinks") {
  auto v = cluster_of(3);
  broker_liveness seen;
  seen.observe(v, 0);
  v.live_brokers.erase(3);
  const auto plan = plan_replicas(v, seen, grace + 1, grace);
  CHECK(plan.rewrites.empty());
  REQUIRE(plan.notes.size() == 1);
  CHECK(plan.notes[0].find("replication factor 3") != std::string::npos);
}

TEST_CASE("controller: a new controller that never saw a broker waits a full grace before moving its replicas") {
  auto v = cluster_of(4);
  v.live_brokers.erase(2);  // already absent when this controller starts at t = 50'000
  broker_liveness seen;
  seen.observe(v, 50'000);
  CHECK(plan_replicas(v, seen, 50'000 + grace, grace).rewrites.empty());
  CHECK(plan_replicas(v, seen, 50'000 + grace + 1, grace).rewrites.size() == 1);
}

TEST_CASE("controller: alter --partitions adds placed founder partitions and keeps the old ones") {
  auto v = cluster_of(4);
  const auto& t = v.topics["orders"];
  auto g = controller::add_partitions(t, v.live_brokers, 16);
  REQUIRE(g.error.empty());
  CHECK(g.record.descriptor.partition_count == 16);
  REQUIRE(g.record.partitions.size() == 16);
  for (std::size_t p = 0; p < 12; ++p) CHECK(g.record.partitions[p] == t.partitions[p]);
  for (std::size_t p = 12; p < 16; ++p) {
    const auto& np = g.record.partitions[p];
    CHECK(np.epoch == 0);
    CHECK(np.settled);
    CHECK(std::set<broker_id>(np.replicas.begin(), np.replicas.end()).size() == 3);
  }
  CHECK(controller::add_partitions(t, v.live_brokers, 8).error.find("not removed") != std::string::npos);
  CHECK(controller::add_partitions(t, {{1, broker(1)}}, 16).error.find("cannot place") != std::string::npos);
}

TEST_CASE("controller: an operator reassignment is checked, bumps the epoch and is unsettled") {
  auto v = cluster_of(4);
  auto t = v.topics["orders"];
  CHECK(controller::reassign(t, 99, {1, 2, 3}, v.live_brokers).find("no partition 99") != std::string::npos);
  CHECK(controller::reassign(t, 0, {1, 2}, v.live_brokers).find("replication factor 3") != std::string::npos);
  CHECK(controller::reassign(t, 0, {1, 1, 2}, v.live_brokers).find("twice") != std::string::npos);
  CHECK(controller::reassign(t, 0, {1, 2, 9}, v.live_brokers).find("broker 9") != std::string::npos);
  CHECK(t.partitions[0] == v.topics["orders"].partitions[0]);  // refused: unchanged
  CHECK(controller::reassign(t, 0, {4, 2, 1}, v.live_brokers).empty());
  CHECK(t.partitions[0].replicas == std::vector<broker_id>{4, 2, 1});
  CHECK(t.partitions[0].epoch == 1);
  CHECK_FALSE(t.partitions[0].settled);
}

TEST_CASE("controller: leadership moves to live preferred replicas, settled partitions only, bounded per round") {
  auto v = cluster_of(4);
  auto& t = v.topics["orders"];
  std::map<std::pair<std::string, std::uint32_t>, broker_id> leaders;
  for (std::uint32_t p = 0; p < 12; ++p) leaders[{"orders", p}] = t.partitions[p].replicas[1];  // all off-preferred
  leaders[{"orders", 11}] = -1;                                                             // unknown
  t.partitions[10].settled = false;
  v.live_brokers.erase(t.partitions[9].replicas[0]);  // preferred replica down
  const auto moves = controller::leadership_moves(v, leaders, 100);
  for (const auto& m : moves) {
    CHECK(m.partition < 9);
    CHECK(m.to == t.partitions[m.partition].replicas[0]);
    CHECK(m.from == t.partitions[m.partition].replicas[1]);
  }
  // Partitions 0..8 move, unless their preferred replica is the broker that is down.
  std::size_t expected = 0;
  for (std::uint32_t p = 0; p < 9; ++p) expected += v.live_brokers.count(t.partitions[p].replicas[0]);
  CHECK(moves.size() == expected);
  CHECK(controller::leadership_moves(v, leaders, 2).size() == 2);
}
