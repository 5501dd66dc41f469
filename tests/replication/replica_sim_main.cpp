// replica_sim: the Raft simulation over real partition replicas and the
// storage fault layer (replica_sim.hpp), over any range of seeds.
//   replica_sim [--seeds N] [--first S] [--steps T] [--trace] [--trace-messages]
// Exit status 0 if every seed passed; a failure prints the replay command.

#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/replication/replica_sim.hpp"

int main(int argc, char** argv) {
  using namespace herald::replication::sim;
  std::uint64_t seeds = 100, first = 1;
  sim_options base;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::uint64_t {
      if (i + 1 >= argc) {
        std::cerr << "usage: replica_sim [--seeds N] [--first S] [--steps T] [--trace]\n";
        std::exit(2);
      }
      return std::strtoull(argv[++i], nullptr, 10);
    };
    if (a == "--seeds") seeds = value();
    else if (a == "--first") first = value();
    else if (a == "--steps") base.steps = value();
    else if (a == "--trace") base.trace = &std::cout;
    else if (a == "--trace-messages") {
      base.trace = &std::cout;
      base.trace_messages = true;
    }
    else {
      std::cerr << "usage: replica_sim [--seeds N] [--first S] [--steps T] [--trace]\n";
      return 2;
    }
  }
  std::uint64_t failed = 0, allowed = 0, acked = 0, losses = 0, restarts = 0, syncs = 0;
  for (std::uint64_t s = first; s < first + seeds; ++s) {
    sim_options o = base;
    o.seed = s;
    const auto r = run(o);
    acked += r.stats.acked;
    losses += r.stats.power_losses;
    restarts += r.stats.restarts;
    syncs += r.stats.failed_syncs;
    if (!r.allowed_loss.empty()) {
      ++allowed;
      std::cout << "seed " << s << " allowed: " << r.allowed_loss << std::endl;
    }
    if (!r.ok) {
      ++failed;
      std::cout << "seed " << s << " FAILED: " << r.failure << "\n  params: " << r.params
                << "\n  replay: " << replay_command(o) << std::endl;
    }
  }
  std::cout << "seeds " << first << ".." << first + seeds - 1 << ": " << failed << " failed, " << allowed
            << " ended after losing committed entries (allowed); acknowledged " << acked
            << ", power losses " << losses << ", restarts " << restarts << ", failed fsyncs " << syncs << "\n";
  return failed == 0 ? 0 : 1;
}
