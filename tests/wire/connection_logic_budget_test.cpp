// The connection logic of the framed listener (actors/connection_logic.hpp)
// on a fake clock, against the broker-wide byte budget it shares with every
// connection: what counts in it, who reads while it is over, fetch reserves,
// and which connection is ended when it stays full.

#include "connection_logic_fixture.hpp"

using namespace herald;
using namespace herald::test_wire;

TEST_CASE("the broker-wide budget counts partial frames and unwritten responses too") {
  fixture a;
  a.budget = std::make_shared<queued_bytes_budget>(10'000);
  a.start();
  a.handshake();
  fixture b;
  b.budget = a.budget;
  b.start();
  b.handshake();
  a.send(partial_frame(12'000));
  b.tick(t0 + milliseconds{1});
  CHECK(a.budget->over());
  CHECK_FALSE(a.logic->want_read());
  CHECK(b.logic->want_read());  // b holds nothing: it may still read
  a.logic.reset();
  CHECK(a.budget->used() == 0);
  b.tick(t0 + milliseconds{2});
  CHECK(b.logic->want_read());

  // An unread response holds the budget until written.
  auto req = metadata_request();
  b.send(frame_of(frame_kind::request, 1, req));
  connection_logic::actions r;
  b.logic->on_response(1, req.size(), std::vector<char>(20'000, 0), 0, t0, r);
  CHECK(a.budget->over());
  b.logic->on_written(r.write.size(), t0, sink());
  CHECK_FALSE(a.budget->over());
}

TEST_CASE("a partial frame times out while the broker-wide budget stops reading (it may be what fills it)") {
  fixture fx;
  fx.limits.frame_timeout = milliseconds{500};
  fx.budget = std::make_shared<queued_bytes_budget>(1'000);
  fx.start();
  fx.handshake();
  fx.send(partial_frame(2'000));
  CHECK_FALSE(fx.logic->want_read());
  auto a = fx.tick(t0 + milliseconds{500});
  CHECK(a.close);
  // Its bytes leave the budget with the goodbye (only the unwritten goodbye remains).
  CHECK(fx.budget->used() == fx.logic->unwritten_bytes());
}

TEST_CASE("fetches past the connection's cap wait unforwarded until responses drain (a client that never reads)") {
  fixture fx;
  fx.limits.max_inflight_bytes = 10'000;
  fx.start();
  fx.handshake();
  auto req = fetch_request(4'000);
  std::vector<char> bytes;
  for (std::uint64_t c = 1; c <= 5; ++c) {
    auto f = frame_of(frame_kind::request, c, req);
    bytes.insert(bytes.end(), f.begin(), f.end());
  }
  auto a = fx.send(bytes);
  // Each fetch may bring 4000 bytes: two fit under 10000, the rest wait.
  REQUIRE(a.requests.size() == 2);
  CHECK(a.requests[0].reserve == 4'000);
  CHECK(fx.logic->inflight_requests() == 5);
  // A response that is not written keeps the others waiting.
  connection_logic::actions r;
  fx.logic->on_response(1, req.size(), std::vector<char>(4'000, 0), 0, t0, r, 4'000);
  CHECK(r.requests.empty());
  connection_logic::actions w;
  fx.logic->on_written(r.write.size(), t0, w);
  REQUIRE(w.requests.size() == 1);
  CHECK(w.requests[0].correlation == 3);
}

TEST_CASE("while the broker-wide budget is over, requests already read wait unforwarded") {
  fixture a;
  a.budget = std::make_shared<queued_bytes_budget>(5'000);
  a.start();
  a.handshake();
  fixture b;
  b.budget = a.budget;
  b.start();
  b.handshake();
  // b holds an unwritten response that fills the budget.
  auto req = metadata_request();
  b.send(frame_of(frame_kind::request, 1, req));
  connection_logic::actions r;
  b.logic->on_response(1, req.size(), std::vector<char>(6'000, 0), 0, t0, r);
  CHECK(a.budget->over());
  auto two = frame_of(frame_kind::request, 8, req);
  auto nine = frame_of(frame_kind::request, 9, req);
  two.insert(two.end(), nine.begin(), nine.end());
  auto sent = a.send(two);
  REQUIRE(sent.requests.size() == 1);  // a had none out: its first goes, the second waits
  CHECK(sent.requests[0].correlation == 8);
  b.logic->on_written(r.write.size(), t0, sink());
  auto t = a.tick(t0 + milliseconds{1});
  REQUIRE(t.requests.size() == 1);
  CHECK(t.requests[0].correlation == 9);
}

TEST_CASE("a forwarded fetch's response reserve counts in the broker-wide budget") {
  fixture fx;
  fx.budget = std::make_shared<queued_bytes_budget>(10'000);
  fx.start();
  fx.handshake();
  auto req = fetch_request(4'000);
  std::vector<char> bytes;
  for (std::uint64_t c = 1; c <= 4; ++c) {
    auto f = frame_of(frame_kind::request, c, req);
    bytes.insert(bytes.end(), f.begin(), f.end());
  }
  auto a = fx.send(bytes);
  CHECK(a.requests.size() == 3);  // the third takes the budget over; the fourth waits
  CHECK(fx.budget->over());
  CHECK_FALSE(fx.logic->want_read());
  connection_logic::actions r;
  fx.logic->on_response(1, req.size(), {}, 0, t0, r, 4'000);
  fx.logic->on_written(r.write.size(), t0, r);
  REQUIRE(r.requests.size() == 1);
  CHECK(r.requests[0].correlation == 4);
}

TEST_CASE("over the broker-wide budget a connection that holds nothing still reads and gets one request served") {
  fixture hog;
  hog.budget = std::make_shared<queued_bytes_budget>(10'000);
  hog.start();
  hog.handshake();
  fixture normal;
  normal.budget = hog.budget;
  normal.start();
  normal.handshake();
  hog.send(partial_frame(12'000));
  CHECK(hog.budget->over());
  CHECK_FALSE(hog.logic->want_read());
  normal.tick(t0 + milliseconds{1});
  CHECK(normal.logic->want_read());
  auto req = metadata_request();
  auto a = normal.send(frame_of(frame_kind::request, 5, req), t0);
  REQUIRE(a.requests.size() == 1);
  // Now it holds a request: it waits like everyone else until under.
  CHECK_FALSE(normal.logic->want_read());
  auto b = normal.send(frame_of(frame_kind::request, 6, req));
  CHECK(b.requests.empty());
}

TEST_CASE("answered but unread responses keep further fetches waiting: no trickle past the cap") {
  fixture fx;
  fx.limits.max_inflight_bytes = 10'000;
  fx.start();
  fx.handshake();
  auto req = fetch_request(4'000);
  std::vector<char> bytes;
  for (std::uint64_t c = 1; c <= 4; ++c) {
    auto f = frame_of(frame_kind::request, c, req);
    bytes.insert(bytes.end(), f.begin(), f.end());
  }
  REQUIRE(fx.send(bytes).requests.size() == 2);
  connection_logic::actions r;
  fx.logic->on_response(1, req.size(), std::vector<char>(6'000, 0), 0, t0, r, 4'000);
  fx.logic->on_response(2, req.size(), std::vector<char>(6'000, 0), 0, t0, r, 4'000);
  // Nothing is out, but 12000 response bytes are unwritten: the rest waits.
  CHECK(r.requests.empty());
  fx.logic->on_written(r.write.size(), t0, r);
  CHECK(r.requests.size() == 2);
}

TEST_CASE("budget full past the stall grace while others wait: the largest holder without progress gets a goodbye") {
  auto budget = std::make_shared<queued_bytes_budget>(10'000, milliseconds{1000});
  fixture hog;
  hog.budget = budget;
  hog.start();
  hog.handshake();
  fixture normal;
  normal.budget = budget;
  normal.start();
  normal.handshake();
  start_partial_frame(hog, 12'000);
  REQUIRE(budget->over());
  // The normal client's request is served (it had none out), then it waits
  // on the budget like every holder.
  auto req = metadata_request();
  REQUIRE(normal.send(frame_of(frame_kind::request, 5, req), t0).requests.size() == 1);
  CHECK_FALSE(normal.logic->want_read());
  normal.tick(t0 + milliseconds{500});
  CHECK_FALSE(hog.tick(t0 + milliseconds{999}).close);
  auto ended = hog.tick(t0 + milliseconds{1000});
  REQUIRE(ended.close);
  CHECK_FALSE(ended.abort);  // it reads: the goodbye reaches it
  auto frames = written(ended);
  REQUIRE(frames.size() == 1);
  std::string why;
  CHECK(goodbye_code(frames[0], &why) == schema::ErrorCode::THROTTLED);
  CHECK(why.find("holds the most of it") != std::string::npos);
  CHECK(why.find("no progress for 1000 ms") != std::string::npos);
  // Its partial frame left the budget with the goodbye: the others go on.
  hog.logic->on_written(ended.write.size(), t0 + milliseconds{1000}, sink());
  CHECK_FALSE(budget->over());
  normal.tick(t0 + milliseconds{1001});
  CHECK(normal.logic->want_read());
  CHECK_FALSE(normal.tick(t0 + milliseconds{5000}).close);
}

TEST_CASE("budget full with nobody else waiting: the holder is left to its own timeouts") {
  auto budget = std::make_shared<queued_bytes_budget>(10'000, milliseconds{1000});
  fixture hog;
  hog.budget = budget;
  hog.start();
  hog.handshake();
  fixture idle;  // connected, holds nothing, wants nothing
  idle.budget = budget;
  idle.start();
  idle.handshake();
  start_partial_frame(hog, 12'000);
  idle.tick(t0 + milliseconds{1500});
  CHECK_FALSE(hog.tick(t0 + milliseconds{1500}).close);
  CHECK_FALSE(hog.tick(t0 + milliseconds{20'000}).close);
  CHECK(hog.tick(t0 + milliseconds{30'000}).close);  // the frame timeout, as before
}

TEST_CASE("budget full: a holder that makes progress is spared, the largest one stalled is ended") {
  auto budget = std::make_shared<queued_bytes_budget>(10'000, milliseconds{1000});
  fixture reader;  // holds the most, but its client reads its responses
  reader.budget = budget;
  reader.start();
  reader.handshake();
  fixture stalled;
  stalled.budget = budget;
  stalled.start();
  stalled.handshake();
  fixture normal;
  normal.budget = budget;
  normal.start();
  normal.handshake();
  auto req = metadata_request();
  reader.send(frame_of(frame_kind::request, 1, req));
  connection_logic::actions r;
  reader.logic->on_response(1, req.size(), std::vector<char>(30'000, 0), 0, t0, r);
  start_partial_frame(stalled, 6'000);
  REQUIRE(normal.send(frame_of(frame_kind::request, 5, req), t0).requests.size() == 1);
  REQUIRE(budget->over());
  for (int ms = 100; ms <= 1000; ms += 100) {
    reader.logic->on_written(1'000, t0 + milliseconds{ms}, sink());  // 1000 bytes each 100 ms
    CHECK_FALSE(reader.tick(t0 + milliseconds{ms}).close);
    normal.tick(t0 + milliseconds{ms});
  }
  CHECK(stalled.tick(t0 + milliseconds{1000}).close);
  CHECK_FALSE(reader.tick(t0 + milliseconds{1000}).close);
}

TEST_CASE("budget full: a stalled holder that reads nothing is closed at once, not after its goodbye drains") {
  auto budget = std::make_shared<queued_bytes_budget>(10'000, milliseconds{1000});
  fixture noread;
  noread.budget = budget;
  noread.start();
  noread.handshake();
  fixture normal;
  normal.budget = budget;
  normal.start();
  normal.handshake();
  auto req = metadata_request();
  noread.send(frame_of(frame_kind::request, 1, req));
  connection_logic::actions r;
  noread.logic->on_response(1, req.size(), std::vector<char>(20'000, 0), 0, t0, r);
  REQUIRE(normal.send(frame_of(frame_kind::request, 5, req), t0).requests.size() == 1);
  REQUIRE(budget->over());
  normal.tick(t0 + milliseconds{900});
  auto ended = noread.tick(t0 + milliseconds{1000});
  CHECK(ended.close);
  CHECK(ended.abort);
}

TEST_CASE("budget full: one connection is ended at a time") {
  auto budget = std::make_shared<queued_bytes_budget>(10'000, milliseconds{1000});
  fixture big, small, normal;
  for (auto* f : {&big, &small, &normal}) {
    f->budget = budget;
    f->start();
    f->handshake();
  }
  start_partial_frame(big, 8'000);
  start_partial_frame(small, 4'000);
  auto req = metadata_request();
  REQUIRE(normal.send(frame_of(frame_kind::request, 5, req), t0).requests.size() == 1);
  normal.tick(t0 + milliseconds{900});
  CHECK_FALSE(small.tick(t0 + milliseconds{1000}).close);  // not the largest
  CHECK(big.tick(t0 + milliseconds{1000}).close);
  // With big's bytes gone the budget is under: small is spared.
  CHECK_FALSE(budget->over());
  CHECK_FALSE(small.tick(t0 + milliseconds{2500}).close);
}

TEST_CASE("budget full of long polls: consumers whose fetches wait at the broker are never ended") {
  auto budget = std::make_shared<queued_bytes_budget>(10'000, milliseconds{1000});
  fixture c1, c2;
  for (auto* f : {&c1, &c2}) {
    f->budget = budget;
    f->start();
    f->handshake();
    REQUIRE(f->send(frame_of(frame_kind::request, 1, fetch_request(6'000))).requests.size() == 1);
  }
  REQUIRE(budget->over());  // two reserves of 6000
  for (int ms = 500; ms <= 5000; ms += 500) {
    CHECK_FALSE(c1.tick(t0 + milliseconds{ms}).close);
    CHECK_FALSE(c2.tick(t0 + milliseconds{ms}).close);
  }
  // A client with a stalled partial frame among them is the one that goes.
  fixture hog;
  hog.budget = budget;
  hog.start(t0 + milliseconds{5000});
  hog.handshake();
  start_partial_frame(hog, 1'000, t0 + milliseconds{5000});
  c1.tick(t0 + milliseconds{6000});
  CHECK_FALSE(c2.tick(t0 + milliseconds{6000}).close);
  CHECK(hog.tick(t0 + milliseconds{6000}).close);
}
