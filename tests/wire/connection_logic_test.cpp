// The connection logic of the framed listener (actors/connection_logic.hpp)
// on a fake clock: handshake, timeouts, in-flight caps, write stall,
// malformed input -> goodbye.

#include <doctest/doctest.h>

#include <capnp/message.h>

#include "actors/connection_logic.hpp"
#include "schema/wire.capnp.h"
#include "schema/wire.hpp"

using namespace herald;
using namespace herald::actors;
using protocol::frame_kind;
using std::chrono::milliseconds;
using time_point = connection_logic::time_point;

namespace {

const time_point t0 = time_point{} + std::chrono::hours{1};

// For calls whose actions a test does not look at.
connection_logic::actions& sink() {
  static connection_logic::actions a;
  a = {};
  return a;
}

std::vector<char> hello_payload(std::uint16_t min = 1, std::uint16_t max = 1) {
  capnp::MallocMessageBuilder b;
  auto h = b.initRoot<schema::Hello>();
  h.setMinVersion(min);
  h.setMaxVersion(max);
  h.setClientId("test");
  return wire::to_bytes(b);
}

std::vector<char> metadata_request() {
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::Request>().initMetadata();
  return wire::to_bytes(b);
}

std::vector<char> frame_of(frame_kind kind, std::uint64_t corr, const std::vector<char>& payload) {
  return protocol::encode_frame(kind, corr, 0, payload);
}

// Frames the logic wrote, decoded.
std::vector<protocol::frame> written(const connection_logic::actions& a) {
  protocol::frame_reader reader(protocol::default_max_frame_bytes);
  reader.feed(a.write.data(), a.write.size(), t0);
  std::vector<protocol::frame> out;
  protocol::frame f;
  while (reader.poll(f) == protocol::frame_reader::status::frame)
    out.push_back(std::move(f));
  REQUIRE_FALSE(reader.failed());
  return out;
}

schema::ErrorCode goodbye_code(const protocol::frame& f, std::string* message = nullptr) {
  REQUIRE(f.kind == frame_kind::goodbye);
  wire::message_reader r(f.payload);
  auto e = r.root<schema::Goodbye>().getError();
  if (message)
    *message = e.getMessage().cStr();
  return e.getCode();
}

struct fixture {
  connection_limits limits;
  std::unique_ptr<connection_logic> logic;
  std::shared_ptr<queued_bytes_budget> budget;

  void start(time_point now = t0) { logic = std::make_unique<connection_logic>(limits, 7, now, budget); }

  connection_logic::actions send(const std::vector<char>& bytes, time_point now = t0) {
    connection_logic::actions a;
    logic->on_bytes(bytes.data(), bytes.size(), now, a);
    return a;
  }
  connection_logic::actions tick(time_point now) {
    connection_logic::actions a;
    logic->on_tick(now, a);
    return a;
  }
  connection_logic::actions handshake() {
    auto a = send(frame_of(frame_kind::hello, 0, hello_payload()));
    REQUIRE(logic->ready());
    logic->on_written(a.write.size(), t0, sink());
    return a;
  }
};

} // namespace

TEST_CASE("hello gets hello_reply with version, node, frame limit and principal, the limit rises") {
  fixture fx;
  fx.start();
  auto a = fx.handshake();
  auto frames = written(a);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].kind == frame_kind::hello_reply);
  wire::message_reader r(frames[0].payload);
  auto reply = r.root<schema::HelloReply>();
  CHECK(reply.getError().getCode() == schema::ErrorCode::NONE);
  CHECK(reply.getVersion() == 1);
  CHECK(reply.getNodeId() == 7);
  CHECK(reply.getMaxFrameBytes() == protocol::default_max_frame_bytes);
  CHECK(reply.getSaslMechanisms().size() == 0);
  CHECK(std::string{reply.getPrincipal().cStr()} == "User:ANONYMOUS");
  REQUIRE(a.authenticated);
  CHECK(*a.authenticated == "User:ANONYMOUS");
  // A request larger than the pre-auth limit is now accepted.
  capnp::MallocMessageBuilder b;
  auto produce = b.initRoot<schema::Request>().initProduce();
  produce.setTopic("t");
  produce.initBatch(100'000);
  auto big = fx.send(frame_of(frame_kind::request, 42, wire::to_bytes(b)));
  CHECK_FALSE(big.close);
  REQUIRE(big.requests.size() == 1);
  CHECK(big.requests[0].correlation == 42);
}

TEST_CASE("no common version: hello_reply unsupportedVersion, then goodbye, then close") {
  fixture fx;
  fx.start();
  auto a = fx.send(frame_of(frame_kind::hello, 0, hello_payload(2, 3)));
  CHECK(a.close);
  auto frames = written(a);
  REQUIRE(frames.size() == 2);
  wire::message_reader r(frames[0].payload);
  CHECK(r.root<schema::HelloReply>().getError().getCode() == schema::ErrorCode::UNSUPPORTED_VERSION);
  CHECK(goodbye_code(frames[1]) == schema::ErrorCode::UNSUPPORTED_VERSION);
  CHECK_FALSE(a.authenticated);
}

TEST_CASE("malformed input ends the connection with a goodbye that says what") {
  fixture fx;
  fx.start();
  std::string why;
  SUBCASE("oversized length before the handshake, refused after 4 bytes") {
    auto a = fx.send({'\x01', '\x00', '\x01', '\x00'});  // 65537
    CHECK(a.close);
    CHECK(goodbye_code(written(a).at(0), &why) == schema::ErrorCode::INVALID_REQUEST);
    CHECK(why.find("exceeds the limit of 65536") != std::string::npos);
  }
  SUBCASE("request before hello") {
    auto a = fx.send(frame_of(frame_kind::request, 1, metadata_request()));
    CHECK(a.close);
    CHECK(a.requests.empty());
    CHECK(goodbye_code(written(a).at(0), &why) == schema::ErrorCode::INVALID_REQUEST);
    CHECK(why == "request before hello");
  }
  SUBCASE("undecodable hello") {
    auto a = fx.send(frame_of(frame_kind::hello, 0, std::vector<char>(24, '\x7f')));
    CHECK(a.close);
    CHECK(goodbye_code(written(a).at(0), &why) == schema::ErrorCode::INVALID_REQUEST);
    CHECK(why.find("malformed hello") == 0);
  }
  SUBCASE("undecodable request payload") {
    fx.handshake();
    auto a = fx.send(frame_of(frame_kind::request, 1, std::vector<char>(13, 'x')));
    CHECK(a.close);
    CHECK(a.requests.empty());
    CHECK(goodbye_code(written(a).at(0), &why) == schema::ErrorCode::INVALID_REQUEST);
    CHECK(why.find("malformed request payload") == 0);
  }
  SUBCASE("a server-only kind from the client") {
    fx.handshake();
    auto a = fx.send(frame_of(frame_kind::response, 1, {}));
    CHECK(goodbye_code(written(a).at(0), &why) == schema::ErrorCode::INVALID_REQUEST);
    CHECK(why == "a client does not send response frames");
  }
  SUBCASE("a second hello") {
    fx.handshake();
    auto a = fx.send(frame_of(frame_kind::hello, 0, hello_payload()));
    CHECK(a.close);
  }
  SUBCASE("nothing is handled after the goodbye, not even frames in the same chunk") {
    auto bytes = frame_of(frame_kind::request, 1, metadata_request());
    auto ping = frame_of(frame_kind::ping, 5, {});
    bytes.insert(bytes.end(), ping.begin(), ping.end());
    auto a = fx.send(bytes);
    CHECK(written(a).size() == 1);
    auto b = fx.send(ping);
    CHECK(b.write.empty());
    CHECK_FALSE(fx.logic->want_read());
  }
}

TEST_CASE("ping is answered with pong of the same correlation in any phase") {
  fixture fx;
  fx.start();
  auto a = fx.send(frame_of(frame_kind::ping, 99, {}));
  auto frames = written(a);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].kind == frame_kind::pong);
  CHECK(frames[0].correlation == 99);
}

TEST_CASE("requests are forwarded with their correlation, responses may come back in any order") {
  fixture fx;
  fx.start();
  fx.handshake();
  auto req = metadata_request();
  std::vector<char> bytes;
  for (std::uint64_t c : {10, 11, 12}) {
    auto f = frame_of(frame_kind::request, c, req);
    bytes.insert(bytes.end(), f.begin(), f.end());
  }
  auto a = fx.send(bytes);
  REQUIRE(a.requests.size() == 3);
  CHECK(fx.logic->inflight_requests() == 3);
  connection_logic::actions r;
  fx.logic->on_response(12, req.size(), wire::error_response(schema::ErrorCode::NONE, ""), 0, t0, r);
  fx.logic->on_response(10, req.size(), wire::error_response(schema::ErrorCode::NONE, ""), 0, t0, r);
  auto frames = written(r);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].correlation == 12);
  CHECK(frames[1].correlation == 10);
  CHECK(frames[0].kind == frame_kind::response);
  CHECK(fx.logic->inflight_requests() == 1);
}

TEST_CASE("over the in-flight request cap a request is answered throttled at once") {
  fixture fx;
  fx.limits.max_inflight_requests = 2;
  fx.start();
  fx.handshake();
  auto req = metadata_request();
  CHECK(fx.send(frame_of(frame_kind::request, 1, req)).requests.size() == 1);
  CHECK(fx.send(frame_of(frame_kind::request, 2, req)).requests.size() == 1);
  auto a = fx.send(frame_of(frame_kind::request, 3, req));
  CHECK(a.requests.empty());
  CHECK_FALSE(a.close);
  auto frames = written(a);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].correlation == 3);
  wire::message_reader r(frames[0].payload);
  CHECK(r.root<schema::Response>().getError().getCode() == schema::ErrorCode::THROTTLED);
}

TEST_CASE("in-flight bytes over the cap stop reading until answered and written") {
  fixture fx;
  auto req = metadata_request();
  fx.limits.max_inflight_bytes = req.size() * 2;
  fx.start();
  fx.handshake();
  fx.send(frame_of(frame_kind::request, 1, req));
  CHECK(fx.logic->want_read());
  fx.send(frame_of(frame_kind::request, 2, req));
  CHECK_FALSE(fx.logic->want_read());
  connection_logic::actions r;
  fx.logic->on_response(1, req.size(), std::vector<char>(req.size() * 3, 0), 0, t0, r);
  CHECK_FALSE(fx.logic->want_read());  // the response is not written yet
  fx.logic->on_written(r.write.size(), t0, sink());
  CHECK(fx.logic->want_read());
}

TEST_CASE("the broker-wide budget stops reading on every connection while over") {
  fixture fx;
  auto req = metadata_request();
  fx.budget = std::make_shared<queued_bytes_budget>(req.size() * 2);
  fx.start();
  fx.handshake();
  fixture other;
  other.budget = fx.budget;
  other.start();
  other.handshake();
  fx.send(frame_of(frame_kind::request, 1, req));
  other.send(frame_of(frame_kind::request, 1, req));
  CHECK(fx.budget->over());
  CHECK_FALSE(other.logic->want_read());
  fx.tick(t0 + milliseconds{1});
  CHECK_FALSE(fx.logic->want_read());
  connection_logic::actions r;
  fx.logic->on_response(1, req.size(), {}, 0, t0, r);
  fx.logic->on_written(r.write.size(), t0, sink());
  other.tick(t0 + milliseconds{2});
  CHECK(other.logic->want_read());
  // A connection that goes away returns what it held.
  other.logic.reset();
  CHECK(fx.budget->used() == 0);
}

TEST_CASE("throttle_ms goes into the response frame and mutes reading that long") {
  fixture fx;
  fx.start();
  fx.handshake();
  auto req = metadata_request();
  fx.send(frame_of(frame_kind::request, 1, req));
  connection_logic::actions r;
  fx.logic->on_response(1, req.size(), wire::error_response(schema::ErrorCode::NONE, ""), 250, t0, r);
  fx.logic->on_written(r.write.size(), t0, sink());
  CHECK(written(r).at(0).throttle_ms == 250);
  CHECK_FALSE(fx.logic->want_read());
  fx.tick(t0 + milliseconds{249});
  CHECK_FALSE(fx.logic->want_read());
  fx.tick(t0 + milliseconds{250});
  CHECK(fx.logic->want_read());
}

TEST_CASE("handshake timeout: no hello in time -> goodbye timeout") {
  fixture fx;
  fx.limits.handshake_timeout = milliseconds{1000};
  fx.start();
  CHECK_FALSE(fx.tick(t0 + milliseconds{999}).close);
  auto a = fx.tick(t0 + milliseconds{1000});
  CHECK(a.close);
  std::string why;
  CHECK(goodbye_code(written(a).at(0), &why) == schema::ErrorCode::TIMEOUT);
  CHECK(why == "handshake not complete within 1000 ms");
}

TEST_CASE("frame timeout: a frame started but not finished (slowloris)") {
  fixture fx;
  fx.limits.frame_timeout = milliseconds{500};
  fx.start();
  fx.handshake();
  auto f = frame_of(frame_kind::request, 1, metadata_request());
  // A byte every 100 ms keeps the connection "active" but the frame never completes in time.
  for (int i = 0; i < 4; ++i)
    fx.send({f[static_cast<std::size_t>(i)]}, t0 + milliseconds{100 * i});
  CHECK_FALSE(fx.tick(t0 + milliseconds{499}).close);
  auto a = fx.tick(t0 + milliseconds{500});
  CHECK(a.close);
  std::string why;
  CHECK(goodbye_code(written(a).at(0), &why) == schema::ErrorCode::TIMEOUT);
  CHECK(why.find("frame incomplete after 500 ms") == 0);
}

TEST_CASE("frame timeout does not run while the server itself stopped reading") {
  fixture fx;
  fx.limits.frame_timeout = milliseconds{500};
  auto req = metadata_request();
  fx.limits.max_inflight_bytes = req.size();
  fx.start();
  fx.handshake();
  auto f1 = frame_of(frame_kind::request, 1, req);
  auto f2 = frame_of(frame_kind::request, 2, req);
  f1.insert(f1.end(), f2.begin(), f2.begin() + 5);  // part of the next frame arrived too
  fx.send(f1);
  CHECK_FALSE(fx.logic->want_read());
  CHECK_FALSE(fx.tick(t0 + milliseconds{2000}).close);
  connection_logic::actions r;
  fx.logic->on_response(1, req.size(), {}, 0, t0 + milliseconds{3000}, r);
  fx.logic->on_written(r.write.size(), t0 + milliseconds{3000}, sink());
  CHECK(fx.logic->want_read());
  CHECK_FALSE(fx.tick(t0 + milliseconds{3499}).close);
  CHECK(fx.tick(t0 + milliseconds{3500}).close);
}

TEST_CASE("idle timeout only with nothing in flight") {
  fixture fx;
  fx.limits.idle_timeout = milliseconds{1000};
  fx.start();
  fx.handshake();
  auto req = metadata_request();
  fx.send(frame_of(frame_kind::request, 1, req), t0);
  CHECK_FALSE(fx.tick(t0 + milliseconds{5000}).close);  // a long fetch is not idleness
  connection_logic::actions r;
  fx.logic->on_response(1, req.size(), {}, 0, t0 + milliseconds{5000}, r);
  fx.logic->on_written(r.write.size(), t0 + milliseconds{5000}, sink());
  CHECK_FALSE(fx.tick(t0 + milliseconds{5999}).close);
  auto a = fx.tick(t0 + milliseconds{6000});
  CHECK(a.close);
  std::string why;
  CHECK(goodbye_code(written(a).at(0), &why) == schema::ErrorCode::TIMEOUT);
  CHECK(why == "idle for 1000 ms");
}

TEST_CASE("write stall: responses not drained for the frame timeout close the connection") {
  fixture fx;
  fx.limits.frame_timeout = milliseconds{500};
  fx.start();
  fx.handshake();
  auto req = metadata_request();
  fx.send(frame_of(frame_kind::request, 1, req), t0);
  connection_logic::actions r;
  fx.logic->on_response(1, req.size(), std::vector<char>(1000, 0), 0, t0 + milliseconds{100}, r);
  fx.logic->on_written(500, t0 + milliseconds{300}, sink());  // partial progress restarts the clock
  CHECK_FALSE(fx.tick(t0 + milliseconds{799}).close);
  auto a = fx.tick(t0 + milliseconds{800});
  CHECK(a.close);
  CHECK(a.write.empty());  // no goodbye: it could not drain either
  CHECK(a.close_reason.find("read none of") != std::string::npos);
}

TEST_CASE("bytes of a frame still arriving count against the connection's in-flight bytes") {
  fixture fx;
  fx.limits.max_inflight_bytes = 10'000;
  fx.start();
  fx.handshake();
  char header[protocol::frame_header_bytes];
  protocol::encode_header(header, frame_kind::request, 1, 0, 50'000);
  fx.send(std::vector<char>(header, header + sizeof header));
  CHECK(fx.logic->want_read());
  fx.send(std::vector<char>(10'000, 0));
  CHECK_FALSE(fx.logic->want_read());
}

TEST_CASE("the broker-wide budget counts partial frames and unwritten responses too") {
  fixture a;
  a.budget = std::make_shared<queued_bytes_budget>(10'000);
  a.start();
  a.handshake();
  fixture b;
  b.budget = a.budget;
  b.start();
  b.handshake();
  char header[protocol::frame_header_bytes];
  protocol::encode_header(header, frame_kind::request, 1, 0, 50'000);
  auto partial = std::vector<char>(header, header + sizeof header);
  partial.resize(partial.size() + 12'000);
  a.send(partial);
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
  char header[protocol::frame_header_bytes];
  protocol::encode_header(header, frame_kind::request, 1, 0, 50'000);
  auto partial = std::vector<char>(header, header + sizeof header);
  partial.resize(partial.size() + 2'000);
  fx.send(partial);
  CHECK_FALSE(fx.logic->want_read());
  auto a = fx.tick(t0 + milliseconds{500});
  CHECK(a.close);
  // Its bytes leave the budget with the goodbye (only the unwritten goodbye remains).
  CHECK(fx.budget->used() == fx.logic->unwritten_bytes());
}

namespace {
std::vector<char> fetch_request(std::uint32_t max_bytes) {
  capnp::MallocMessageBuilder b;
  auto f = b.initRoot<schema::Request>().initFetch();
  f.setTopic("t");
  f.setMaxBytes(max_bytes);
  return wire::to_bytes(b);
}
} // namespace

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
  char header[protocol::frame_header_bytes];
  protocol::encode_header(header, frame_kind::request, 1, 0, 50'000);
  auto partial = std::vector<char>(header, header + sizeof header);
  partial.resize(partial.size() + 12'000);
  hog.send(partial);
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

namespace {
// A connection holding `n` bytes of a frame that never completes.
void start_partial_frame(fixture& fx, std::size_t n, time_point now = t0) {
  char header[protocol::frame_header_bytes];
  protocol::encode_header(header, frame_kind::request, 1, 0, 1'000'000);
  auto partial = std::vector<char>(header, header + sizeof header);
  partial.resize(partial.size() + n);
  fx.send(partial, now);
}
} // namespace

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
