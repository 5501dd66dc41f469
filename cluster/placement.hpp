#pragma once
// Where a topic's partition replicas go. CAF-free, I/O-free
// and deterministic: the same input gives the same output on every broker and
// every run, so a controller can recompute a placement and compare. Not wired
// yet: the cluster controller will call it.
//
// The algorithm, in three layers:
//
// 1. A hash ring with virtual nodes. Every broker puts round(vnodes_per_weight
//    * weight) points on a 64-bit ring (XXH64 of "broker id / vnode index").
//    A partition hashes (XXH64 of topic id, topic name and partition index) to
//    a point; walking the ring clockwise from it and keeping each broker the
//    first time it is met gives that partition's preference list, every broker
//    exactly once. Virtual nodes are there because one point per broker cuts
//    the ring into arcs of very unequal length (a broker's share would vary by
//    a factor of several); with ~100 points per unit of weight each broker's
//    share is close to its weight's share, a weight-2 broker owns about twice
//    the arcs, and adding or removing a broker only changes the lists where
//    its own points fall. Ties (two points with the same hash, 2^-64 odds) are
//    broken by broker id then vnode index, so the ring order is total.
//
// 2. Bounded loads (Mirrokni, Thorup, Zadimoghaddam, "Consistent hashing with
//    bounded loads"). The ring alone leaves a broker's replica count a random
//    variable (R = 3, P = 1000, 12 brokers: sd ~15 around a mean of 250, the
//    busiest often above 1.15 x mean). So each broker has a capacity: its
//    weight's share of the R*P replicas, rounded up. A partition takes the
//    first brokers of its preference list that are under capacity and keep the
//    rack rule. If that cannot fill R slots (racks, leftovers), it retries with
//    capacity * 1.10, then with no capacity, and only then relaxes the rack
//    rule. Replicas are always on distinct brokers.
//
// 3. Racks. With at least R distinct racks, a partition's replicas are on R
//    distinct racks. With fewer, no rack holds more than ceil(R / racks) of
//    them (as even as the racks allow). A broker with an empty rack is its own
//    rack. The rack rule wins over capacity: with 3 racks and R = 3, a rack of
//    one broker holds every partition (a deliberate choice; put brokers in
//    racks evenly).
//
// The order of a partition's replicas: the first is the preferred leader.
// Leaders are balanced greedily: each partition (in index order) leads on its
// replica that leads fewest partitions so far (relative to its weight), ties
// to the earlier one in the preference list; then a leadership moves to
// another replica of the same partition while that lowers the busier of the
// two. The others follow in preference-list order. A rebalance first keeps
// current leaders up to each broker's share of leaders, taking last the
// partitions that hold a broker leading nothing yet (a new one), so that
// about its share of leaderships moves to the new broker and little else
// changes (measured: 1000 partitions, 10 -> 11 brokers, 99 preferred leaders
// change against the new broker's 90).
//
// What "stable" guarantees (rebalance(), from a current assignment):
// - removing brokers moves only the replicas that were on them: each hole is
//   filled from the partition's preference list, under the new capacities;
// - adding a broker moves to it about its weight's share of the replicas
//   (R*P*w/W, the ideal) and nothing else: the partitions whose preference
//   list ranks it highest give it one replica each, taken from the replica
//   whose broker is furthest above its own share;
// - holes are filled under the capacities (share, then share * 1.10) unless
//   racks leave no other choice; a new broker's replicas come from the
//   brokers furthest above their share (measured without racks, P = 1000,
//   R = 3: max/mean <= 1.02 after any single add or remove, n = 3..12).
// - replicas on brokers that stay are never moved to level the others: a
//   rack-constrained removal can leave a broker above 1.15 x mean until the
//   controller decides to move replicas deliberately;
// - a broker can hold at most one replica per partition, so a heavy broker's
//   share is capped at P.
// place() from scratch is not "stable" against a different broker set (the
// capacities change with it); a controller places a topic once and then only
// rebalances, which is what the figures in tests/cluster/placement_test.cpp
// and bench/placement_bench.cpp measure.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace herald::cluster::placement {

struct broker {
  std::int32_t id = 0;
  std::string rack; // empty: a rack of its own
  double weight = 1.0; // > 0; relative capacity
};

struct topic_ref {
  std::uint64_t id = 0;
  std::string name;
};

// Per partition (by index), broker ids; the first is the preferred leader.
using assignment = std::vector<std::vector<std::int32_t>>;

struct result {
  assignment replicas; // empty when error is set
  std::string error; // empty on success, otherwise a sentence saying why
  bool ok() const { return error.empty(); }
};

struct options {
  // Virtual nodes per unit of weight.
  std::uint32_t vnodes_per_weight = 128;
  // Second-pass capacity, as a factor of a broker's share (layer 2).
  double overload_factor = 1.10;
  // false: no capacities, plain consistent hashing (only for comparison in
  // bench/placement_bench; it misses the balance goal).
  bool bounded_loads = true;
};

// Places `partitions` partitions of `topic` with replication factor `r` on
// `brokers`. Errors (not exceptions): no brokers, r == 0, r above the broker
// count, duplicate broker ids, a weight that is not > 0.
result place(const std::vector<broker>& brokers, const topic_ref& topic, std::uint32_t partitions, std::uint32_t r,
             const options& opt = {});

// The placement after the broker set changed to `brokers`, moving as little as
// possible from `current` (see "stable" above). Replicas on brokers no longer
// present are replaced; the partition count is current.size(); `r` may differ
// from the current one (extra replicas dropped from the end, missing ones
// added). Same errors as place().
result rebalance(const std::vector<broker>& brokers, const topic_ref& topic, const assignment& current,
                 std::uint32_t r, const options& opt = {});

// Replicas (partition, broker) present in `after` that were not in `before`.
std::size_t moved_replicas(const assignment& before, const assignment& after);

// How many replicas each broker holds (brokers holding none are absent).
std::map<std::int32_t, std::size_t> replica_counts(const assignment& a);

// Balance: the most replicas any broker holds over the mean across `brokers`
// brokers (those holding none count in the mean); 1.0 is perfect.
double max_over_mean(const assignment& a, std::size_t brokers);

// The preference list of one partition: every broker id once, ring order.
std::vector<std::int32_t> preference_list(const std::vector<broker>& brokers, const topic_ref& topic,
                                          std::uint32_t partition, const options& opt = {});

} // namespace herald::cluster::placement
