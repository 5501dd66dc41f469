// The client's liveness watch and the broker's quota pause (issue 11 item 5):
// a request sent just before a throttled response arrives sits unread on the
// broker (it stops reading the socket for throttle_ms), so silence until the
// pause ends is expected, not a frozen broker. Fake clock, no sockets.

#include <doctest/doctest.h>

#include "client/wire_conversation.hpp"
#include "schema/wire.capnp.h"
#include "schema/wire.hpp"

#include <capnp/message.h>

using namespace herald;
using namespace std::chrono_literals;
using client::wire_conversation;
using protocol::frame_kind;

namespace {

using time_point = wire_conversation::time_point;
const std::vector<char> ok{'o', 'k'};

std::vector<char> hello_reply() {
  capnp::MallocMessageBuilder b;
  auto r = b.initRoot<schema::HelloReply>();
  wire::set_error(r.initError(), schema::ErrorCode::NONE, "");
  r.setVersion(1);
  r.setNodeId(1);
  r.setMaxFrameBytes(1u << 20);
  r.setPrincipal("User:ANONYMOUS");
  return protocol::encode_frame(frame_kind::hello_reply, 0, 0, wire::to_bytes(b));
}

void feed(wire_conversation& c, const std::vector<char>& bytes, time_point now) {
  c.on_bytes(bytes.data(), bytes.size(), now);
}

} // namespace

TEST_CASE("quota liveness: a request in flight while the broker pauses for throttle_ms is not a lost connection") {
  const auto t0 = time_point{} + 1000s;
  // heartbeat 500 ms, liveness 2000 ms
  wire_conversation c{client::wire_settings{"b:1", "test", 5000, 500, 2000}, t0};
  c.start(t0);
  c.take_output();
  feed(c, hello_reply(), t0);
  REQUIRE(c.ready());
  const auto a = c.submit({'A'}, t0);
  const auto b = c.submit({'B'}, t0 + 1ms);  // sent before A's answer arrives
  c.take_output();
  // A's answer asks for a 5 s pause: the broker reads nothing of B until then.
  feed(c, protocol::encode_frame(frame_kind::response, a, 5000, ok), t0 + 10ms);
  REQUIRE(c.take_completions().size() == 1);
  for (auto t = t0 + 10ms; t <= t0 + 5010ms; t += 100ms) {
    c.on_timer(t);
    REQUIRE_FALSE(c.lost());
  }
  // Once the pause is over the usual watch applies: B answered in time is fine ...
  feed(c, protocol::encode_frame(frame_kind::response, b, 0, ok), t0 + 5100ms);
  auto done = c.take_completions();
  REQUIRE(done.size() == 1);
  CHECK(done[0].ok);
  // ... and a broker silent for the liveness timeout after a pause is lost.
  const auto d = c.submit({'D'}, t0 + 5200ms);
  c.take_output();
  feed(c, protocol::encode_frame(frame_kind::response, d, 1000, ok), t0 + 5210ms);
  const auto e = c.submit({'E'}, t0 + 5211ms);  // held: the pause
  (void)e;
  c.on_timer(t0 + 6210ms);  // the pause ends: E goes out
  c.on_timer(t0 + 8209ms);
  CHECK_FALSE(c.lost());
  c.on_timer(t0 + 8211ms);
  CHECK(c.lost());
}
