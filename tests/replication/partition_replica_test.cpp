// replication::partition_replica: one partition replica's logic without
// actors (partition_replica.hpp), driven through replica_harness.hpp.
#include <doctest/doctest.h>

#include "storage/fault_injection.hpp"
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

namespace {

namespace fi = storage::fault_injection;

std::shared_ptr<fi::injector> model_injector() {
  return std::make_shared<fi::injector>(fi::injector_config{1, /*real_syncs=*/false});
}

raft::node_id other_than(raft::node_id a, raft::node_id b = raft::no_node) {
  for (raft::node_id id : {1, 2, 3})
    if (id != a && id != b) return id;
  return raft::no_node;
}

}  // namespace

// Issue 8 item 10: under fsync=interval a failed fsync cuts the log back to
// its last good sync; the Raft store and core kept counting the cut entries,
// so followers' acks could commit entries the leader's log no longer held and
// the high watermark ran past the log's end.
TEST_CASE("a failed interval fsync stops the replica instead of committing entries its log cut") {
  auto inj = model_injector();
  fi::scoped_install installed(inj);
  cluster::topic_config cfg;
  cfg.fsync = cluster::fsync_policy::interval;
  replica_group g({1, 2, 3}, cfg);
  const auto leader = g.elect();
  REQUIRE(g.request(leader, produce_request("synced"))->code == ErrorCode::NONE);
  g.poke(leader, [](auto& r) { r.sync_tick(); });
  REQUIRE(g.fatal.empty());

  const auto a = other_than(leader), b = other_than(leader, a);
  g.isolate(a);
  g.isolate(b);
  CHECK_FALSE(g.request(leader, produce_request("unsynced", schema::Acks::ALL, 5)));
  const auto waiting = g.last_request();
  inj->add(fi::fault(fi::op::sync).on_paths_containing(".log"));
  g.poke(leader, [](auto& r) { r.sync_tick(); });
  REQUIRE(g.at(leader).store().log().log_end_offset() == g.at(leader).store().log().durable_end_offset());

  g.heal();
  g.settle();
  const auto& store = g.at(leader).store();
  CHECK(g.at(leader).high_watermark() <= store.log().log_end_offset());
  CHECK(g.failed(leader));
  const auto answer = g.answer_of(waiting);
  REQUIRE(answer);
  CHECK(answer->code == ErrorCode::STORAGE_ERROR);

  // The restarted replica's store is rebuilt from what the log holds.
  inj->clear_faults();
  g.stop(leader);
  g.start(leader);
  CHECK(g.at(leader).store().end_offset_of(g.at(leader).store().last_index()) ==
        g.at(leader).store().log().log_end_offset());
}

// Issue 8 item 11: compaction saved the Raft snapshot, then removing the log
// prefix failed; the store had moved but the core had not been told, so a
// lagging follower needing entries below the new snapshot stalled (the core
// asked the store for entries it no longer had).
TEST_CASE("a retention whose prefix removal fails still tells the core, and a lagging follower catches up") {
  auto inj = model_injector();
  fi::scoped_install installed(inj);
  cluster::topic_config cfg;
  cfg.segment_bytes = 4096;
  cfg.retention_bytes = 8192;
  replica_group g({1, 2, 3}, cfg);
  const auto leader = g.elect();
  const auto lagging = other_than(leader);
  g.isolate(lagging);
  for (int i = 0; i < 60; ++i)
    REQUIRE(g.request(leader, produce_request(std::string(200, 'v'), schema::Acks::ALL))->code == ErrorCode::NONE);
  inj->add(fi::fault(fi::op::write).on_paths_containing((g.dir() / std::to_string(leader) / "log_start").string()));
  const auto snap_before = g.at(leader).store().snapshot().index;
  g.poke(leader, [](auto& r) { r.apply_retention(0); });
  const auto snap = g.at(leader).store().snapshot().index;
  REQUIRE(snap > snap_before);
  CHECK(g.at(leader).raft().log().first_index() == snap + 1);
  inj->clear_faults();

  g.heal();
  g.tick_all(30);
  CHECK(g.fatal.empty());
  CHECK(g.at(lagging).high_watermark() == g.at(leader).high_watermark());
  // The next round finishes the removal.
  g.poke(leader, [](auto& r) { r.apply_retention(0); });
  CHECK(g.at(leader).log_start_offset() == g.at(leader).store().end_offset_of(snap));
}

// A write that fails for want of space (before the node's reserve check saw
// the disk fill) is answered diskFull, not a generic storage error.
TEST_CASE("a produce whose append fails with ENOSPC is answered diskFull") {
  auto inj = model_injector();
  fi::scoped_install installed(inj);
  replica_group g({1}, cluster::topic_config{});
  const auto leader = g.elect();
  REQUIRE(g.request(leader, produce_request("fits"))->code == ErrorCode::NONE);
  inj->add(fi::fault(fi::op::write, ENOSPC).forever().on_paths_containing(".log"));
  auto answer = g.request(leader, produce_request("does not fit"));
  if (!answer) answer = g.answer_of(g.last_request());
  REQUIRE(answer);
  CHECK(answer->code == ErrorCode::DISK_FULL);
  CHECK(g.failed(leader));
}

// Issue 8 item 23: a replica whose directory vanished came back as a founder
// at term 1 with no vote, and could vote a second time in a term it had
// already voted in.
TEST_CASE("a known replica whose directory is missing does not vote twice in a term, and rejoins") {
  replica_group g({1, 2, 3});
  const auto leader = g.elect();
  const auto lost = other_than(leader);
  const auto third = other_than(leader, lost);
  REQUIRE(g.request(leader, produce_request("before"))->code == ErrorCode::NONE);
  const auto term = g.at(lost).raft().term();
  const auto voted = g.at(lost).raft().voted_for();
  REQUIRE(voted != raft::no_node);  // it voted in this term (for the leader)

  g.stop(lost);
  std::filesystem::remove_all(g.dir() / std::to_string(lost));
  auto settings = g.settings_of(lost);
  settings.origin = replication::replica_origin::must_exist;
  g.start(lost, settings);
  CHECK(g.at(lost).store().last_index() == 0);  // not bootstrapped as a founder

  // Another candidate asks for its vote in the same term.
  const auto other = voted == leader ? third : leader;
  raft::message ask{other, lost, term, raft::request_vote{100, term, false, false}};
  g.at(lost).on_raft(ask);
  g.at(lost).process_readies();
  auto out = g.at(lost).take_output();
  for (const auto& m : out.messages)
    if (const auto* r = std::get_if<raft::request_vote_response>(&m.body)) CHECK_FALSE(r->vote_granted);

  // It follows the leader, catches up, and votes again once it heard everyone.
  g.tick_all(20);
  CHECK(g.at(lost).high_watermark() == g.at(leader).high_watermark());
  g.stop(leader);
  const auto next = g.elect();
  CHECK(next != leader);
  REQUIRE(g.request(next, produce_request("after"))->code == ErrorCode::NONE);
  CHECK_FALSE(g.at(lost).raft().vote_unknown());
  CHECK_FALSE(std::filesystem::exists(g.dir() / std::to_string(lost) / "vote_unknown"));
}

// Issue 8 item 24: a produce taken after a node won its election inside
// step() but before the ready was processed was failed with notLeader,
// though its entry (of the new term) may commit.
TEST_CASE("a produce taken right after winning inside step() is not failed notLeader") {
  replica_group g({1, 2, 3});
  auto& n1 = g.at(1);
  std::vector<raft::message> inbox;  // for node 1
  auto deliver_to_others = [&](const std::vector<raft::message>& ms) {
    for (const auto& m : ms) {
      if (m.to == 1) continue;
      g.at(m.to).on_raft(m);
      g.at(m.to).process_readies();
      for (const auto& reply : g.at(m.to).take_output().messages)
        if (reply.to == 1) inbox.push_back(reply);
    }
  };
  // Node 1 campaigns (pre-vote, then the real vote) while 2 and 3 stay quiet.
  for (int i = 0; i < 100 && n1.raft().state() == raft::role::follower; ++i) {
    n1.tick();
    deliver_to_others(n1.take_output().messages);
  }
  REQUIRE(n1.raft().state() == raft::role::pre_candidate);
  for (const auto& m : std::exchange(inbox, {})) n1.on_raft(m);
  n1.process_readies();
  REQUIRE(n1.raft().state() == raft::role::candidate);
  deliver_to_others(n1.take_output().messages);
  REQUIRE_FALSE(inbox.empty());
  // The granted votes arrive; it wins inside step(), no ready taken yet.
  for (const auto& m : std::exchange(inbox, {})) n1.on_raft(m);
  REQUIRE(n1.is_leader());
  n1.on_request(777, produce_request("queued while winning"));
  n1.process_readies();
  auto out = n1.take_output();
  for (const auto& [id, bytes] : out.answers)
    if (id == 777) CHECK(herald::test::decode_reply(bytes).code != ErrorCode::NOT_LEADER);
  // And it commits: answered with success.
  std::optional<herald::test::reply> answer;
  for (int round = 0; round < 10 && !answer; ++round) {
    deliver_to_others(out.messages);
    for (const auto& m : std::exchange(inbox, {})) n1.on_raft(m);
    n1.process_readies();
    out = n1.take_output();
    for (const auto& [id, bytes] : out.answers)
      if (id == 777) answer = herald::test::decode_reply(bytes);
  }
  REQUIRE(answer);
  CHECK(answer->code == ErrorCode::NONE);
}

// Issue 8 item 22: a restarted replica's high watermark fell back to its
// snapshot's; it answered fetches above it with offsetOutOfRange, and the
// consumer reset to the earliest offset and re-read the partition.
TEST_CASE("a restarted replica answers not yet, never out of range, until it knows the commit index") {
  replica_group g({1, 2, 3});
  const auto leader = g.elect();
  const auto follower = other_than(leader);
  for (int i = 0; i < 5; ++i) REQUIRE(g.request(leader, produce_request("r"))->code == ErrorCode::NONE);
  g.tick_all(2);
  const auto hw = static_cast<std::int64_t>(g.at(leader).high_watermark());
  REQUIRE(g.at(follower).high_watermark() == static_cast<std::uint64_t>(hw));

  g.stop(follower);
  auto settings = g.settings_of(follower);
  settings.origin = replication::replica_origin::must_exist;
  g.start(follower, settings);
  REQUIRE(g.at(follower).high_watermark() < static_cast<std::uint64_t>(hw));  // snapshot only
  CHECK_FALSE(g.at(follower).commit_known());
  auto past = g.request(follower, fetch_request(hw - 1));
  REQUIRE(past);
  CHECK(past->code == ErrorCode::PARTITION_UNAVAILABLE);
  auto latest = g.request(follower, latest_request());
  REQUIRE(latest);
  CHECK(latest->code == ErrorCode::PARTITION_UNAVAILABLE);
  CHECK_FALSE(g.request(follower, fetch_request(hw - 1, 1000)));  // a long poll parks
  const auto parked = g.last_request();

  g.tick_all(2);  // the leader's heartbeat tells it the commit index
  CHECK(g.at(follower).commit_known());
  const auto woken = g.answer_of(parked);
  REQUIRE(woken);
  CHECK(woken->code == ErrorCode::NONE);
  CHECK(woken->record_bytes > 0);
  latest = g.request(follower, latest_request());
  REQUIRE(latest);
  CHECK(latest->list_offset == hw);

  // Out of range stays for what no replica can serve.
  const auto end = static_cast<std::int64_t>(g.at(leader).store().log().log_end_offset());
  CHECK(g.request(leader, fetch_request(end + 1))->code == ErrorCode::OFFSET_OUT_OF_RANGE);
  CHECK(g.request(leader, fetch_request(-1))->code == ErrorCode::OFFSET_OUT_OF_RANGE);
}

// What `herald cluster status` shows per follower: the leader's Raft
// progress in records, and how long since a follower last matched its log.
TEST_CASE("the leader reports each follower's match and lag in records, and how long a cut-off one is behind") {
  replica_group g({1, 2, 3});
  const auto leader = g.elect();
  const auto cut = other_than(leader);
  const auto live = raft::node_id{6} - leader - cut;
  CHECK(g.at(cut).followers().empty());  // only the leader knows
  g.tick_all(2);  // heartbeat replies: everyone matches the leader's log end
  auto followers = g.at(leader).followers();
  REQUIRE(followers.size() == 2);
  for (const auto& f : followers) {
    CAPTURE(f.node);
    CHECK(f.lag == 0);
    CHECK(f.match_offset == static_cast<std::int64_t>(g.at(leader).store().log().log_end_offset()));
    CHECK(f.behind_ms >= 0);
    CHECK(f.behind_ms <= 2 * 50);
    CHECK(f.state == raft::progress::state::replicate);
    CHECK_FALSE(f.learner);
  }

  g.isolate(cut);
  const auto end_before = g.at(leader).store().log().log_end_offset();
  for (int i = 0; i < 5; ++i)
    REQUIRE(g.request(leader, produce_request("v", schema::Acks::ALL, 3))->code == ErrorCode::NONE);
  g.tick_all(20);  // 20 ticks of 50 ms: 1 s without a reply from `cut`
  followers = g.at(leader).followers();
  REQUIRE(followers.size() == 2);
  for (const auto& f : followers) {
    if (f.node == cut) {
      CHECK(f.match_offset == static_cast<std::int64_t>(end_before));
      CHECK(f.lag == 15);  // 5 batches of 3 records
      CHECK(f.behind_ms >= 1000);
    } else {
      CHECK(f.node == live);
      CHECK(f.lag == 0);
      CHECK(f.behind_ms <= 2 * 50);
    }
  }

  g.heal();
  g.tick_all(5);
  for (const auto& f : g.at(leader).followers()) {
    CAPTURE(f.node);
    CHECK(f.lag == 0);
    CHECK(f.behind_ms <= 2 * 50);
  }
}

TEST_CASE("a quiet group's followers count as caught up, and one whose node is lost is reported disconnected") {
  replica_group g({1, 2, 3});
  for (raft::node_id id : {1, 2, 3}) {
    auto s = g.settings_of(id);
    s.quiesce = true;
    g.stop(id);
    g.start(id, s);
  }
  const auto leader = g.elect();
  REQUIRE(g.request(leader, produce_request("v"))->code == ErrorCode::NONE);
  for (int i = 0; i < 100 && !g.at(leader).quiesced(); ++i) g.tick_all();
  REQUIRE(g.at(leader).quiesced());
  // The harness keeps ticking (a real host does not tick a quiet group); no
  // heartbeat replies come, yet nobody fell behind.
  g.tick_all(200);
  REQUIRE(g.at(leader).quiesced());
  for (const auto& f : g.at(leader).followers()) {
    CAPTURE(f.node);
    CHECK(f.behind_ms == 0);
    CHECK(f.connected);
  }
  const auto lost = other_than(leader);
  g.isolate(lost);
  g.poke(leader, [&](auto& r) { r.on_node_link(lost, false); });
  for (const auto& f : g.at(leader).followers())
    CHECK(f.connected == (f.node != lost));
  g.heal();
  g.poke(leader, [&](auto& r) { r.on_node_link(lost, true); });
  g.tick_all(3);
  for (const auto& f : g.at(leader).followers()) CHECK(f.connected);
}
