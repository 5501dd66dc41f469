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
