// Placement by consistent hashing: for P partitions at
// replication factor R on n = 3..12 brokers, how many replicas move when the
// (n+1)-th broker is added (against the ideal R*P/(n+1)) and when one of n+1 is
// removed (against the replicas it held), the max/mean replicas per broker,
// and the time to place. No I/O; deterministic, so the counts are the same on
// every run (only the times vary).
//   placement_bench [P] [R] [racks]   (defaults 1000 3 0; racks 0 = none)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "cluster/placement.hpp"

using namespace herald::cluster::placement;

namespace {

std::vector<broker> brokers_1_to(int n, int racks) {
  std::vector<broker> out;
  for (int i = 1; i <= n; ++i)
    out.push_back({i, racks > 0 ? "rack-" + std::to_string(i % racks) : std::string(), 1.0});
  return out;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

int main(int argc, char** argv) {
  const auto P = static_cast<std::uint32_t>(argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000);
  const auto R = static_cast<std::uint32_t>(argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 3);
  const int racks = argc > 3 ? std::atoi(argv[3]) : 0;
  const topic_ref topic{42, "orders"};
  std::printf("placement_bench P=%u R=%u racks=%d (place: fresh placement on n brokers; add: rebalance onto n+1;\n"
              "remove: rebalance of a fresh n+1 placement without broker (n+1)/2)\n\n",
              P, R, racks);
  std::printf("%3s | %8s %6s %6s | %6s %6s | %8s %8s %8s | %8s %8s\n", "n", "ideal", "added", "ratio", "remove",
              "held", "max/mean", "after+", "after-", "place ms", "rebal ms");
  int failures = 0;
  for (int n = 3; n <= 12; ++n) {
    auto t0 = std::chrono::steady_clock::now();
    auto start = place(brokers_1_to(n, racks), topic, P, R);
    const double place_ms = ms_since(t0);
    if (!start.ok()) {
      std::printf("n=%d: %s\n", n, start.error.c_str());
      return 1;
    }
    t0 = std::chrono::steady_clock::now();
    auto added = rebalance(brokers_1_to(n + 1, racks), topic, start.replicas, R);
    const double rebalance_ms = ms_since(t0);
    auto full = place(brokers_1_to(n + 1, racks), topic, P, R);
    auto fewer = brokers_1_to(n + 1, racks);
    const std::int32_t gone = (n + 1) / 2;
    fewer.erase(fewer.begin() + (gone - 1));
    auto removed = rebalance(fewer, topic, full.replicas, R);
    const double ideal = static_cast<double>(R) * P / (n + 1);
    const auto moved_add = moved_replicas(start.replicas, added.replicas);
    const auto moved_remove = moved_replicas(full.replicas, removed.replicas);
    const auto held = replica_counts(full.replicas)[gone];
    const double b0 = max_over_mean(start.replicas, static_cast<std::size_t>(n));
    const double b1 = max_over_mean(added.replicas, static_cast<std::size_t>(n + 1));
    const double b2 = max_over_mean(removed.replicas, static_cast<std::size_t>(n));
    std::printf("%3d | %8.1f %6zu %6.3f | %6zu %6zu | %8.3f %8.3f %8.3f | %8.2f %8.2f\n", n, ideal, moved_add,
                moved_add / ideal, moved_remove, held, b0, b1, b2, place_ms, rebalance_ms);
    if (moved_add > 1.15 * ideal || moved_remove != held || (racks == 0 && std::max({b0, b1, b2}) > 1.15))
      ++failures;
  }
  // The same without capacities: plain consistent hashing, placed from
  // scratch each time (stateless), for comparison.
  options plain;
  plain.bounded_loads = false;
  std::printf("\nplain consistent hashing (no capacities, place() from scratch on n and n+1 brokers):\n");
  std::printf("%3s | %8s %6s %6s | %8s %8s\n", "n", "ideal", "added", "ratio", "max/mean", "n+1");
  for (int n = 3; n <= 12; ++n) {
    auto a = place(brokers_1_to(n, racks), topic, P, R, plain);
    auto b = place(brokers_1_to(n + 1, racks), topic, P, R, plain);
    const double ideal = static_cast<double>(R) * P / (n + 1);
    const auto moved = moved_replicas(a.replicas, b.replicas);
    std::printf("%3d | %8.1f %6zu %6.3f | %8.3f %8.3f\n", n, ideal, moved, moved / ideal,
                max_over_mean(a.replicas, static_cast<std::size_t>(n)),
                max_over_mean(b.replicas, static_cast<std::size_t>(n + 1)));
  }
  std::printf("\ngoals (moved <= 1.15 x ideal, remove moves only its replicas%s): %s\n",
              racks == 0 ? ", max/mean <= 1.15" : "", failures == 0 ? "met" : "NOT met");
  return failures == 0 ? 0 : 1;
}
