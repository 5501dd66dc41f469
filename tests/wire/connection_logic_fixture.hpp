#pragma once
// Shared by the connection_logic tests (connection_logic_test.cpp,
// connection_logic_budget_test.cpp): a connection_logic on a fake clock, and
// builders for the frames they feed it.

#include <doctest/doctest.h>

#include <capnp/message.h>

#include "actors/connection_logic.hpp"
#include "schema/wire.capnp.h"
#include "schema/wire.hpp"

namespace herald::test_wire {

using namespace herald::actors;
using protocol::frame_kind;
using std::chrono::milliseconds;
using time_point = connection_logic::time_point;

inline const time_point t0 = time_point{} + std::chrono::hours{1};

// For calls whose actions a test does not look at.
inline connection_logic::actions& sink() {
  static connection_logic::actions a;
  a = {};
  return a;
}

inline std::vector<char> hello_payload(std::uint16_t min = 1, std::uint16_t max = 1) {
  capnp::MallocMessageBuilder b;
  auto h = b.initRoot<schema::Hello>();
  h.setMinVersion(min);
  h.setMaxVersion(max);
  h.setClientId("test");
  return wire::to_bytes(b);
}

inline std::vector<char> metadata_request() {
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::Request>().initMetadata();
  return wire::to_bytes(b);
}

inline std::vector<char> frame_of(frame_kind kind, std::uint64_t corr, const std::vector<char>& payload) {
  return protocol::encode_frame(kind, corr, 0, payload);
}

// Frames the logic wrote, decoded.
inline std::vector<protocol::frame> written(const connection_logic::actions& a) {
  protocol::frame_reader reader(protocol::default_max_frame_bytes);
  reader.feed(a.write.data(), a.write.size(), t0);
  std::vector<protocol::frame> out;
  protocol::frame f;
  while (reader.poll(f) == protocol::frame_reader::status::frame)
    out.push_back(std::move(f));
  REQUIRE_FALSE(reader.failed());
  return out;
}

inline schema::ErrorCode goodbye_code(const protocol::frame& f, std::string* message = nullptr) {
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

inline std::vector<char> fetch_request(std::uint32_t max_bytes) {
  capnp::MallocMessageBuilder b;
  auto f = b.initRoot<schema::Request>().initFetch();
  f.setTopic("t");
  f.setMaxBytes(max_bytes);
  return wire::to_bytes(b);
}

// The header of a request frame claiming `claimed` payload bytes, followed
// by the first `n` of them: a frame still arriving.
inline std::vector<char> partial_frame(std::size_t n, std::uint32_t claimed = 50'000) {
  char header[protocol::frame_header_bytes];
  protocol::encode_header(header, frame_kind::request, 1, 0, claimed);
  auto partial = std::vector<char>(header, header + sizeof header);
  partial.resize(partial.size() + n);
  return partial;
}

// A connection holding `n` bytes of a frame that never completes.
inline void start_partial_frame(fixture& fx, std::size_t n, time_point now = t0) {
  fx.send(partial_frame(n, 1'000'000), now);
}

} // namespace herald::test_wire
