// Snapshots: followers behind the log start get the snapshot in chunks.

#include <doctest/doctest.h>

#include "tests/raft/fixture.hpp"

using namespace herald::raft;
using namespace herald::raft::test;

namespace {

// Leader 1 writes `n` entries while node 3 is cut off, then compacts its log.
void leave_node3_behind(fixture& c, int n) {
  c.elect(1);
  c.tick_all(2);
  c.isolate(3);
  for (int i = 0; i < n; ++i) c.propose(1, "w" + std::to_string(i));
  c.pump();
  c.tick_all(2);
  c.compact(1);
  REQUIRE(c[1].log().first_index() > c[3].log().last_index() + 1);
}

}  // namespace

TEST_CASE("a follower behind the log start is sent the snapshot in chunks and catches up") {
  options o;
  o.snapshot_chunk_bytes = 16;
  fixture c(3, o);
  leave_node3_behind(c, 20);
  c.heal();
  c.tick_all(10);
  const int chunks = c.count_delivered<install_snapshot>(1, 3);
  CHECK(chunks >= 4);  // 20 entries of 2-3 bytes plus newlines, 16 bytes a chunk
  CHECK(c.at(3).disk->snapshot().index == c[1].log().snapshot().index);
  CHECK(c[3].log().first_index() == c[1].log().first_index());
  CHECK(c[3].commit_index() == c[1].commit_index());
  CHECK(c.at(3).applied == c.at(1).applied);
  // It replicates normally afterwards.
  c.propose(1, "after");
  c.tick_all(3);
  CHECK(c.at(3).applied.back() == "after");
}

TEST_CASE("a lost snapshot chunk is resent") {
  options o;
  o.snapshot_chunk_bytes = 8;
  fixture c(3, o);
  leave_node3_behind(c, 20);
  int seen = 0;
  c.drop = [&](const message& m) {
    return std::holds_alternative<install_snapshot>(m.body) && ++seen == 3;  // lose the third chunk
  };
  c.heal();
  c.tick_all(20);
  CHECK(seen > 3);
  CHECK(c.at(3).applied == c.at(1).applied);
}

TEST_CASE("snapshot chunks are pipelined within the byte window") {
  options o;
  o.snapshot_chunk_bytes = 8;
  o.max_inflight_bytes = 32;
  fixture c(3, o);
  leave_node3_behind(c, 20);
  c.heal();
  c.drop = [](const message& m) { return std::holds_alternative<install_snapshot_response>(m.body); };
  c.tick(1);
  c.pump();
  // No acknowledgements come back, so at most the window's worth is out.
  CHECK(c.count_delivered<install_snapshot>(1, 3) == 4);
}

TEST_CASE("installing a snapshot replaces a conflicting log") {
  options o;
  o.pre_vote = false;
  fixture c(3, o);
  c.rewrite(3, {{5, 1}, {30, 2}}, {2, 3});  // entries no one else has
  c.rewrite(1, {{5, 1}}, {1, 1});
  c.rewrite(2, {{5, 1}}, {1, 1});
  c.isolate(3);
  c.elect(1);
  for (int i = 0; i < 40; ++i) c.propose(1, "n" + std::to_string(i));
  c.pump();
  c.tick_all(2);
  c.compact(1);
  c.heal();
  c.tick_all(20);
  CHECK(c[3].log().last_index() == c[1].log().last_index());
  CHECK(c[3].log().last_term() == c[1].term());
  CHECK(c.at(3).applied == c.at(1).applied);
}

TEST_CASE("a stale or duplicated snapshot does not roll a follower back") {
  fixture c(3);
  leave_node3_behind(c, 10);
  c.heal();
  c.tick_all(10);
  const index_t last = c[3].log().last_index();
  // Replay an old snapshot chunk: the follower already covers it.
  const snapshot_meta old = c.at(1).disk->snapshot();
  message m{1, 3, c[1].term(), install_snapshot{old, 0, bytes{'x'}, true}};
  c[3].step(m);
  c.drain(3);
  CHECK(c[3].log().last_index() == last);
  CHECK(c.at(3).disk->last_index() == last);
}
