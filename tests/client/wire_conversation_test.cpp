// The client side of the framed protocol without sockets or CAF: the
// handshake, correlation, liveness and throttle decisions of
// client/wire_conversation, driven by a fake clock and a scripted broker.

#include <doctest/doctest.h>

#include <capnp/message.h>

#include "client/wire_conversation.hpp"
#include "schema/wire.capnp.h"
#include "schema/wire.hpp"

using namespace herald;
using namespace std::chrono_literals;
using client::wire_conversation;
using protocol::frame;
using protocol::frame_kind;
using schema::ErrorCode;

namespace {

using time_point = wire_conversation::time_point;

// The broker's end: frames the client wrote, frames it sends back.
struct scripted_broker {
  protocol::frame_reader reader{protocol::default_max_frame_bytes};

  std::vector<frame> take(wire_conversation& c) {
    auto bytes = c.take_output();
    reader.feed(bytes.data(), bytes.size(), time_point{});
    std::vector<frame> out;
    frame f;
    while (reader.poll(f) == protocol::frame_reader::status::frame) out.push_back(std::move(f));
    REQUIRE_FALSE(reader.failed());
    return out;
  }

  static std::vector<char> hello_reply(ErrorCode code = ErrorCode::NONE, std::uint16_t version = 1,
                                       std::vector<std::string> sasl = {}, std::uint32_t max_frame = 1u << 20) {
    capnp::MallocMessageBuilder b;
    auto r = b.initRoot<schema::HelloReply>();
    wire::set_error(r.initError(), code, code == ErrorCode::NONE ? "" : "no");
    r.setVersion(version);
    r.setNodeId(3);
    auto m = r.initSaslMechanisms(static_cast<unsigned>(sasl.size()));
    for (unsigned i = 0; i < sasl.size(); ++i) m.set(i, sasl[i]);
    r.setMaxFrameBytes(max_frame);
    r.setPrincipal("User:ANONYMOUS");
    return protocol::encode_frame(frame_kind::hello_reply, 0, 0, wire::to_bytes(b));
  }

  static std::vector<char> response(std::uint64_t correlation, const std::string& body, std::uint32_t throttle = 0) {
    return protocol::encode_frame(frame_kind::response, correlation, throttle, {body.data(), body.size()});
  }

  static std::vector<char> goodbye(ErrorCode code, const std::string& why) {
    capnp::MallocMessageBuilder b;
    wire::set_error(b.initRoot<schema::Goodbye>().initError(), code, why);
    return protocol::encode_frame(frame_kind::goodbye, 0, 0, wire::to_bytes(b));
  }
};

void feed(wire_conversation& c, const std::vector<char>& bytes, time_point now) { c.on_bytes(bytes.data(), bytes.size(), now); }

std::vector<char> req(const std::string& s) { return {s.begin(), s.end()}; }

std::string text(const std::vector<char>& v) { return {v.begin(), v.end()}; }

// A conversation past its handshake at time t0.
struct ready_conversation {
  time_point t0 = time_point{} + 1000s;
  wire_conversation c{client::wire_settings{"b:1", "test", 5000, 500, 2000}, t0};
  scripted_broker broker;
  ready_conversation() {
    c.start(t0);
    auto hello = broker.take(c);
    REQUIRE(hello.size() == 1);
    feed(c, scripted_broker::hello_reply(), t0);
    REQUIRE(c.ready());
  }
};

} // namespace

TEST_CASE("wire conversation: hello first, requests held until the reply, then sent with their own correlation ids") {
  const time_point t0{};
  wire_conversation c{client::wire_settings{"b:1", "me", 5000, 500, 2000}, t0};
  scripted_broker broker;
  const auto a = c.submit(req("A"), t0);  // before the socket is even connected
  c.start(t0);
  const auto b = c.submit(req("B"), t0);
  auto frames = broker.take(c);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].kind == frame_kind::hello);
  CHECK(frames[0].correlation == 0);
  {
    wire::message_reader r(frames[0].payload);
    auto hello = r.root<schema::Hello>();
    CHECK(hello.getMinVersion() == 1);
    CHECK(hello.getMaxVersion() == 1);
    CHECK(std::string{hello.getClientId().cStr()} == "me");
  }
  CHECK(c.held() == 2);
  feed(c, scripted_broker::hello_reply(), t0 + 1ms);
  CHECK(c.ready());
  CHECK(c.node_id() == 3);
  frames = broker.take(c);
  REQUIRE(frames.size() == 2);
  CHECK(a != b);
  CHECK(frames[0].kind == frame_kind::request);
  CHECK(frames[0].correlation == a);
  CHECK(text(frames[0].payload) == "A");
  CHECK(frames[1].correlation == b);
  CHECK(c.in_flight() == 2);

  // Answered out of order, matched by correlation; split across reads.
  auto rb = scripted_broker::response(b, "rb");
  auto ra = scripted_broker::response(a, "ra");
  std::vector<char> both = rb;
  both.insert(both.end(), ra.begin(), ra.end());
  c.on_bytes(both.data(), 7, t0 + 2ms);
  CHECK(c.take_completions().empty());
  c.on_bytes(both.data() + 7, both.size() - 7, t0 + 2ms);
  auto done = c.take_completions();
  REQUIRE(done.size() == 2);
  CHECK(done[0].correlation == b);
  CHECK(done[0].ok);
  CHECK(text(done[0].response) == "rb");
  CHECK(done[1].correlation == a);
  CHECK(text(done[1].response) == "ra");
  CHECK(c.in_flight() == 0);
  CHECK_FALSE(c.lost());
}

TEST_CASE("wire conversation: no hello reply within the handshake timeout loses the connection and fails what waited") {
  const time_point t0{};
  wire_conversation c{client::wire_settings{"b:1", "me", 5000, 500, 2000}, t0};
  c.start(t0);
  const auto a = c.submit(req("A"), t0);
  REQUIRE(c.next_timer());
  CHECK(*c.next_timer() == t0 + 5000ms);
  c.on_timer(t0 + 2500ms);  // (liveness is for requests in flight; the hello has its deadline)
  CHECK(c.take_output().size() > 0);  // the hello, no ping
  c.on_timer(t0 + 4999ms);
  CHECK_FALSE(c.lost());
  c.on_timer(t0 + 5000ms);
  CHECK(c.lost());
  CHECK(c.lost_code() == ErrorCode::PARTITION_UNAVAILABLE);
  auto done = c.take_completions();
  REQUIRE(done.size() == 1);
  CHECK(done[0].correlation == a);
  CHECK_FALSE(done[0].ok);
  CHECK(done[0].message.find("did not answer the hello") != std::string::npos);
  CHECK(done[0].message.find("not sent") != std::string::npos);
}

TEST_CASE("wire conversation: a refused hello or an unsupported version or a SASL demand loses it with the code") {
  const time_point t0{};
  SUBCASE("refused") {
    wire_conversation c{client::wire_settings{"b:1"}, t0};
    c.start(t0);
    feed(c, scripted_broker::hello_reply(ErrorCode::UNSUPPORTED_VERSION), t0);
    CHECK(c.lost());
    CHECK(c.lost_code() == ErrorCode::UNSUPPORTED_VERSION);
  }
  SUBCASE("other version chosen") {
    wire_conversation c{client::wire_settings{"b:1"}, t0};
    c.start(t0);
    feed(c, scripted_broker::hello_reply(ErrorCode::NONE, 2), t0);
    CHECK(c.lost());
    CHECK(c.lost_code() == ErrorCode::UNSUPPORTED_VERSION);
  }
  SUBCASE("sasl required, no credentials") {
    wire_conversation c{client::wire_settings{"b:1"}, t0};
    c.start(t0);
    const auto a = c.submit(req("A"), t0);
    feed(c, scripted_broker::hello_reply(ErrorCode::NONE, 1, {"SCRAM-SHA-256"}), t0);
    CHECK(c.lost());
    CHECK(c.lost_code() == ErrorCode::AUTHENTICATION_FAILED);
    CHECK(c.lost_reason().find("SCRAM-SHA-256") != std::string::npos);
    auto done = c.take_completions();
    REQUIRE(done.size() == 1);
    CHECK(done[0].correlation == a);
    CHECK(done[0].code == ErrorCode::AUTHENTICATION_FAILED);
  }
}

TEST_CASE("wire conversation: silence while a request is in flight pings after the heartbeat and loses it after the liveness timeout") {
  ready_conversation r;
  auto& c = r.c;
  const auto t0 = r.t0;
  CHECK_FALSE(c.next_timer());  // idle: nothing to watch
  const auto a = c.submit(req("A"), t0);
  r.broker.take(c);
  REQUIRE(c.next_timer());
  CHECK(*c.next_timer() == t0 + 500ms);
  c.on_timer(t0 + 499ms);
  CHECK(r.broker.take(c).empty());
  c.on_timer(t0 + 500ms);
  auto frames = r.broker.take(c);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].kind == frame_kind::ping);
  CHECK(frames[0].correlation != a);

  SUBCASE("a pong keeps it alive") {
    feed(c, protocol::encode_frame(frame_kind::pong, frames[0].correlation, 0, {}), t0 + 600ms);
    c.on_timer(t0 + 2100ms);
    CHECK_FALSE(c.lost());
    c.on_timer(t0 + 2599ms);
    CHECK_FALSE(c.lost());
    c.on_timer(t0 + 2600ms);  // 2000 ms after the pong
    CHECK(c.lost());
  }
  SUBCASE("a frozen broker: lost 2000 ms after the last byte, the request fails as maybe-done") {
    c.on_timer(t0 + 1000ms);
    frames = r.broker.take(c);
    REQUIRE(frames.size() == 1);  // one ping per heartbeat of silence
    CHECK(frames[0].kind == frame_kind::ping);
    c.on_timer(t0 + 1999ms);
    CHECK_FALSE(c.lost());
    CHECK(*c.next_timer() <= t0 + 2000ms);
    c.on_timer(t0 + 2000ms);
    CHECK(c.lost());
    CHECK(c.lost_code() == ErrorCode::PARTITION_UNAVAILABLE);
    auto done = c.take_completions();
    REQUIRE(done.size() == 1);
    CHECK(done[0].correlation == a);
    CHECK(done[0].message.find("nothing heard from broker b:1 for 2000 ms") != std::string::npos);
    CHECK(done[0].message.find("may or may not") != std::string::npos);
    // Later submissions fail at once.
    const auto b = c.submit(req("B"), t0 + 3000ms);
    done = c.take_completions();
    REQUIRE(done.size() == 1);
    CHECK(done[0].correlation == b);
    CHECK_FALSE(done[0].ok);
  }
  SUBCASE("bytes of a slow response count as life") {
    auto resp = scripted_broker::response(a, std::string(100, 'x'));
    c.on_bytes(resp.data(), 30, t0 + 1900ms);
    c.on_timer(t0 + 3000ms);
    CHECK_FALSE(c.lost());
    c.on_bytes(resp.data() + 30, resp.size() - 30, t0 + 3100ms);
    CHECK(c.take_completions().size() == 1);
    CHECK_FALSE(c.next_timer());  // nothing in flight: no liveness watch
    c.on_timer(t0 + 60s);
    CHECK_FALSE(c.lost());
  }
}

TEST_CASE("wire conversation: a request after a long idle spell starts a fresh liveness window") {
  ready_conversation r;
  auto later = r.t0 + 600s;
  r.c.submit(req("A"), later);
  r.c.on_timer(later + 1ms);
  CHECK_FALSE(r.c.lost());
  CHECK(*r.c.next_timer() == later + 500ms);
}

TEST_CASE("wire conversation: the broker's ping is answered with a pong of the same correlation") {
  ready_conversation r;
  feed(r.c, protocol::encode_frame(frame_kind::ping, 77, 0, {}), r.t0);
  auto frames = r.broker.take(r.c);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].kind == frame_kind::pong);
  CHECK(frames[0].correlation == 77);
}

TEST_CASE("wire conversation: throttle_ms holds further requests for that long, in order") {
  ready_conversation r;
  auto& c = r.c;
  const auto t0 = r.t0;
  const auto a = c.submit(req("A"), t0);
  r.broker.take(c);
  feed(c, scripted_broker::response(a, "ok", 300), t0 + 10ms);
  CHECK(c.take_completions().size() == 1);
  const auto b = c.submit(req("B"), t0 + 20ms);
  const auto d = c.submit(req("D"), t0 + 30ms);
  CHECK(r.broker.take(c).empty());
  CHECK(c.held() == 2);
  REQUIRE(c.next_timer());
  CHECK(*c.next_timer() == t0 + 310ms);
  c.on_timer(t0 + 309ms);
  CHECK(r.broker.take(c).empty());
  c.on_timer(t0 + 310ms);
  auto frames = r.broker.take(c);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].correlation == b);
  CHECK(frames[1].correlation == d);
}

TEST_CASE("wire conversation: goodbye fails everything with the broker's code, held requests say they were not sent") {
  ready_conversation r;
  auto& c = r.c;
  const auto a = c.submit(req("A"), r.t0);
  const auto in_flight = c.submit(req("C"), r.t0);
  r.broker.take(c);
  feed(c, scripted_broker::response(a, "ok", 1000), r.t0);
  c.take_completions();
  const auto held = c.submit(req("B"), r.t0);  // throttled: held
  CHECK(r.broker.take(c).empty());
  feed(c, scripted_broker::goodbye(ErrorCode::AUTHORIZATION_FAILED, "User:x may not produce"), r.t0 + 500ms);
  CHECK(c.lost());
  auto done = c.take_completions();
  REQUIRE(done.size() == 2);
  for (auto& x : done) CHECK(x.code == ErrorCode::AUTHORIZATION_FAILED);
  CHECK(done[0].correlation == in_flight);
  CHECK(done[0].message.find("User:x may not produce") != std::string::npos);
  CHECK(done[0].message.find("may or may not") != std::string::npos);
  CHECK(done[1].correlation == held);
  CHECK(done[1].message.find("not sent") != std::string::npos);
}

TEST_CASE("wire conversation: a response to no request, a frame a broker never sends, or garbage loses the connection") {
  SUBCASE("unknown correlation") {
    ready_conversation r;
    feed(r.c, scripted_broker::response(999, "x"), r.t0);
    CHECK(r.c.lost());
    CHECK(r.c.lost_reason().find("999") != std::string::npos);
  }
  SUBCASE("a request frame from the broker") {
    ready_conversation r;
    feed(r.c, protocol::encode_frame(frame_kind::request, 1, 0, {}), r.t0);
    CHECK(r.c.lost());
  }
  SUBCASE("garbage") {
    ready_conversation r;
    std::vector<char> junk(20, '\x7f');
    feed(r.c, junk, r.t0);
    CHECK(r.c.lost());
    CHECK(r.c.lost_reason().find("malformed frame") != std::string::npos);
  }
}

TEST_CASE("wire conversation: a request over the broker's frame limit fails alone, the connection stays") {
  ready_conversation r;
  // The scripted broker allows 1 MiB frames.
  const auto big = r.c.submit(std::vector<char>((1u << 20) - 15, 'x'), r.t0);
  auto done = r.c.take_completions();
  REQUIRE(done.size() == 1);
  CHECK(done[0].correlation == big);
  CHECK(done[0].code == ErrorCode::INVALID_REQUEST);
  CHECK_FALSE(r.c.lost());
  const auto fits = r.c.submit(std::vector<char>((1u << 20) - 16, 'x'), r.t0);
  auto frames = r.broker.take(r.c);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].correlation == fits);
}

TEST_CASE("wire conversation: the socket closing fails what is in flight as maybe-done") {
  ready_conversation r;
  const auto a = r.c.submit(req("A"), r.t0);
  r.c.close("connection to broker b:1 closed");
  auto done = r.c.take_completions();
  REQUIRE(done.size() == 1);
  CHECK(done[0].correlation == a);
  CHECK(done[0].code == ErrorCode::PARTITION_UNAVAILABLE);
  CHECK(done[0].message == "connection to broker b:1 closed; the request may or may not have been carried out");
}
