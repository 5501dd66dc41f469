// The partition actor's replica-set messages: a target from the node actor
// reaches the replica's membership driver, and the leader's settled report
// comes back to the parent as (settled_atom, topic, partition, epoch).

#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/partition_actor.hpp"
#include "actors/system_config.hpp"
#include "tests/support/process.hpp"

using namespace herald;

namespace {

using settled_report = std::tuple<std::string, std::uint32_t, std::uint64_t>;

// Stands in for the node actor: spawns one partition, forwards targets to
// it and settled reports to `observer`.
caf::behavior fake_node(caf::event_based_actor* self, actors::partition_args args, caf::actor observer) {
  auto child = actors::spawn_partition(self, std::move(args));
  return {
    [=](target_atom a, const std::vector<std::uint64_t>& voters, std::uint64_t epoch) {
      self->send(child, a, voters, epoch);
    },
    [=](settled_atom a, const std::string& topic, std::uint32_t partition, std::uint64_t epoch) {
      self->send(observer, a, topic, partition, epoch);
    },
    [=](raft_out_atom, std::uint64_t, const std::string&, std::uint32_t, const std::vector<char>&) {},
    [=](shutdown_atom) { self->send_exit(child, caf::exit_reason::user_shutdown); self->quit(); },
  };
}

}  // namespace

TEST_CASE("a partition actor takes a target and reports the settled epoch to its parent") {
  test::temp_dir dir;
  caf::actor_system_config cfg;
  caf::actor_system system{(configure_actor_system(cfg), cfg)};
  caf::scoped_actor self{system};
  actors::partition_args args;
  args.topic = std::string(1, 't');  // not = "t": g++ 12 -Wrestrict false positive
  args.partition = 3;
  args.dir = dir.path() / "t-3";
  args.config.segment_bytes = 64 << 10;
  args.node_id = 1;
  args.tick_ms = 10;
  auto node = system.spawn(fake_node, args, caf::actor{self});

  auto expect_settled = [&](std::uint64_t epoch) {
    bool got = false;
    self->receive(
      [&](settled_atom, const std::string& topic, std::uint32_t partition, std::uint64_t e) {
        CHECK(topic == "t");
        CHECK(partition == 3);
        CHECK(e == epoch);
        got = true;
      },
      caf::after(std::chrono::seconds{10}) >> [] {});
    CHECK(got);
  };
  self->send(node, target_atom::value, std::vector<std::uint64_t>{1}, std::uint64_t{5});
  expect_settled(5);
  // A stale epoch is ignored; the same epoch again asks for the report again.
  self->send(node, target_atom::value, std::vector<std::uint64_t>{1}, std::uint64_t{4});
  self->send(node, target_atom::value, std::vector<std::uint64_t>{1}, std::uint64_t{5});
  expect_settled(5);
  self->send(node, shutdown_atom::value);
}
