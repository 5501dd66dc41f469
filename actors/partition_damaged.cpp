#include "actors/partition_damaged.hpp"

#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/replica_stats.hpp"
#include "replication/damaged_replica.hpp"

namespace herald::actors {

caf::behavior damaged_partition(partition_ptr self, std::string why) {
  const auto& args = self->state.args;
  const std::string name = args.topic + "/" + std::to_string(args.partition);
  spdlog::error("{}: DAMAGED, not voting and serving nothing until repaired ({}): {}", name,
                (args.dir / "damaged").string(), why);
  const bytes response = replication::damaged_response(name, why);
  const std::string description = replication::damaged_description(why);
  return {
    [=](request_atom, const bytes&) -> bytes { return response; },
    [=](raft_atom, const std::string&, std::uint32_t, const bytes&) {
      // Dropped: a replica that may have lost acknowledged entries must not
      // vote or acknowledge. Dropping is always safe in Raft.
    },
    [=](stats_atom) -> caf::result<std::uint64_t, std::uint64_t, std::uint64_t, replica_followers> {
      return caf::make_error(caf::sec::runtime_error, description);
    },
    [=](shutdown_atom) -> caf::result<bool> { return true; },  // leads nothing to hand over
    [=](shutdown_atom, bool) {},
    [=](target_atom, const std::vector<std::uint64_t>&, std::uint64_t) {},  // leads nothing: moves nothing
  };
}

} // namespace herald::actors
