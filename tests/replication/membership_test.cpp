// Replica-set changes of one partition: replica_origin::joiner and the
// membership driver (replication/membership_driver.hpp) moving a group of
// real partition_replicas to a target set, through replica_harness.hpp.
#include <doctest/doctest.h>

#include <algorithm>

#include "tests/replication/replica_harness.hpp"

using namespace herald;
using herald::test::produce_request;
using herald::test::replica_group;
using schema::ErrorCode;

namespace {

using ids = std::vector<raft::node_id>;

raft::node_id other_than(raft::node_id a, raft::node_id b = raft::no_node) {
  for (raft::node_id id : {1, 2, 3})
    if (id != a && id != b) return id;
  return raft::no_node;
}

ids sorted(ids v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The committed records a replica holds, as bytes.
std::vector<char> committed_bytes(replica_group& g, raft::node_id id) {
  auto& r = g.at(id);
  auto read = r.store().log().read(r.log_start_offset(), 1u << 24, r.high_watermark());
  REQUIRE_MESSAGE(read.has_value(), read.error().message);
  return read->bytes;
}

void produce_some(replica_group& g, raft::node_id leader, int count) {
  for (int i = 0; i < count; ++i) {
    auto r = g.request(leader, produce_request("value-" + std::to_string(i), schema::Acks::ALL, 3));
    REQUIRE(r);
    REQUIRE(r->code == ErrorCode::NONE);
  }
}

raft::node_id leader_of(replica_group& g, const ids& among) {
  for (auto id : among)
    if (g.running(id) && g.at(id).is_leader()) return id;
  return raft::no_node;
}

}  // namespace

TEST_CASE("a joiner in an empty directory neither bootstraps nor campaigns, even named alone") {
  replica_group g({1, 2, 3});
  g.start_joiner(4);
  CHECK(g.at(4).store().last_index() == 0);
  CHECK(g.at(4).raft().config().voters.empty());
  CHECK_FALSE(std::filesystem::exists(g.dir() / "4" / "vote_unknown"));  // it never voted: nothing to forget
  for (int i = 0; i < 100; ++i) g.at(4).tick();
  auto out = g.at(4).take_output();
  CHECK(out.messages.empty());  // no (pre-)vote requests
  CHECK_FALSE(g.at(4).is_leader());
  CHECK(g.at(4).raft().term() == 0);
}

TEST_CASE("a dead voter is replaced: {a,b,dead} -> {a,b,4}, the data intact on 4, and 4 counts in the quorum") {
  replica_group g({1, 2, 3});
  const auto leader = g.elect();
  produce_some(g, leader, 10);
  const auto dead = other_than(leader);
  const auto kept = other_than(leader, dead);
  g.stop(dead);
  g.start_joiner(4);
  const ids target = sorted({leader, kept, 4});
  g.set_target(target, 1);
  const auto reporter = g.tick_until_settled(1);
  REQUIRE(reporter);
  CHECK(*reporter == leader);
  CHECK(g.at(leader).raft().config().voters == target);
  CHECK(g.at(leader).raft().config().learners.empty());
  g.tick_all(3);
  CHECK(g.at(4).raft().config() == g.at(leader).raft().config());
  CHECK(g.at(4).high_watermark() == g.at(leader).high_watermark());
  CHECK(committed_bytes(g, 4) == committed_bytes(g, leader));
  // Only the leader and 4 now: a commit needs 4's acknowledgement.
  g.isolate(kept);
  produce_some(g, leader, 1);
  g.tick_all(2);
  CHECK(g.at(4).high_watermark() == g.at(leader).high_watermark());
  // Reported once for this epoch.
  g.tick_all(5);
  CHECK(g.settled.size() == 1);
}

TEST_CASE("a leader that is not in the target hands leadership over, and the new leader removes it") {
  replica_group g({1, 2, 3});
  const auto leader = g.elect();
  produce_some(g, leader, 3);
  const ids target = sorted({other_than(leader), other_than(leader, other_than(leader))});
  g.set_target(target, 7);
  const auto reporter = g.tick_until_settled(7);
  REQUIRE(reporter);
  CHECK(*reporter != leader);
  CHECK(std::count(target.begin(), target.end(), *reporter) == 1);
  CHECK(g.at(*reporter).raft().config().voters == target);
  CHECK_FALSE(g.at(leader).is_leader());
  produce_some(g, *reporter, 2);
  g.tick_all(2);
  for (auto id : target) CHECK(g.at(id).high_watermark() == g.at(*reporter).high_watermark());
}

TEST_CASE("a group of one grows to three: the joiners catch up and the group survives losing the first") {
  replica_group g({1});
  REQUIRE(g.elect() == 1);
  produce_some(g, 1, 5);
  g.start_joiner(2);
  g.start_joiner(3);
  g.set_target({1, 2, 3}, 1);
  REQUIRE(g.tick_until_settled(1) == raft::node_id{1});
  CHECK(g.at(1).raft().config().voters == ids{1, 2, 3});
  g.tick_all(3);
  const auto before = committed_bytes(g, 1);
  g.stop(1);
  const auto next = g.elect();
  CHECK(next != 1);
  const auto after = committed_bytes(g, next);  // a prefix: the new leader's term adds its own entry
  REQUIRE(after.size() >= before.size());
  CHECK(std::equal(before.begin(), before.end(), after.begin()));
  produce_some(g, next, 1);
}

TEST_CASE("a target changed mid-way wins over the old one, and a stale epoch is ignored") {
  replica_group g({1, 2, 3});
  const auto leader = g.elect();
  produce_some(g, leader, 3);
  const auto dead = other_than(leader);
  const auto kept = other_than(leader, dead);
  g.stop(dead);
  g.start_joiner(4);
  g.start_joiner(5);
  g.set_target(sorted({leader, kept, 4}), 1);
  // Until 4 is in the configuration (a learner, or already promoted).
  for (int i = 0; i < 50 && !g.at(leader).raft().config().contains(4); ++i) g.tick_all();
  REQUIRE(g.at(leader).raft().config().contains(4));
  const ids second = sorted({leader, kept, 5});
  g.set_target(second, 2);
  g.set_target(sorted({leader, kept, 4}), 1);  // late delivery of the old target: ignored
  const auto reporter = g.tick_until_settled(2);
  REQUIRE(reporter);
  CHECK(g.at(*reporter).raft().config().voters == second);
  CHECK_FALSE(g.at(*reporter).raft().config().contains(4));
  for (const auto& [id, epoch] : g.settled) CHECK(epoch == 2);
  g.tick_all(20);
  CHECK(g.at(*reporter).raft().config().voters == second);  // and it stays there
}

TEST_CASE("the leader is lost mid-change and the new leader finishes the move") {
  replica_group g({1, 2, 3});
  const auto leader = g.elect();
  produce_some(g, leader, 3);
  const auto leaving = other_than(leader);
  const auto kept = other_than(leader, leaving);
  g.start_joiner(4);
  const ids target = sorted({leader, kept, 4});
  g.set_target(target, 1);
  for (int i = 0; i < 50 && !g.at(leader).raft().config().contains(4); ++i) g.tick_all();
  REQUIRE(g.at(leader).raft().config().contains(4));
  REQUIRE(g.settled.empty());
  g.stop(leader);
  const auto reporter = g.tick_until_settled(1, 2000);
  REQUIRE(reporter);
  CHECK(*reporter != leader);
  CHECK(g.at(*reporter).raft().config().voters == target);  // the dead old leader stays: it is in the target
  CHECK_FALSE(g.at(*reporter).raft().config().contains(leaving));
  CHECK(leader_of(g, {kept, 4}) == *reporter);
  produce_some(g, *reporter, 1);
}

TEST_CASE("a leader hands leadership to the preferred replica once it is caught up, with none it keeps it") {
  replica_group g({1, 2, 3});
  const auto leader = g.elect();
  produce_some(g, leader, 2);
  g.tick_all(100);
  CHECK(g.at(leader).is_leader());  // no preferred replica (the static cluster): leadership stays

  const auto preferred = other_than(leader);
  g.set_target({preferred, leader, other_than(leader, preferred)}, 0);  // the first is the preferred leader
  g.tick_all(100);
  CHECK(g.at(preferred).is_leader());
  CHECK(g.at(preferred).raft().config().voters == ids{1, 2, 3});  // the same group
  produce_some(g, preferred, 1);
  g.tick_all(200);
  CHECK(g.at(preferred).is_leader());  // and it stays there
}
