// The hostile client's hand-built bytes against the real codec: its valid
// frames must be valid (or the hello flood and slowloris would test a parse
// error instead of what they claim), its hostile headers must be refused
// where the design says, before any payload is buffered, and BASP's bytes
// must be refused by the framed listener's reader at once.

#include <doctest/doctest.h>

#include <capnp/serialize.h>

#include "protocol/frame.hpp"
#include "schema/wire.capnp.h"
#include "schema/wire.hpp"
#include "tests/hostile/patterns.hpp"

using namespace herald;
using protocol::frame_reader;

namespace {

frame_reader::status feed_all(frame_reader& r, const std::vector<char>& bytes, protocol::frame& out) {
  r.feed(bytes.data(), bytes.size(), frame_reader::clock::now());
  return r.poll(out);
}

} // namespace

TEST_CASE("hostile_client's hello is a valid hello frame with a decodable Hello") {
  frame_reader r;
  protocol::frame f;
  auto bytes = hostile::framed_hello(0, "hostile-7");
  REQUIRE(feed_all(r, bytes, f) == frame_reader::status::frame);
  CHECK(f.kind == protocol::frame_kind::hello);
  CHECK(f.correlation == 0);
  wire::message_reader reader(f.payload);
  auto hello = reader.root<schema::Hello>();
  CHECK(hello.getMinVersion() == protocol::protocol_version);
  CHECK(hello.getMaxVersion() == protocol::protocol_version);
  CHECK(std::string(hello.getClientId().cStr()) == "hostile-7");
}

TEST_CASE("51 hellos back to back are 51 whole frames") {
  std::vector<char> bytes;
  for (int i = 0; i < 51; ++i) {
    auto one = hostile::framed_hello(0, "flood-" + std::to_string(i));
    bytes.insert(bytes.end(), one.begin(), one.end());
  }
  frame_reader r;
  r.feed(bytes.data(), bytes.size(), frame_reader::clock::now());
  int frames = 0;
  protocol::frame f;
  while (r.poll(f) == frame_reader::status::frame)
    ++frames;
  CHECK(frames == 51);
  CHECK_FALSE(r.failed());
}

TEST_CASE("an oversized claim is refused after its 4 length bytes, nothing buffered") {
  auto header = hostile::framed_header(5, 1, 0x80000000u);
  frame_reader r;
  r.feed(header.data(), 4, frame_reader::clock::now());
  protocol::frame f;
  CHECK(r.poll(f) == frame_reader::status::error);
  CHECK(r.buffered_capacity() < 4096);
}

TEST_CASE("short and negative lengths are refused") {
  for (std::uint32_t len : {0u, 1u, 15u, 0xFFFFFFFFu, 0x80000001u}) {
    CAPTURE(len);
    frame_reader r;
    protocol::frame f;
    CHECK(feed_all(r, hostile::framed_header(5, 1, len), f) == frame_reader::status::error);
  }
}

TEST_CASE("a BASP header is refused by the framed reader at its first 4 bytes") {
  // BASP's first bytes are operation, padding, padding, flags: as a
  // little-endian length that is at most 255, under the 16-byte minimum.
  for (std::uint8_t op = 0; op <= 6; ++op) {
    CAPTURE(int(op));
    auto header = hostile::basp_header(op, 0x80000000u, 0);
    frame_reader r;
    r.feed(header.data(), 4, frame_reader::clock::now());
    protocol::frame f;
    CHECK(r.poll(f) == frame_reader::status::error);
  }
}
