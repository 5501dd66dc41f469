// Log replication: commit rule, stale leaders, backtracking, pipelining,
// batching, flow control.

#include <doctest/doctest.h>

#include "tests/raft/fixture.hpp"

using namespace herald::raft;
using namespace herald::raft::test;

TEST_CASE("a stale leader cannot commit and its uncommitted entries are replaced") {
  fixture c(3);
  c.elect(1);
  REQUIRE(c.propose(1, "committed"));
  c.pump();
  c.tick_all(2);
  const index_t committed = c[1].commit_index();

  // Node 1 is cut off but still believes it leads, for now.
  c.isolate(1);
  REQUIRE(c.propose(1, "doomed"));
  c.pump();
  CHECK(c[1].commit_index() == committed);

  // The majority elects a new leader and moves on.
  const node_id l = c.elect_other(1);
  REQUIRE(l != no_node);
  REQUIRE(c.propose(l, "new"));
  c.pump();
  // The old leader never commits its write.
  CHECK(c[1].commit_index() == committed);

  c.heal();
  c.tick_all(30);
  REQUIRE(c.leader() == l);
  for (node_id id : {1, 2, 3}) {
    CHECK(c.at(id).applied == std::vector<std::string>{"committed", "new"});
  }
}

TEST_CASE("entries of an earlier term commit only together with one of the current term") {
  // Figure 8's rule. Leader 1 (term 1) gets "old" onto node 2 only, then
  // node 2 leads term 2. The old entry is on a majority (2 and 3) before the
  // new leader's no-op is, but must not be committed by counting.
  options o;
  o.max_append_entries = 1;  // so the old entry and the no-op travel separately
  fixture c(3, o);
  c.elect(1);
  c.cut(1, 3);
  // Node 2 gets "old", but leader 1 never hears so: it stays uncommitted.
  c.drop = [](const message& m) { return m.from == 2 && m.to == 1; };
  REQUIRE(c.propose(1, "old"));  // index 2, term 1
  c.pump();
  c.drop = nullptr;
  REQUIRE(c[1].commit_index() == 1);
  REQUIRE(c[2].log().last_index() == 2);
  REQUIRE(c[3].log().last_index() == 1);
  c.isolate(1);
  // Deliver "old" to node 3, but no entry of the new term yet.
  c.mutate = [](message& m) {
    if (auto* ae = std::get_if<append_entries>(&m.body))
      std::erase_if(ae->entries, [](const entry& e) { return e.term >= 2; });
  };
  REQUIRE(c.elect_other(1) == 2);  // node 3 cannot win: its log is shorter
  REQUIRE(c[2].term() == 2);
  const index_t noop = c[2].log().last_index();
  REQUIRE(noop == 3);
  c.tick_all(5);
  REQUIRE(c[3].log().last_index() == 2);
  CHECK(c[2].progress_of(3)->match_index == 2);
  CHECK(c[2].commit_index() == 1);  // old entry on a majority, yet not committed
  c.mutate = nullptr;
  c.tick_all(5);
  CHECK(c[2].commit_index() == noop);  // with the no-op, both commit
}

TEST_CASE("conflicting followers are backtracked a term at a time") {
  // Nodes 1 and 2: 10 entries of term 1, then 50 of term 3. Node 3: the same
  // 10, then 50 of term 2 from a leader that never committed them. Walking
  // back one index per round trip would take 50; the hints take one.
  options o;
  o.pre_vote = false;
  fixture c(3, o);
  c.rewrite(1, {{10, 1}, {50, 3}}, {3, 1});
  c.rewrite(2, {{10, 1}, {50, 3}}, {3, 1});
  c.rewrite(3, {{10, 1}, {50, 2}}, {2, 3});
  c.elect(1);
  REQUIRE(c.leader() == node_id{1});
  c.tick_all(5);
  REQUIRE(c[3].log().last_index() == c[1].log().last_index());
  for (index_t i = 1; i <= c[1].log().last_index(); ++i) CHECK(c[3].log().term_at(i) == c[1].log().term_at(i));
  int rejections = 0;
  for (const auto& m : c.delivered())
    if (const auto* r = std::get_if<append_entries_response>(&m.body); r && m.from == 3 && !r->success) ++rejections;
  CHECK(rejections >= 1);
  CHECK(rejections <= 2);
  CHECK(c[1].commit_index() == 61);
}

TEST_CASE("AppendEntries are pipelined up to the in-flight window") {
  options o;
  o.max_append_entries = 1;
  o.max_inflight_msgs = 3;
  fixture c(2, o);
  c.elect(1);
  c.tick_all(2);  // node 2 is in replicate state now
  REQUIRE(c[1].progress_of(2)->st == progress::state::replicate);
  for (int i = 0; i < 10; ++i) c[1].propose(payload("e" + std::to_string(i)));
  ready r = c.at(1).core->take_ready();
  int appends = 0;
  for (const auto& m : r.messages)
    if (const auto* ae = std::get_if<append_entries>(&m.body); ae && !ae->entries.empty()) ++appends;
  CHECK(appends == 3);  // the window, not all 10
  CHECK(c[1].progress_of(2)->inflights.size() == 3);
}

TEST_CASE("the in-flight window is also bounded in bytes") {
  options o;
  o.max_append_entries = 1;
  o.max_inflight_msgs = 100;
  o.max_inflight_bytes = 1000;
  fixture c(2, o);
  c.elect(1);
  c.tick_all(2);
  for (int i = 0; i < 10; ++i) c[1].propose(payload(std::string(300, 'x')));
  c.at(1).core->take_ready();
  CHECK(c[1].progress_of(2)->inflights.size() == 4);  // 3 x 324 < 1000, the 4th crosses it
}

TEST_CASE("proposals between two readies travel in one batched AppendEntries") {
  fixture c(3);
  c.elect(1);
  c.tick_all(2);
  for (int i = 0; i < 5; ++i) c[1].propose(payload("b" + std::to_string(i)));
  ready r = c.at(1).core->take_ready();
  int appends = 0;
  for (const auto& m : r.messages)
    if (const auto* ae = std::get_if<append_entries>(&m.body)) {
      ++appends;
      CHECK(ae->entries.size() == 5);
    }
  CHECK(appends == 2);
}

TEST_CASE("batches are cut at max_append_bytes") {
  options o;
  o.max_append_bytes = 100;
  fixture c(2, o);
  c.elect(1);
  c.tick_all(2);
  for (int i = 0; i < 6; ++i) c[1].propose(payload(std::string(40, 'y')));  // 64 bytes each with overhead
  ready r = c.at(1).core->take_ready();
  for (const auto& m : r.messages)
    if (const auto* ae = std::get_if<append_entries>(&m.body)) CHECK(ae->entries.size() == 1);
}

TEST_CASE("a lost AppendEntries stalls the window only until the next probe") {
  options o;
  o.max_append_entries = 1;
  o.max_inflight_msgs = 2;
  fixture c(2, o);
  c.elect(1);
  c.tick_all(2);
  bool dropped = false;
  c.drop = [&](const message& m) {
    if (!dropped && std::holds_alternative<append_entries>(m.body) &&
        !std::get<append_entries>(m.body).entries.empty()) {
      dropped = true;
      return true;
    }
    return false;
  };
  for (int i = 0; i < 6; ++i) c.propose(1, "p" + std::to_string(i));
  c.tick_all(15);
  CHECK(dropped);
  CHECK(c[2].log().last_index() == c[1].log().last_index());
  CHECK(c[1].commit_index() == c[1].log().last_index());
}

TEST_CASE("proposals are refused past the uncommitted byte limit") {
  options o;
  o.max_uncommitted_bytes = 100;
  fixture c(3, o);
  c.elect(1);
  c.isolate(1);  // nothing commits
  CHECK(c.propose(1, std::string(60, 'a')));
  CHECK(c.propose(1, std::string(60, 'b')).code == errc::busy);
}

TEST_CASE("followers redirect proposals to the leader") {
  fixture c(3);
  c.elect(1);
  auto r = c.propose(2, "x");
  CHECK(r.code == errc::not_leader);
  CHECK(r.leader_hint == 1);
}
