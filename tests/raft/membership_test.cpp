// Single-server membership changes and learners.

#include <doctest/doctest.h>

#include "tests/raft/fixture.hpp"

using namespace herald::raft;
using namespace herald::raft::test;

TEST_CASE("add a learner, let it catch up, promote it to voter") {
  fixture c(3, {}, 1);
  c.elect(1);
  c.propose(1, "before");
  c.tick_all(2);
  auto r = c[1].change_membership({change_kind::add_learner, 4});
  REQUIRE(r);
  c.tick_all(3);
  CHECK(c[1].config().is_learner(4));
  CHECK(c[4].config().is_learner(4));
  CHECK(c.at(4).applied == std::vector<std::string>{"before"});
  // A learner does not count: with 2 and 3 gone nothing commits.
  c.isolate(2);
  c.isolate(3);
  c.heal();
  c.cut(1, 2);
  c.cut(1, 3);
  c.propose(1, "needs a voter");
  c.tick_all(1);
  CHECK(c.at(4).applied.size() == 1);
  c.heal();
  c.tick_all(3);
  REQUIRE(c[1].change_membership({change_kind::promote, 4}));
  c.tick_all(3);
  CHECK(c[1].config().voters == std::vector<node_id>{1, 2, 3, 4});
  // Now quorum is 3 of 4: with 2 and 3 cut off, 1 and 4 cannot commit.
  c.cut(1, 2);
  c.cut(1, 3);
  const index_t commit = c[1].commit_index();
  c.propose(1, "two of four");
  c.tick_all(1);
  CHECK(c[1].commit_index() == commit);
}

TEST_CASE("a learner never campaigns") {
  fixture c(3, {}, 1);
  c.elect(1);
  REQUIRE(c[1].change_membership({change_kind::add_learner, 4}));
  c.tick_all(3);
  c.isolate(4);
  for (int i = 0; i < 100; ++i) c.tick(4);
  CHECK(c[4].state() == role::follower);
  CHECK(c[4].term() == c[1].term());
}

TEST_CASE("only one membership change at a time") {
  fixture c(3, {}, 2);
  c.elect(1);
  c.tick_all(2);
  c.isolate(2);
  c.isolate(3);  // nothing commits
  REQUIRE(c[1].change_membership({change_kind::add_learner, 4}));
  CHECK(c[1].change_membership({change_kind::add_learner, 5}).code == errc::change_in_progress);
}

TEST_CASE("a new leader changes membership only after committing in its term") {
  fixture c(3, {}, 1);
  c.isolate(1);
  c.tick(1, 0);
  c.heal();
  c.cut(1, 2);
  c.cut(1, 3);
  for (int i = 0; i < 30 && c[1].state() != role::leader; ++i) c.tick(1);
  // Node 1 cannot win without votes.
  CHECK(c[1].state() != role::leader);
  c.heal();
  c.elect(1);
  REQUIRE(c[1].state() == role::leader);
  CHECK(c[1].commit_index() == c[1].log().last_index());
  CHECK(c[1].change_membership({change_kind::add_learner, 4}));
}

TEST_CASE("invalid changes are refused") {
  fixture c(3, {}, 1);
  c.elect(1);
  c.tick_all(2);
  CHECK(c[1].change_membership({change_kind::add_voter, 2}).code == errc::invalid_change);
  CHECK(c[1].change_membership({change_kind::promote, 4}).code == errc::invalid_change);
  CHECK(c[1].change_membership({change_kind::remove, 9}).code == errc::invalid_change);
  CHECK(c[2].change_membership({change_kind::add_learner, 4}).code == errc::not_leader);
}

TEST_CASE("a leader that removes itself steps down once the change commits") {
  fixture c(3);
  c.elect(1);
  c.tick_all(2);
  REQUIRE(c[1].change_membership({change_kind::remove, 1}));
  c.tick_all(3);
  CHECK(c[1].state() == role::follower);
  c.tick_all(30);
  auto l = c.leader();
  REQUIRE(l);
  CHECK(*l != 1);
  CHECK(c[*l].config().voters == std::vector<node_id>{2, 3});
  // The removed node does not campaign.
  for (int i = 0; i < 50; ++i) c.tick(1);
  CHECK(c[1].state() == role::follower);
}

TEST_CASE("a removed follower cannot disrupt the cluster") {
  fixture c(3);
  c.elect(1);
  c.tick_all(2);
  c.isolate(3);  // 3 never learns it was removed
  REQUIRE(c[1].change_membership({change_kind::remove, 3}));
  c.tick_all(3);
  const term_t term = c[1].term();
  for (int i = 0; i < 50; ++i) c.tick(3);  // it keeps trying to campaign
  c.heal();
  c.tick_all(20);
  CHECK(c.leader() == node_id{1});
  CHECK(c[1].term() == term);
}

TEST_CASE("a configuration entry that is truncated stops being in force") {
  fixture c(3, {}, 1);
  c.elect(1);
  c.tick_all(2);
  c.isolate(1);
  REQUIRE(c[1].change_membership({change_kind::add_learner, 4}));
  CHECK(c[1].config().is_learner(4));  // in force on append
  const node_id l = c.elect_other(1);
  REQUIRE(l != no_node);
  c.propose(l, "x");
  c.pump();
  c.heal();
  c.tick_all(20);
  CHECK(!c[1].config().contains(4));
  CHECK(c[1].config() == c[l].config());
}
