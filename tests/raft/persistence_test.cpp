// Persist before send, the ready hand-off, restarts.

#include <doctest/doctest.h>

#include "tests/raft/fixture.hpp"

using namespace herald::raft;
using namespace herald::raft::test;

namespace {

template <class Body>
int count(const std::vector<message>& ms) {
  int n = 0;
  for (const auto& m : ms) n += std::holds_alternative<Body>(m.body);
  return n;
}

}  // namespace

TEST_CASE("a candidate's vote requests wait for its term and vote to be durable") {
  options o;
  o.pre_vote = false;
  mem_store disk(snapshot_meta{0, 0, configuration{{1, 2, 3}, {}}});
  o.id = 1;
  node n(o, disk, disk.durable());
  for (int i = 0; i < 30 && n.state() == role::follower; ++i) n.tick();
  REQUIRE(n.state() == role::candidate);
  ready r = n.take_ready();
  REQUIRE(r.hard);
  CHECK(*r.hard == hard_state{1, 1});
  CHECK(count<request_vote>(r.messages) == 0);
  CHECK(count<request_vote>(r.messages_after_persist) == 2);
}

TEST_CASE("pre-vote requests go out at once: they depend on nothing durable") {
  mem_store disk(snapshot_meta{0, 0, configuration{{1, 2, 3}, {}}});
  options o;
  o.id = 1;
  node n(o, disk, disk.durable());
  for (int i = 0; i < 30 && n.state() == role::follower; ++i) n.tick();
  REQUIRE(n.state() == role::pre_candidate);
  ready r = n.take_ready();
  CHECK(!r.hard);
  CHECK(count<request_vote>(r.messages) == 2);
}

TEST_CASE("a follower acknowledges entries only after persisting them") {
  mem_store disk(snapshot_meta{0, 0, configuration{{1, 2}, {}}});
  options o;
  o.id = 2;
  node n(o, disk, disk.durable());
  append_entries ae{0, 0, {entry{1, 1, entry_kind::normal, payload("a")}}, 0};
  n.step(message{1, 2, 1, ae});
  ready r = n.take_ready();
  CHECK(r.entries.size() == 1);
  CHECK(count<append_entries_response>(r.messages) == 0);
  CHECK(count<append_entries_response>(r.messages_after_persist) == 1);
}

TEST_CASE("a leader sends entries to followers while persisting them itself") {
  fixture c(3);
  c.elect(1);
  c.cut(1, 3);
  c[1].propose(payload("a"));
  ready r = c.at(1).core->take_ready();
  REQUIRE(r.entries.size() == 1);
  CHECK(count<append_entries>(r.messages) == 2);  // not waiting for the leader's own fsync
  for (auto& m : r.messages) c.queue().push_back(m);
  c.pump();
  // Node 2 has it durably; the leader does not yet, so no majority.
  CHECK(c[1].commit_index() == 1);
  // While the leader's ready is outstanding, only messages come out.
  c[1].propose(payload("b"));
  ready only_messages = c.at(1).core->take_ready();
  CHECK(!only_messages.needs_persist());
  CHECK(!only_messages.commit_index);
  c.at(1).disk->persist(r);
  c[1].on_persisted();
  CHECK(c[1].commit_index() == 2);
}

TEST_CASE("a follower replacing a conflicting suffix tells the host where to cut") {
  mem_store disk(snapshot_meta{0, 0, configuration{{1, 2, 3}, {}}});
  options o;
  o.id = 2;
  node n(o, disk, disk.durable());
  // Term 1 leader 1 sends entries 1..3.
  n.step(message{1, 2, 1,
                 append_entries{0, 0,
                                {entry{1, 1, entry_kind::normal, payload("a")},
                                 entry{2, 1, entry_kind::normal, payload("b")},
                                 entry{3, 1, entry_kind::normal, payload("c")}},
                                1}});
  ready r1 = n.take_ready();
  disk.persist(r1);
  n.on_persisted();
  // Term 2 leader 3 has a different entry at 2.
  n.step(message{3, 2, 2, append_entries{1, 1, {entry{2, 2, entry_kind::normal, payload("B")}}, 1}});
  ready r2 = n.take_ready();
  REQUIRE(r2.truncate_from);
  CHECK(*r2.truncate_from == 2);
  REQUIRE(r2.entries.size() == 1);
  CHECK(r2.entries[0].term == 2);
  disk.persist(r2);
  n.on_persisted();
  CHECK(disk.last_index() == 2);
  CHECK(disk.term_at(2) == 2);
}

TEST_CASE("an old AppendEntries never truncates a longer matching log") {
  mem_store disk(snapshot_meta{0, 0, configuration{{1, 2}, {}}});
  options o;
  o.id = 2;
  node n(o, disk, disk.durable());
  const entry a{1, 1, entry_kind::normal, payload("a")}, b{2, 1, entry_kind::normal, payload("b")};
  n.step(message{1, 2, 1, append_entries{0, 0, {a, b}, 0}});
  n.step(message{1, 2, 1, append_entries{0, 0, {a}, 0}});  // delayed duplicate of an earlier send
  CHECK(n.log().last_index() == 2);
}

TEST_CASE("a restarted node keeps its log and term and rediscovers the commit index") {
  fixture c(3);
  c.elect(1);
  REQUIRE(c.propose(1, "a"));
  c.pump();
  c.tick_all(2);
  const term_t term = c[2].term();
  c.crash(2);
  c.restart(2);
  CHECK(c[2].term() == term);
  CHECK(c[2].log().last_index() == 2);
  CHECK(c[2].commit_index() == 0);  // only the snapshot is known committed
  c.tick_all(3);
  CHECK(c[2].commit_index() == 2);
  CHECK(c.at(2).applied == std::vector<std::string>{"a"});
}

TEST_CASE("a torn persist that kept entries of a newer term raises the term on restart") {
  mem_store disk(snapshot_meta{0, 0, configuration{{1, 2, 3}, {}}});
  disk.set_hard_state({1, 1});
  disk.append({entry{1, 3, entry_kind::normal, payload("x")}});
  options o;
  o.id = 2;
  node n(o, disk, disk.durable());
  CHECK(n.term() == 3);
  CHECK(n.voted_for() == no_node);
  ready r = n.take_ready();
  REQUIRE(r.hard);  // and the corrected term is persisted
  CHECK(r.hard->term == 3);
}

TEST_CASE("malformed messages are ignored") {
  mem_store disk(snapshot_meta{0, 0, configuration{{1, 2}, {}}});
  options o;
  o.id = 2;
  node n(o, disk, disk.durable());
  // A gap in the entries.
  n.step(message{1, 2, 1, append_entries{0, 0, {entry{2, 1, entry_kind::normal, payload("a")}}, 0}});
  // An entry from a later term than the sender's.
  n.step(message{1, 2, 1, append_entries{0, 0, {entry{1, 5, entry_kind::normal, payload("a")}}, 0}});
  // A configuration entry that does not decode.
  n.step(message{1, 2, 1, append_entries{0, 0, {entry{1, 1, entry_kind::configuration, payload("??")}}, 0}});
  // Addressed to someone else, or from nobody.
  n.step(message{1, 3, 1, append_entries{0, 0, {entry{1, 1, entry_kind::normal, payload("a")}}, 0}});
  n.step(message{0, 2, 1, append_entries{0, 0, {entry{1, 1, entry_kind::normal, payload("a")}}, 0}});
  CHECK(n.log().last_index() == 0);
}

// Issue 8 item 23, in the core: durable_state::vote_unknown.
TEST_CASE("a node whose vote is unknown neither votes nor campaigns until every other voter has spoken") {
  mem_store disk(snapshot_meta{0, 0, configuration{{1, 2, 3}, {}}});
  options o;
  o.id = 1;
  o.check_quorum = false;  // no leader lease: the last check asks right after a heartbeat
  durable_state ds = disk.durable();
  ds.vote_unknown = true;
  node n(o, disk, ds);
  for (int i = 0; i < 100; ++i) n.tick();
  CHECK(n.state() == role::follower);
  CHECK(count<request_vote>(n.take_ready().messages) == 0);

  auto vote_granted = [&](node_id from, term_t term) {
    n.step(message{from, 1, term, request_vote{10, term, false, false}});
    ready r = n.take_ready();
    if (r.needs_persist()) n.on_persisted();
    for (const auto& m : r.messages_after_persist)
      if (const auto* v = std::get_if<request_vote_response>(&m.body)) return v->vote_granted;
    return false;
  };
  CHECK_FALSE(vote_granted(2, 5));  // it may have voted for 3 in term 5 before it lost its state
  CHECK(n.vote_unknown());

  // Node 3 speaks (a heartbeat of term 6): now every term it could have
  // voted in is at most 6; it takes term 6 with its vote spent.
  n.step(message{3, 1, 6, append_entries{0, 0, {}, 0}});
  CHECK_FALSE(n.vote_unknown());
  ready r = n.take_ready();
  REQUIRE(r.hard);
  CHECK(*r.hard == hard_state{6, 1});
  CHECK(r.vote_known);
  n.on_persisted();
  CHECK_FALSE(vote_granted(2, 6));
  CHECK(vote_granted(2, 7));
}
