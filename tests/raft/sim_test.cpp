// CI's share of the simulation: 2,000 seeds. tests/raft/raft_sim runs any
// number (raft_sim --seeds 100000).

#include <doctest/doctest.h>

#include <string>

#include "tests/raft/sim.hpp"

using namespace herald::raft::sim;

// Sanitized debug builds run ~10x slower: they check memory safety on a
// tenth of the seeds; the release build runs all 2,000.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t ci_seeds = 200;
#else
constexpr std::uint64_t ci_seeds = 2000;
#endif

TEST_CASE("simulation holds every invariant for 2000 seeds") {
  constexpr std::uint64_t seeds = ci_seeds;
  std::uint64_t committed = 0;
  int failures = 0;
  for (std::uint64_t s = 1; s <= seeds; ++s) {
    sim_options o;
    o.seed = s;
    o.ticks = 300;
    const sim_result r = run(o);
    committed += r.stats.committed;
    if (!r.ok && ++failures <= 5)
      FAIL_CHECK("seed " << s << ": " << r.failure << "\n  replay: " << replay_command(o));
  }
  CHECK(failures == 0);
  // The runs must be doing something: writes commit despite the faults.
  CHECK(committed > seeds * 10);
}

// Issue 8 item 15's wider draws: up to 7 voters, one-way cuts, delays
// longer than an election timeout, clock drift, check-quorum off.
TEST_CASE("the widened simulation holds every invariant for 500 seeds") {
  constexpr std::uint64_t seeds = ci_seeds / 4;
  std::uint64_t committed = 0;
  int failures = 0;
  for (std::uint64_t s = 1; s <= seeds; ++s) {
    sim_options o;
    o.seed = s;
    o.ticks = 300;
    o.widened = true;
    const sim_result r = run(o);
    committed += r.stats.committed;
    if (!r.ok && ++failures <= 5)
      FAIL_CHECK("seed " << s << ": " << r.failure << "\n  replay: " << replay_command(o));
  }
  CHECK(failures == 0);
  CHECK(committed > seeds * 10);
}

TEST_CASE("simulation is deterministic") {
  sim_options o;
  o.seed = 42;
  const sim_result a = run(o);
  const sim_result b = run(o);
  CHECK(a.ok == b.ok);
  CHECK(a.stats.messages == b.stats.messages);
  CHECK(a.stats.committed == b.stats.committed);
  CHECK(a.stats.leaders == b.stats.leaders);
}

// Quiescence under the same faults, with crashes and broken links reported
// as lost nodes (sim_options::quiescence).
TEST_CASE("the simulation with quiescence holds every invariant for 2000 seeds") {
  constexpr std::uint64_t seeds = ci_seeds;
  std::uint64_t committed = 0, quiet = 0;
  int failures = 0;
  for (std::uint64_t s = 1; s <= seeds; ++s) {
    sim_options o;
    o.seed = s;
    o.ticks = 300;
    o.quiescence = true;
    o.widened = s % 4 == 0;
    const sim_result r = run(o);
    committed += r.stats.committed;
    quiet += r.stats.quiet_ticks;
    if (!r.ok && ++failures <= 5)
      FAIL_CHECK("seed " << s << ": " << r.failure << "\n  replay: " << replay_command(o));
  }
  CHECK(failures == 0);
  CHECK(committed > seeds * 10);
  CHECK(quiet > seeds * 10);  // groups do go quiet between the faults
}
