// Leadership transfer (TimeoutNow).

#include <doctest/doctest.h>

#include "tests/raft/fixture.hpp"

using namespace herald::raft;
using namespace herald::raft::test;

TEST_CASE("leadership moves to an up-to-date follower") {
  fixture c(3);
  c.elect(1);
  c.tick_all(2);
  const term_t term = c[1].term();
  REQUIRE(c[1].transfer_leadership(2) == errc::ok);
  c.pump();
  CHECK(c.leader() == node_id{2});
  CHECK(c[2].term() == term + 1);
  CHECK(c[1].state() == role::follower);
  REQUIRE(c.propose(2, "after transfer"));
  c.tick_all(3);
  CHECK(c.at(1).applied.back() == "after transfer");
}

TEST_CASE("a transfer waits for the target to catch up") {
  fixture c(3);
  c.elect(1);
  c.tick_all(2);
  c.cut(1, 3);
  for (int i = 0; i < 5; ++i) c.propose(1, "x" + std::to_string(i));
  c.tick_all(2);
  REQUIRE(c[1].transfer_leadership(3) == errc::ok);
  c.pump();
  CHECK(c.count_delivered<timeout_now>(1, 3) == 0);
  CHECK(c[1].state() == role::leader);
  c.heal();
  c.tick_all(3);
  CHECK(c.count_delivered<timeout_now>(1, 3) >= 1);
  CHECK(c.leader() == node_id{3});
  CHECK(c[3].log().last_index() >= 7);
}

TEST_CASE("proposals are refused while leadership is being transferred") {
  fixture c(3);
  c.elect(1);
  c.isolate(3);
  c.tick_all(1);
  REQUIRE(c[1].transfer_leadership(3) == errc::ok);
  auto r = c.propose(1, "x");
  CHECK(r.code == errc::transfer_in_progress);
  CHECK(r.leader_hint == 3);
}

TEST_CASE("a transfer that cannot finish is abandoned after an election timeout") {
  options o;
  o.election_ticks = 10;
  o.check_quorum = false;  // keep the leader while 3 is unreachable
  fixture c(3, o);
  c.elect(1);
  c.isolate(3);
  c.tick_all(1);
  REQUIRE(c[1].transfer_leadership(3) == errc::ok);
  c.tick_all(10);
  CHECK(c[1].state() == role::leader);
  CHECK(c[1].transferee() == no_node);
  CHECK(c.propose(1, "ok again"));
}

TEST_CASE("transfer targets must be voters") {
  fixture c(3, {}, 1);
  c.elect(1);
  CHECK(c[1].transfer_leadership(4) == errc::invalid_argument);
  CHECK(c[2].transfer_leadership(3) == errc::not_leader);
}

TEST_CASE("a timeout_now overrides the followers' leader lease") {
  fixture c(5);
  c.elect(1);
  c.tick_all(2);
  // Everyone heard from leader 1 just now, so a normal campaign by node 4
  // would be ignored; a transfer is not.
  REQUIRE(c[1].transfer_leadership(4) == errc::ok);
  c.pump();
  CHECK(c.leader() == node_id{4});
}

// Issue 8 item 24: a TimeoutNow delivered after its transfer was abandoned
// started a campaign that bypassed the healthy leader's lease.
TEST_CASE("a stale timeout_now whose leader's log moved on starts no campaign") {
  fixture c(3);
  c.elect(1);
  c.tick_all(2);
  const index_t at_transfer = c[1].log().last_index();
  REQUIRE(c.propose(1, "after the abandoned transfer"));
  c.tick_all(2);
  const term_t term = c[1].term();
  REQUIRE(c[2].log().last_index() > at_transfer);
  c[2].step(message{1, 2, term, timeout_now{at_transfer}});
  CHECK(c[2].state() == role::follower);
  CHECK(c[2].term() == term);
  // The current one still works.
  c[2].step(message{1, 2, term, timeout_now{c[2].log().last_index()}});
  CHECK(c[2].state() == role::candidate);
}
