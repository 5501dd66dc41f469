// The connection logic of the framed listener (actors/connection_logic.hpp)
// on a fake clock: handshake, timeouts, in-flight caps, write stall,
// malformed input -> goodbye. The broker-wide budget: connection_logic_budget_test.cpp.

#include "connection_logic_fixture.hpp"

using namespace herald;
using namespace herald::test_wire;

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
  fx.send(partial_frame(0));  // the header alone
  CHECK(fx.logic->want_read());
  fx.send(std::vector<char>(10'000, 0));
  CHECK_FALSE(fx.logic->want_read());
}
