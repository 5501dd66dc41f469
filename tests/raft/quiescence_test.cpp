// Quiescence (options::quiesce, raft/quiescence.cpp): idle groups stop
// heartbeating, wake on anything that needs them, and elect again when the
// leader's node is reported lost. The simulation runs it under faults
// (sim_test.cpp, "quiescence").

#include <doctest/doctest.h>

#include "tests/raft/fixture.hpp"

using namespace herald::raft;
using namespace herald::raft::test;

namespace {

options quiet_options() {
  options o;
  o.quiesce = true;
  return o;
}

bool all_quiet(fixture& c, std::initializer_list<node_id> ids) {
  for (node_id id : ids)
    if (!c[id].quiesced()) return false;
  return true;
}

}  // namespace

TEST_CASE("an idle group goes quiet: no messages for a long time, and nobody campaigns") {
  fixture c(3, quiet_options());
  c.elect(1);
  REQUIRE(c.leader() == node_id{1});
  REQUIRE(c.propose(1, "a"));
  c.pump();
  c.tick_all(3);
  REQUIRE(all_quiet(c, {1, 2, 3}));
  for (node_id id : {1, 2, 3}) CHECK(c[id].commit_index() == 2);
  const auto before = c.delivered().size();
  const auto term = c[1].term();
  c.tick_all(1000);  // 50 election timeouts
  CHECK(c.delivered().size() == before);
  CHECK(c.leader() == node_id{1});
  CHECK(c[1].term() == term);
  CHECK(all_quiet(c, {1, 2, 3}));
}

TEST_CASE("without the option a group heartbeats forever") {
  fixture c(3);
  c.elect(1);
  c.tick_all(3);
  const auto before = c.delivered().size();
  c.tick_all(10);
  CHECK(c.delivered().size() > before + 10);
  CHECK_FALSE(c[1].quiesced());
}

TEST_CASE("a proposal wakes a quiet group, which commits it and goes quiet again") {
  fixture c(3, quiet_options());
  c.elect(1);
  c.tick_all(3);
  REQUIRE(all_quiet(c, {1, 2, 3}));
  REQUIRE(c.propose(1, "b"));
  CHECK_FALSE(c[1].quiesced());
  c.pump();
  CHECK_FALSE(c[2].quiesced());  // the AppendEntries woke it
  c.tick_all(3);
  CHECK(all_quiet(c, {1, 2, 3}));
  for (node_id id : {1, 2, 3}) CHECK(c.at(id).applied == std::vector<std::string>{"b"});
}

TEST_CASE("a follower elects a new leader once the quiet leader's node is reported lost") {
  fixture c(3, quiet_options());
  c.elect(1);
  c.tick_all(3);
  REQUIRE(all_quiet(c, {1, 2, 3}));
  c.crash(1);
  // The leader's process is gone but nobody said so: the quiet followers
  // wait (they would wait forever).
  c.tick_all(200);
  CHECK(c.leader() == std::nullopt);
  CHECK(all_quiet(c, {2, 3}));
  // The host's connection to node 1 broke: the normal election timeout runs.
  c[2].on_node_down(1);
  c[3].on_node_down(1);
  int ticks = 0;
  while (!c.leader() && ticks < 100) {
    c.tick_all();
    ++ticks;
  }
  REQUIRE(c.leader());
  CHECK(ticks < 45);  // two election timeouts and a pre-vote round
  REQUIRE(c.propose(*c.leader(), "after"));
  c.pump();
  c.tick_all(3);
  CHECK(c.at(2).applied.back() == "after");
}

TEST_CASE("a replica that restarts while its node stays up wakes the quiet group by campaigning") {
  fixture c(3, quiet_options());
  c.elect(1);
  c.tick_all(3);
  REQUIRE(all_quiet(c, {1, 2, 3}));
  c.crash(1);
  c.restart(1);  // no on_node_down: the node never went away
  node_id leader = no_node;
  for (int i = 0; i < 200 && leader == no_node; ++i) {
    c.tick_all();
    if (auto l = c.leader()) leader = *l;
  }
  CHECK(leader != no_node);
}

TEST_CASE("a leader goes quiet with a follower reported down, and only with a quorum caught up") {
  fixture c(3, quiet_options());
  c.elect(1);
  c.tick_all(3);
  c.crash(3);
  c[1].on_node_down(3);
  REQUIRE(c.propose(1, "while 3 is down"));
  c.pump();
  c.tick_all(3);
  CHECK(c[1].quiesced());  // 1 and 2 are a quorum and have everything
  CHECK(c[2].quiesced());
  // Node 3 returns: its first message wakes the leader, which catches it up.
  c.restart(3);
  for (int i = 0; i < 100 && c.at(3).applied.empty(); ++i) c.tick_all();
  CHECK(c.at(3).applied == std::vector<std::string>{"while 3 is down"});
  c.tick_all(5);
  CHECK(all_quiet(c, {1, 2, 3}));

  // Two followers down: no quorum caught up, so the leader keeps its clock
  // (and check-quorum steps it down).
  c[1].on_node_down(2);
  c[1].on_node_down(3);
  c.crash(2);
  c.crash(3);
  REQUIRE(c.propose(1, "no quorum"));
  c.tick_all(30);
  CHECK_FALSE(c[1].quiesced());
  CHECK(c[1].state() != role::leader);
}

TEST_CASE("a quiet leader whose followers' nodes are both lost wakes and steps down (check-quorum)") {
  fixture c(3, quiet_options());
  c.elect(1);
  c.tick_all(3);
  REQUIRE(all_quiet(c, {1, 2, 3}));
  c.crash(3);
  c[1].on_node_down(3);
  c[2].on_node_down(3);
  c.tick_all(3);
  CHECK(c[1].quiesced());  // 1 and 2 are still a quorum
  c.crash(2);
  c[1].on_node_down(2);
  c.tick_all(3);
  CHECK_FALSE(c[1].quiesced());
  c.tick_all(30);  // within two election timeouts
  CHECK(c[1].state() != role::leader);
}

TEST_CASE("a lost quiesce heartbeat leaves a follower awake until it wakes the leader, then all go quiet") {
  fixture c(3, quiet_options());
  c.elect(1);
  c.drop = [](const message& m) {
    const auto* ae = std::get_if<append_entries>(&m.body);
    return ae && ae->quiesce && m.to == 3;
  };
  c.tick_all(3);
  CHECK(c[1].quiesced());
  CHECK_FALSE(c[3].quiesced());
  c.drop = nullptr;
  const auto term = c[1].term();
  c.tick_all(60);
  CHECK(all_quiet(c, {1, 2, 3}));
  CHECK(c.leader() == node_id{1});
  CHECK(c[1].term() == term);  // pre-vote: the woken leader was never deposed
}

TEST_CASE("a leader told a follower's node is back heartbeats until that follower answers") {
  fixture c(3, quiet_options());
  c.elect(1);
  c.tick_all(3);
  REQUIRE(all_quiet(c, {1, 2, 3}));
  // Node 3 restarts; the leader hears of it before its replica is up.
  c.crash(3);
  c[1].on_node_down(3);
  c[1].on_node_up(3);
  c.tick_all(5);
  CHECK_FALSE(c[1].quiesced());  // still unconfirmed: keeps heartbeating
  c.restart(3);
  c.tick_all(3);
  CHECK(c[3].leader() == 1);  // told by a heartbeat, not by its own campaign
  CHECK(c[3].state() == role::follower);
  CHECK(all_quiet(c, {1, 2, 3}));
}

TEST_CASE("wake() restarts a quiet leader's heartbeats") {
  fixture c(3, quiet_options());
  c.elect(1);
  c.tick_all(3);
  REQUIRE(all_quiet(c, {1, 2, 3}));
  c[1].wake();
  CHECK_FALSE(c[1].quiesced());
  const auto before = c.count_delivered<append_entries>(1, 2);
  c.tick(1);
  c.pump();
  CHECK(c.count_delivered<append_entries>(1, 2) == before + 1);
  CHECK(c[1].quiesced());  // nothing to do: that heartbeat quiesced again
}
