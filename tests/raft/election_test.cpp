// Elections: randomized timeouts, pre-vote, check-quorum, leader lease.

#include <doctest/doctest.h>

#include "tests/raft/fixture.hpp"

using namespace herald::raft;
using namespace herald::raft::test;

TEST_CASE("a single voter elects itself and commits its writes") {
  fixture c(1);
  c.elect(1);
  REQUIRE(c[1].state() == role::leader);
  CHECK(c[1].term() == 1);
  REQUIRE(c.propose(1, "a"));
  c.pump();
  CHECK(c[1].commit_index() == 2);  // the leader's no-op, then "a"
  CHECK(c.at(1).applied == std::vector<std::string>{"a"});
}

TEST_CASE("three nodes elect one leader and replicate to all") {
  fixture c(3);
  c.elect(1);
  REQUIRE(c.leader() == node_id{1});
  CHECK(c[2].leader() == 1);
  CHECK(c[3].leader() == 1);
  REQUIRE(c.propose(1, "x"));
  c.pump();
  c.tick_all(2);  // heartbeats carry the commit index to followers
  for (node_id id : {1, 2, 3}) {
    CHECK(c[id].commit_index() == 2);
    CHECK(c.at(id).applied == std::vector<std::string>{"x"});
  }
}

TEST_CASE("election timeouts are randomized within one to two election timeouts") {
  std::set<int> seen;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    mem_store disk(snapshot_meta{0, 0, configuration{{1, 2, 3}, {}}});
    options o;
    o.id = 1;
    o.election_ticks = 10;
    o.seed = seed;
    node n(o, disk, disk.durable());
    int ticks = 0;
    while (n.state() == role::follower && ticks < 100) {
      n.tick();
      ++ticks;
    }
    CHECK(ticks >= 10);
    CHECK(ticks < 20);
    seen.insert(ticks);
  }
  CHECK(seen.size() > 3);
}

TEST_CASE("pre-vote keeps a node rejoining from a partition from deposing the leader") {
  fixture c(3);
  c.elect(1);
  REQUIRE(c.leader() == node_id{1});
  const term_t term = c[1].term();
  c.isolate(3);
  // Node 3 times out again and again, but pre-vote never gets a majority, so
  // its term never moves.
  for (int i = 0; i < 100; ++i) {
    c.tick_all();
  }
  CHECK(c[3].term() == term);
  CHECK(c[3].state() != role::leader);
  c.heal();
  c.tick_all(20);
  CHECK(c.leader() == node_id{1});
  CHECK(c[1].term() == term);
  CHECK(c[3].leader() == 1);
}

TEST_CASE("without pre-vote a rejoining node disrupts the leader") {
  // The contrast that motivates pre-vote.
  options o;
  o.pre_vote = false;
  fixture c(3, o);
  c.elect(1);
  const term_t term = c[1].term();
  c.isolate(3);
  for (int i = 0; i < 100; ++i) c.tick_all();
  CHECK(c[3].term() > term + 3);
  c.heal();
  c.tick_all(60);
  CHECK(c[1].term() > term);  // the leader had to step down to catch up
}

TEST_CASE("check-quorum: a leader cut off from the majority steps down within an election timeout") {
  options o;
  o.election_ticks = 10;
  fixture c(3, o);
  c.elect(1);
  REQUIRE(c.leader() == node_id{1});
  c.isolate(1);
  int ticks = 0;
  while (c[1].state() == role::leader && ticks < 100) {
    c.tick(1);
    ++ticks;
  }
  CHECK(c[1].state() == role::follower);
  // At most two check rounds: the one running when cut off, then a full one.
  CHECK(ticks <= 2 * 10);
  // Writes to the deposed leader are refused, not silently lost.
  CHECK(c.propose(1, "late").code == errc::not_leader);
}

TEST_CASE("a follower that heard from the leader recently ignores vote requests") {
  options o;
  o.pre_vote = false;  // check the real vote path
  fixture c(3, o);
  c.elect(1);
  const term_t term = c[1].term();
  // A stray candidate at a higher term, e.g. a node just restarted with a
  // stale election timer.
  message m{3, 2, term + 5, request_vote{100, term, false, false}};
  c[2].step(m);
  CHECK(c[2].term() == term);  // ignored: in the leader's lease
  CHECK(c[2].leader() == 1);
  // The same request flagged as a leadership transfer is considered.
  m.body = request_vote{100, term, false, true};
  c[2].step(m);
  CHECK(c[2].term() == term + 5);
}

TEST_CASE("a node never grants two votes in one term") {
  options o;
  o.pre_vote = false;
  fixture c(3, o);
  c[1].step(message{2, 1, 1, request_vote{0, 0, false, false}});
  c[1].step(message{3, 1, 1, request_vote{0, 0, false, false}});
  c.drain(1);
  int granted = 0;
  for (const auto& m : c.queue())
    if (const auto* r = std::get_if<request_vote_response>(&m.body); r && r->vote_granted) ++granted;
  CHECK(granted == 1);
  CHECK(c[1].voted_for() == 2);
}

TEST_CASE("votes go only to candidates whose log is at least as up-to-date") {
  fixture c(3);
  c.elect(1);
  REQUIRE(c.propose(1, "a"));
  c.pump();
  c.tick_all(2);
  const term_t term = c[1].term();
  // Node 3's log ends at index 2 of this term; a candidate with less loses.
  c.tick_all(30);  // let the lease expire nowhere: the leader is alive
  message m{2, 3, term + 1, request_vote{1, term, true, true}};
  c[3].step(m);
  c.drain(3);
  bool rejected = false;
  for (const auto& q : c.queue())
    if (const auto* r = std::get_if<request_vote_response>(&q.body); r && q.from == 3 && !r->vote_granted)
      rejected = true;
  CHECK(rejected);
}

TEST_CASE("a restarted node remembers its term and vote") {
  options o;
  o.pre_vote = false;
  fixture c(3, o);
  c[1].step(message{2, 1, 7, request_vote{0, 0, false, false}});
  c.drain(1);
  c.crash(1);
  c.restart(1);
  CHECK(c[1].term() == 7);
  CHECK(c[1].voted_for() == 2);
  c[1].step(message{3, 1, 7, request_vote{0, 0, false, false}});
  c.drain(1);
  CHECK(c[1].voted_for() == 2);
}
