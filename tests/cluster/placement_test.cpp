// Placement by consistent hashing: errors, determinism,
// distinct brokers and racks, weights, leader balance, and the movement and
// balance goals for P = 1000, R = 3, n = 3..12.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "cluster/placement.hpp"

using namespace herald::cluster::placement;

namespace {

const topic_ref topic{42, "orders"};

std::vector<broker> brokers_1_to(int n, int racks = 0) {
  std::vector<broker> out;
  for (int i = 1; i <= n; ++i)
    out.push_back({i, racks > 0 ? "rack-" + std::to_string(i % racks) : std::string(), 1.0});
  return out;
}

// Whether racks allow a perfect balance: with replicas on distinct racks a
// rack holds at most one replica per partition, so a rack of k of n brokers
// can carry its share only when k * R <= n. (3 racks of sizes 2, 1, 1 force
// the lone brokers to hold every partition: documented, not a failure.)
// `strict`: k * R < n, room to spare (a removal does not move replicas that
// stay, so it can only reach a balance that needs no such move).
bool racks_allow_balance(const std::vector<broker>& brokers, std::size_t r, bool strict = false) {
  std::map<std::string, std::size_t> per_rack;
  for (const auto& b : brokers)
    ++per_rack[b.rack.empty() ? std::to_string(b.id) : b.rack];
  for (const auto& [rack, c] : per_rack) {
    (void)rack;
    if (c * r > brokers.size() || (strict && c > 1 && c * r == brokers.size()))
      return false;
  }
  return true;
}

void check_well_formed(const assignment& a, std::size_t partitions, std::size_t r) {
  REQUIRE(a.size() == partitions);
  for (const auto& set : a) {
    REQUIRE(set.size() == r);
    CHECK(std::set<std::int32_t>(set.begin(), set.end()).size() == r);
  }
}

} // namespace

TEST_CASE("placement: bad input is an error result, not an exception") {
  auto r = place(brokers_1_to(3), topic, 10, 4);
  CHECK(!r.ok());
  CHECK(r.replicas.empty());
  CHECK(r.error == "replication factor 4 is above the broker count 3 (replicas must be on distinct brokers)");
  CHECK(!place(brokers_1_to(3), topic, 10, 0).ok());
  CHECK(!place({}, topic, 10, 1).ok());
  auto dup = brokers_1_to(3);
  dup[2].id = 1;
  CHECK(place(dup, topic, 10, 2).error == "broker id 1 appears twice");
  auto zero = brokers_1_to(3);
  zero[1].weight = 0;
  CHECK(place(zero, topic, 10, 2).error.find("weight") != std::string::npos);
  CHECK(!rebalance(brokers_1_to(2), topic, place(brokers_1_to(3), topic, 10, 3).replicas, 3).ok());
  // R equal to the broker count is fine: every broker holds every partition.
  auto all = place(brokers_1_to(3), topic, 10, 3);
  REQUIRE(all.ok());
  check_well_formed(all.replicas, 10, 3);
}

TEST_CASE("placement: the same input gives the same output, another topic a different one") {
  auto a = place(brokers_1_to(7), topic, 500, 3);
  auto b = place(brokers_1_to(7), topic, 500, 3);
  REQUIRE(a.ok());
  CHECK(a.replicas == b.replicas);
  auto shuffled = brokers_1_to(7);
  std::reverse(shuffled.begin(), shuffled.end());
  CHECK(place(shuffled, topic, 500, 3).replicas == a.replicas);
  CHECK(place(brokers_1_to(7), topic_ref{43, "orders"}, 500, 3).replicas != a.replicas);
  auto grown = brokers_1_to(8);
  CHECK(rebalance(grown, topic, a.replicas, 3).replicas == rebalance(grown, topic, a.replicas, 3).replicas);
  CHECK(preference_list(brokers_1_to(7), topic, 3) == preference_list(brokers_1_to(7), topic, 3));
  CHECK(preference_list(brokers_1_to(7), topic, 3).size() == 7);
}

TEST_CASE("placement: replicas on distinct racks when there are at least R racks") {
  for (int n : {3, 6, 7, 9, 12}) {
    auto brokers = brokers_1_to(n, 3);
    auto r = place(brokers, topic, 1000, 3);
    REQUIRE(r.ok());
    check_well_formed(r.replicas, 1000, 3);
    std::map<std::int32_t, std::string> rack;
    for (const auto& b : brokers)
      rack[b.id] = b.rack;
    std::size_t violations = 0;
    for (const auto& set : r.replicas) {
      std::set<std::string> racks;
      for (auto id : set)
        racks.insert(rack[id]);
      violations += racks.size() == 3 ? 0 : 1;
    }
    CHECK_MESSAGE(violations == 0, "n=" << n);
  }
}

TEST_CASE("placement: with fewer racks than R, no rack holds more than ceil(R / racks)") {
  auto brokers = brokers_1_to(8, 2);
  auto r = place(brokers, topic, 1000, 3);
  REQUIRE(r.ok());
  check_well_formed(r.replicas, 1000, 3);
  for (const auto& set : r.replicas) {
    std::map<std::string, int> per_rack;
    for (auto id : set)
      ++per_rack[brokers[static_cast<std::size_t>(id - 1)].rack];
    for (const auto& [rack, c] : per_rack) {
      (void)rack;
      CHECK(c <= 2);
    }
  }
}

TEST_CASE("placement: weights are respected (a weight-2 broker holds about twice as many)") {
  auto brokers = brokers_1_to(6);
  brokers[4].weight = 2;
  brokers[5].weight = 2;
  auto r = place(brokers, topic, 1000, 3);
  REQUIRE(r.ok());
  auto counts = replica_counts(r.replicas);
  // Shares: 3000 * 1/8 = 375 for weight 1, 750 for weight 2.
  for (const auto& b : brokers) {
    const double share = 3000.0 * b.weight / 8.0;
    MESSAGE("broker " << b.id << " weight " << b.weight << ": " << counts[b.id] << " replicas, share " << share);
    CHECK(counts[b.id] <= share * 1.15);
    CHECK(counts[b.id] >= share * 0.85);
  }
}

TEST_CASE("placement: preferred leaders are balanced across brokers") {
  for (int n = 3; n <= 12; ++n) {
    auto r = place(brokers_1_to(n), topic, 1000, 3);
    REQUIRE(r.ok());
    std::map<std::int32_t, int> leads;
    for (const auto& set : r.replicas)
      ++leads[set.front()];
    int max = 0;
    for (const auto& [id, c] : leads) {
      (void)id;
      max = std::max(max, c);
    }
    CHECK_MESSAGE(max <= (1000 + n - 1) / n + 1, "n=" << n << " max leaders " << max);
  }
}

TEST_CASE("placement: movement and balance for P = 1000, R = 3, n = 3..12") {
  constexpr std::uint32_t P = 1000, R = 3;
  for (int racks : {0, 5, 3}) {
    for (int n = 3; n <= 12; ++n) {
      // Without racks and with 5 racks every n allows a balance; with 3 racks
      // most do not, and only the invariants are held there.
      auto start = place(brokers_1_to(n, racks), topic, P, R);
      REQUIRE(start.ok());
      check_well_formed(start.replicas, P, R);

      // Add broker n+1.
      auto added = rebalance(brokers_1_to(n + 1, racks), topic, start.replicas, R);
      REQUIRE(added.ok());
      check_well_formed(added.replicas, P, R);
      const double ideal = static_cast<double>(R * P) / (n + 1);
      const auto moved_add = moved_replicas(start.replicas, added.replicas);

      // Remove broker (n+1)/2 from the n+1 brokers (a fresh placement of them).
      auto full = place(brokers_1_to(n + 1, racks), topic, P, R);
      auto fewer = brokers_1_to(n + 1, racks);
      const std::int32_t gone = (n + 1) / 2;
      fewer.erase(fewer.begin() + (gone - 1));
      auto removed = rebalance(fewer, topic, full.replicas, R);
      REQUIRE(removed.ok());
      check_well_formed(removed.replicas, P, R);
      const auto moved_remove = moved_replicas(full.replicas, removed.replicas);
      const auto held = replica_counts(full.replicas)[gone];
      std::size_t others_changed = 0;
      for (std::size_t p = 0; p < P; ++p)
        for (auto id : full.replicas[p])
          if (id != gone && std::find(removed.replicas[p].begin(), removed.replicas[p].end(), id) == removed.replicas[p].end())
            ++others_changed;

      const double bal_start = max_over_mean(start.replicas, static_cast<std::size_t>(n));
      const double bal_add = max_over_mean(added.replicas, static_cast<std::size_t>(n + 1));
      const double bal_remove = max_over_mean(removed.replicas, static_cast<std::size_t>(n));
      char line[256];
      std::snprintf(line, sizeof line,
                    "racks=%d n=%2d: add ideal %6.1f moved %4zu (%.3fx); remove moved %4zu of its %4zu; "
                    "max/mean start %.3f after add %.3f after remove %.3f",
                    racks, n, ideal, moved_add, moved_add / ideal, moved_remove, held, bal_start, bal_add, bal_remove);
      MESSAGE(line);
      CHECK(moved_remove == held);
      CHECK(others_changed == 0);
      const bool before_ok = racks_allow_balance(brokers_1_to(n, racks), R);
      const bool after_ok = racks_allow_balance(brokers_1_to(n + 1, racks), R);
      if (racks != 3) {
        REQUIRE(before_ok);
        REQUIRE(after_ok);
      }
      if (before_ok && after_ok)
        CHECK(moved_add <= 1.15 * ideal);
      if (before_ok)
        CHECK(bal_start <= 1.15);
      if (after_ok)
        CHECK(bal_add <= 1.15);
      if (racks_allow_balance(fewer, R, true))
        CHECK(bal_remove <= 1.15);
    }
  }
}

TEST_CASE("placement: a weight-2 broker joining takes about twice the share, and only that moves") {
  for (int n = 3; n <= 12; ++n) {
    auto start = place(brokers_1_to(n), topic, 1000, 3);
    auto grown = brokers_1_to(n + 1);
    grown.back().weight = 2;
    auto added = rebalance(grown, topic, start.replicas, 3);
    REQUIRE(added.ok());
    check_well_formed(added.replicas, 1000, 3);
    // Its weight's share, but at most one replica per partition.
    const double ideal = std::min(3000.0 * 2 / (n + 2), 1000.0);
    const auto moved = moved_replicas(start.replicas, added.replicas);
    const auto got = replica_counts(added.replicas)[n + 1];
    MESSAGE("n=" << n << " + weight 2: ideal " << ideal << " moved " << moved << " new broker holds " << got);
    CHECK(moved == got);
    CHECK(moved <= 1.15 * ideal);
    CHECK(got >= 0.85 * ideal);
  }
}

TEST_CASE("placement: changing the replication factor adds or drops replicas and moves nothing else") {
  auto two = place(brokers_1_to(6), topic, 1000, 2);
  REQUIRE(two.ok());
  auto three = rebalance(brokers_1_to(6), topic, two.replicas, 3);
  REQUIRE(three.ok());
  check_well_formed(three.replicas, 1000, 3);
  CHECK(moved_replicas(two.replicas, three.replicas) == 1000);
  for (std::size_t p = 0; p < 1000; ++p)
    for (auto id : two.replicas[p])
      CHECK(std::find(three.replicas[p].begin(), three.replicas[p].end(), id) != three.replicas[p].end());
  CHECK(max_over_mean(three.replicas, 6) <= 1.15);
  auto back = rebalance(brokers_1_to(6), topic, three.replicas, 2);
  REQUIRE(back.ok());
  check_well_formed(back.replicas, 1000, 2);
  CHECK(moved_replicas(three.replicas, back.replicas) == 0);
}

TEST_CASE("placement: a rebalance keeps most preferred leaders where they were") {
  for (int n = 3; n <= 12; ++n) {
    auto start = place(brokers_1_to(n), topic, 1000, 3);
    auto added = rebalance(brokers_1_to(n + 1), topic, start.replicas, 3);
    REQUIRE(added.ok());
    std::size_t changed = 0;
    std::map<std::int32_t, int> leads;
    for (std::size_t p = 0; p < 1000; ++p) {
      changed += start.replicas[p].front() != added.replicas[p].front() ? 1 : 0;
      ++leads[added.replicas[p].front()];
    }
    int max = 0;
    for (const auto& [id, c] : leads) {
      (void)id;
      max = std::max(max, c);
    }
    // The new broker should lead about 1000 / (n + 1); every change beyond that is churn.
    MESSAGE("n=" << n << ": preferred leaders changed " << changed << " (new broker's share " << 1000 / (n + 1)
                 << "), max leaders " << max);
    CHECK(changed <= 1.15 * 1000 / (n + 1));
    CHECK(max <= (1000 + n) / (n + 1) + 1);
  }
}
