// raft_sim: run the Raft simulation over any range of seeds.
//   raft_sim [--seeds N] [--first S] [--ticks T] [--liveness-ticks L] [--trace] [--trace-messages] [--quiet]
//            [--widened] [--quiescence]   (sim.hpp's sim_options)
// Exit status 0 if every seed passed. A failure prints "seed N" and the
// command that replays it with a trace.

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "tests/raft/sim.hpp"

namespace {

void usage() {
  std::cerr << "usage: raft_sim [--seeds N] [--first S] [--ticks T] [--liveness-ticks L] [--trace] "
               "[--trace-messages] [--quiet] [--widened] [--quiescence]\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace herald::raft::sim;
  std::uint64_t seeds = 100, first = 1;
  sim_options base;
  bool trace = false, quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::uint64_t {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return std::strtoull(argv[++i], nullptr, 10);
    };
    if (a == "--seeds") seeds = value();
    else if (a == "--first") first = value();
    else if (a == "--ticks" || a == "--steps") base.ticks = value();
    else if (a == "--liveness-ticks") base.liveness_ticks = value();
    else if (a == "--trace") trace = true;
    else if (a == "--trace-messages") trace = base.trace_messages = true;
    else if (a == "--quiet") quiet = true;
    else if (a == "--widened") base.widened = true;
    else if (a == "--quiescence") base.quiescence = true;
    else {
      usage();
      return 2;
    }
  }
  if (trace) base.trace = &std::cout;

  const auto start = std::chrono::steady_clock::now();
  std::uint64_t failed = 0, committed = 0, crashes = 0, snapshots = 0, changes = 0, max_recovery = 0, quiet_ticks = 0;
  for (std::uint64_t s = first; s < first + seeds; ++s) {
    sim_options o = base;
    o.seed = s;
    const sim_result r = run(o);
    committed += r.stats.committed;
    crashes += r.stats.crashes;
    snapshots += r.stats.snapshots_installed;
    changes += r.stats.membership_changes;
    quiet_ticks += r.stats.quiet_ticks;
    if (r.stats.recovery_ticks > max_recovery) max_recovery = r.stats.recovery_ticks;
    if (!r.ok) {
      ++failed;
      std::cout << "seed " << s << " FAILED: " << r.failure << "\n  replay: " << replay_command(o) << std::endl;
    }
    if (!quiet && (s - first + 1) % 1000 == 0)
      std::cout << (s - first + 1) << " seeds, " << failed << " failed" << std::endl;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "seeds " << first << ".." << first + seeds - 1 << " (" << base.ticks << " ticks each): "
            << failed << " failed in " << secs << " s; committed entries " << committed << ", crashes " << crashes
            << ", snapshots installed " << snapshots << ", membership changes " << changes
            << ", slowest recovery " << max_recovery << " ticks"
            << (base.quiescence ? ", quiesced node ticks " + std::to_string(quiet_ticks) : std::string{}) << "\n"
            << (seeds - failed) << " passed, " << failed << " failed" << std::endl;
  return failed == 0 ? 0 : 1;
}
