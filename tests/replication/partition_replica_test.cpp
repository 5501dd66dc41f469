// replication::partition_replica: one partition replica's logic without
// actors (partition_replica.hpp), driven through replica_harness.hpp.
#include <doctest/doctest.h>

#include "tests/replication/replica_harness.hpp"

using namespace herald;
using herald::test::fetch_request;
using herald::test::latest_request;
using herald::test::produce_request;
using herald::test::replica_group;
using schema::ErrorCode;

TEST_CASE("a single replica leads at once and answers acks=all produces with consecutive offsets") {
  replica_group g({1});
  g.at(1).elect_alone();
  REQUIRE(g.at(1).is_leader());
  // Entry 1 (bootstrap configuration) and the leader's no-op take offsets 0 and 1.
  const auto first = g.request(1, produce_request("a", schema::Acks::ALL, 3));
  REQUIRE(first);
  CHECK(first->code == ErrorCode::NONE);
  const auto second = g.request(1, produce_request("b", schema::Acks::ALL, 2));
  REQUIRE(second);
  CHECK(second->base_offset == first->base_offset + 3);
  CHECK(g.at(1).high_watermark() == static_cast<std::uint64_t>(second->base_offset + 2));
}

TEST_CASE("a fetch at the high watermark parks until a commit moves it, or until its timer") {
  replica_group g({1});
  g.at(1).elect_alone();
  const auto hw = static_cast<std::int64_t>(g.at(1).high_watermark());
  CHECK_FALSE(g.request(1, fetch_request(hw, 500)));
  const auto parked = g.last_request();
  g.request(1, produce_request("x"));
  const auto woken = g.answer_of(parked);
  REQUIRE(woken);
  CHECK(woken->code == ErrorCode::NONE);
  CHECK(woken->record_bytes > 0);

  const auto hw2 = static_cast<std::int64_t>(g.at(1).high_watermark());
  CHECK_FALSE(g.request(1, fetch_request(hw2, 500)));
  const auto waiting = g.last_request();
  REQUIRE_FALSE(g.timers.empty());
  const auto t = g.timers.back();
  CHECK(t.what == replication::outbox::timer::kind::fetch);
  CHECK(t.delay_ms == 500);
  g.at(1).fetch_timeout(t.a);
  g.settle();
  const auto empty = g.answer_of(waiting);
  REQUIRE(empty);
  CHECK(empty->code == ErrorCode::NONE);
  CHECK(empty->record_bytes == 0);
}

TEST_CASE("followers answer notLeader and a three-replica group commits on a quorum") {
  replica_group g({1, 2, 3});
  const auto leader = g.elect();
  const auto follower = leader == 1 ? 2 : 1;
  const auto refused = g.request(follower, produce_request("a"));
  REQUIRE(refused);
  CHECK(refused->code == ErrorCode::NOT_LEADER);
  const auto other = follower == 2 ? 3 : (leader == 2 ? 3 : 2);
  g.isolate(other);
  const auto ok = g.request(leader, produce_request("a"));
  REQUIRE(ok);
  CHECK(ok->code == ErrorCode::NONE);
  g.tick_all(2);
  CHECK(g.at(follower).high_watermark() == g.at(leader).high_watermark());
}

TEST_CASE("a produce not committed in time is answered timeout once, and its late commit answers nothing more") {
  replica_group g({1, 2, 3});
  const auto leader = g.elect();
  for (raft::node_id id : {1, 2, 3})
    if (id != leader) g.isolate(id);
  CHECK_FALSE(g.request(leader, produce_request("a")));
  const auto rid = g.last_request();
  const auto t = g.timers.back();
  REQUIRE(t.what == replication::outbox::timer::kind::produce);
  g.at(leader).produce_timeout(t.a, t.b);
  g.settle();
  const auto r = g.answer_of(rid);
  REQUIRE(r);
  CHECK(r->code == ErrorCode::TIMEOUT);
  g.heal();
  g.tick_all(3);  // commits now; the harness fails on a second answer
}
