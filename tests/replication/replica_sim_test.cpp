// CI's share of the replica simulation (replica_sim.hpp); the replica_sim
// tool runs any number of seeds.
#include <doctest/doctest.h>

#include "tests/replication/replica_sim.hpp"

using namespace herald::replication::sim;

#if defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t ci_seeds = 20;
#else
constexpr std::uint64_t ci_seeds = 100;
#endif

TEST_CASE("the replica simulation over real logs and the fault layer holds for 100 seeds") {
  std::uint64_t acked = 0;
  int failures = 0;
  for (std::uint64_t s = 1; s <= ci_seeds; ++s) {
    sim_options o;
    o.seed = s;
    const auto r = run(o);
    acked += r.stats.acked;
    if (!r.ok && ++failures <= 5)
      FAIL_CHECK("seed " << s << ": " << r.failure << "\n  params: " << r.params << "\n  replay: " << replay_command(o));
  }
  CHECK(failures == 0);
  CHECK(acked > ci_seeds * 5);
}

TEST_CASE("a committed entry lost on a majority under fsync=never is classified as allowed, not a failure") {
  // Seed 363 (fsync=never): a failed fsync at step 1520 cuts leader 1's
  // unsynced tail back to index 70 after it committed 75/t5 with replica 2;
  // 1 and 3 (cut off until then) elect 1 in term 6, which rewrites 71.. and
  // replica 2 keeps its 71..76/t5 for ever. If the simulation's draws change,
  // find another such seed with `replica_sim --seeds 1000 --first 101`
  // (lines "allowed: ... held by only").
  sim_options o;
  o.seed = 363;
  const auto r = run(o);
  INFO("failure: " << r.failure << "\n  replay: " << replay_command(o));
  CHECK(r.ok);
  CHECK(r.allowed_loss.find("committed index 75/t5 is held by only 1 of 3 replicas") != std::string::npos);
  CHECK(r.allowed_loss.find("cannot catch up") != std::string::npos);
}
