// The framed client protocol's codec (protocol/frame.hpp): exact bytes, every
// chunking, every malformed header, the size limit at its boundary, and the
// limit switching between frames.

#include <doctest/doctest.h>

#include <cstring>
#include <random>

#include <capnp/message.h>

#include "protocol/frame.hpp"
#include "schema/wire.capnp.h"
#include "schema/wire.hpp"

using namespace herald::protocol;
using clock_type = frame_reader::clock;

namespace {

std::vector<char> bytes_of(std::initializer_list<int> values) {
  std::vector<char> out;
  for (int v : values)
    out.push_back(static_cast<char>(v));
  return out;
}

std::vector<char> payload_of(std::size_t n, int seed) {
  std::vector<char> p(n);
  for (std::size_t i = 0; i < n; ++i)
    p[i] = static_cast<char>((i * 31 + static_cast<std::size_t>(seed)) & 0xff);
  return p;
}

struct sample {
  frame_kind kind;
  std::uint64_t correlation;
  std::uint32_t throttle_ms;
  std::vector<char> payload;
};

std::vector<sample> sample_frames() {
  return {
    {frame_kind::hello, 0, 0, payload_of(24, 1)},
    {frame_kind::request, 0x0102030405060708ull, 0, payload_of(37, 2)},
    {frame_kind::ping, 77, 0, {}},
    {frame_kind::response, ~0ull, 1234, payload_of(1, 3)},
  };
}

std::vector<char> stream_of(const std::vector<sample>& frames) {
  std::vector<char> out;
  for (const auto& f : frames)
    append_frame(out, f.kind, f.correlation, f.throttle_ms, f.payload);
  return out;
}

// Feeds `stream` cut at `cuts` (sorted offsets), polling after every chunk.
std::vector<frame> read_chunked(const std::vector<char>& stream, const std::vector<std::size_t>& cuts,
                                std::uint32_t limit = pre_auth_max_frame) {
  frame_reader reader(limit);
  std::vector<frame> got;
  std::size_t from = 0;
  auto pieces = cuts;
  pieces.push_back(stream.size());
  for (auto to : pieces) {
    reader.feed(stream.data() + from, to - from, clock_type::now());
    from = to;
    frame f;
    while (reader.poll(f) == frame_reader::status::frame)
      got.push_back(std::move(f));
    REQUIRE_FALSE(reader.failed());
  }
  CHECK_FALSE(reader.incomplete_since().has_value());
  CHECK(reader.buffered_bytes() == 0);
  return got;
}

void check_same(const std::vector<frame>& got, const std::vector<sample>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CHECK(got[i].kind == want[i].kind);
    CHECK(got[i].correlation == want[i].correlation);
    CHECK(got[i].throttle_ms == want[i].throttle_ms);
    CHECK(got[i].payload == want[i].payload);
  }
}

// Feeds raw bytes one at a time; returns how many were fed when the reader
// failed (0 if it never did) and its error.
std::pair<std::size_t, std::string> fail_point(const std::vector<char>& bytes, std::uint32_t limit) {
  frame_reader reader(limit);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    reader.feed(&bytes[i], 1, clock_type::now());
    frame f;
    if (reader.poll(f) == frame_reader::status::error) {
      CHECK(reader.buffered_bytes() == 0);
      return {i + 1, reader.error()};
    }
  }
  return {0, {}};
}

} // namespace

TEST_CASE("a frame's bytes are exactly the documented layout, little-endian") {
  auto f = encode_frame(frame_kind::response, 0x1122334455667788ull, 0x0a0b0c0d, bytes_of({0xAA, 0xBB, 0xCC}));
  auto want = bytes_of({19, 0, 0, 0,                                     // length = 16 + 3
                        6,                                               // kind response
                        0,                                               // flags
                        0, 0,                                            // reserved
                        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  // correlation
                        0x0d, 0x0c, 0x0b, 0x0a,                          // throttle_ms
                        0xAA, 0xBB, 0xCC});
  CHECK(f == want);
  auto h = decode_header(f.data(), pre_auth_max_frame);
  REQUIRE(h);
  CHECK(h->length == 19);
  CHECK(h->kind == frame_kind::response);
  CHECK(h->correlation == 0x1122334455667788ull);
  CHECK(h->throttle_ms == 0x0a0b0c0du);
  CHECK(h->payload_size() == 3);
  // An empty payload: length 16, the header alone.
  CHECK(encode_frame(frame_kind::ping, 5, 0, {}).size() == frame_header_bytes);
}

TEST_CASE("every chunking of a frame stream yields the same frames") {
  const auto frames = sample_frames();
  const auto stream = stream_of(frames);
  SUBCASE("whole") { check_same(read_chunked(stream, {}), frames); }
  SUBCASE("byte by byte") {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < stream.size(); ++i)
      cuts.push_back(i);
    check_same(read_chunked(stream, cuts), frames);
  }
  SUBCASE("every single and every pair of cut points") {
    for (std::size_t a = 1; a < stream.size(); ++a) {
      check_same(read_chunked(stream, {a}), frames);
      for (std::size_t b = a + 1; b < stream.size(); ++b)
        check_same(read_chunked(stream, {a, b}), frames);
    }
  }
  SUBCASE("random chunkings") {
    std::mt19937 rng(42);
    for (int round = 0; round < 500; ++round) {
      std::vector<std::size_t> cuts;
      for (std::size_t i = 1; i < stream.size(); ++i)
        if (rng() % 5 == 0)
          cuts.push_back(i);
      check_same(read_chunked(stream, cuts), frames);
    }
  }
  SUBCASE("all fed before any poll") {
    frame_reader reader;
    for (std::size_t i = 0; i < stream.size(); i += 7)
      reader.feed(stream.data() + i, std::min<std::size_t>(7, stream.size() - i), clock_type::now());
    std::vector<frame> got;
    frame f;
    while (reader.poll(f) == frame_reader::status::frame)
      got.push_back(std::move(f));
    check_same(got, frames);
  }
}

TEST_CASE("each malformed header field is refused as soon as its bytes arrive, with what is wrong") {
  auto good = encode_frame(frame_kind::request, 9, 0, payload_of(8, 0));
  auto with = [&](std::size_t at, int value) {
    auto b = good;
    b[at] = static_cast<char>(value);
    return b;
  };
  SUBCASE("length shorter than 16") {
    for (int len : {0, 1, 15}) {
      auto [at, why] = fail_point(with(0, len), pre_auth_max_frame);
      CHECK(at == 4);
      CHECK(why.find("shorter") != std::string::npos);
    }
  }
  SUBCASE("length over the limit, including a 'negative' one") {
    auto huge = good;
    huge[0] = huge[1] = huge[2] = huge[3] = static_cast<char>(0xff);  // 4 GiB - 1, or -1 as int32
    auto [at, why] = fail_point(huge, pre_auth_max_frame);
    CHECK(at == 4);
    CHECK(why.find("exceeds the limit of 65536") != std::string::npos);
    auto two_gib = good;
    two_gib[3] = static_cast<char>(0x80);
    CHECK(fail_point(two_gib, default_max_frame_bytes).first == 4);
  }
  SUBCASE("unknown kind") {
    for (int kind : {0, 10, 255}) {
      auto [at, why] = fail_point(with(4, kind), pre_auth_max_frame);
      CHECK(at == 5);
      CHECK(why == "unknown frame kind " + std::to_string(kind));
    }
  }
  SUBCASE("nonzero flags") {
    auto [at, why] = fail_point(with(5, 1), pre_auth_max_frame);
    CHECK(at == 6);
    CHECK(why.find("flags") != std::string::npos);
  }
  SUBCASE("nonzero reserved, either byte") {
    CHECK(fail_point(with(6, 1), pre_auth_max_frame).first == 8);
    auto [at, why] = fail_point(with(7, 0x80), pre_auth_max_frame);
    CHECK(at == 8);
    CHECK(why.find("reserved") != std::string::npos);
  }
  SUBCASE("a failed reader stays failed and keeps nothing") {
    frame_reader reader;
    auto bad = with(4, 0);
    reader.feed(bad.data(), bad.size(), clock_type::now());
    frame f;
    CHECK(reader.poll(f) == frame_reader::status::error);
    reader.feed(good.data(), good.size(), clock_type::now());
    CHECK(reader.poll(f) == frame_reader::status::error);
    CHECK(reader.buffered_bytes() == 0);
  }
  SUBCASE("decode_header says why") {
    std::string why;
    CHECK_FALSE(decode_header(with(5, 3).data(), pre_auth_max_frame, &why));
    CHECK(why == "frame flags 3 are not 0");
  }
}

TEST_CASE("the size limit holds exactly at its boundary") {
  const std::uint32_t limit = 1000;
  auto exact = encode_frame(frame_kind::request, 1, 0, payload_of(limit - frame_min_length, 5));
  CHECK(read_chunked(exact, {3, 500}, limit).size() == 1);
  auto over = encode_frame(frame_kind::request, 1, 0, payload_of(limit - frame_min_length + 1, 5));
  auto [at, why] = fail_point(over, limit);
  CHECK(at == 4);
  CHECK(why == "frame length 1001 exceeds the limit of 1000 bytes");
  // The pre-auth limit itself: 64 KiB accepted, one more byte refused.
  CHECK(decode_header(encode_frame(frame_kind::hello, 0, 0, payload_of(pre_auth_max_frame - 16, 0)).data(),
                      pre_auth_max_frame));
  CHECK_FALSE(decode_header(encode_frame(frame_kind::hello, 0, 0, payload_of(pre_auth_max_frame - 15, 0)).data(),
                            pre_auth_max_frame));
}

TEST_CASE("a claimed length costs nothing: the payload buffer follows the bytes received") {
  frame_reader reader(default_max_frame_bytes);
  char header[frame_header_bytes];
  encode_header(header, frame_kind::request, 1, 0, 60u << 20);  // claims 60 MiB
  reader.feed(header, sizeof header, clock_type::now());
  auto chunk = payload_of(1000, 1);
  reader.feed(chunk.data(), chunk.size(), clock_type::now());
  frame f;
  CHECK(reader.poll(f) == frame_reader::status::need_more);
  CHECK(reader.buffered_bytes() == 1000);
  CHECK(reader.buffered_capacity() < (64u << 10));
}

TEST_CASE("the limit switches between frames: hello under the pre-auth limit, then a larger request") {
  auto hello = encode_frame(frame_kind::hello, 0, 0, payload_of(16, 0));
  auto big = encode_frame(frame_kind::request, 2, 0, payload_of(200'000, 1));
  std::vector<char> stream = hello;
  stream.insert(stream.end(), big.begin(), big.end());

  SUBCASE("raised after hello, in the same chunk: accepted") {
    frame_reader reader;
    reader.feed(stream.data(), stream.size(), clock_type::now());
    frame f;
    REQUIRE(reader.poll(f) == frame_reader::status::frame);
    CHECK(f.kind == frame_kind::hello);
    reader.set_max_length(default_max_frame_bytes);
    REQUIRE(reader.poll(f) == frame_reader::status::frame);
    CHECK(f.kind == frame_kind::request);
    CHECK(f.payload.size() == 200'000);
  }
  SUBCASE("not raised: the request is refused") {
    frame_reader reader;
    reader.feed(stream.data(), stream.size(), clock_type::now());
    frame f;
    REQUIRE(reader.poll(f) == frame_reader::status::frame);
    CHECK(reader.poll(f) == frame_reader::status::error);
    CHECK(reader.error().find("exceeds the limit of 65536") != std::string::npos);
  }
}

TEST_CASE("incomplete_since reports when a frame that is still incomplete started") {
  auto t0 = clock_type::time_point{} + std::chrono::seconds{100};
  auto f1 = encode_frame(frame_kind::ping, 1, 0, {});
  auto f2 = encode_frame(frame_kind::request, 2, 0, payload_of(40, 0));
  frame_reader reader;
  frame f;
  CHECK_FALSE(reader.incomplete_since());
  reader.feed(f1.data(), 3, t0);
  CHECK(reader.incomplete_since() == t0);
  reader.feed(f1.data() + 3, f1.size() - 3, t0 + std::chrono::seconds{5});
  REQUIRE(reader.poll(f) == frame_reader::status::frame);
  CHECK_FALSE(reader.incomplete_since());
  // The rest of f2 arrives in pieces; the start stays the first piece's time.
  reader.feed(f2.data(), 30, t0 + std::chrono::seconds{10});
  reader.feed(f2.data() + 30, 10, t0 + std::chrono::seconds{20});
  CHECK(reader.poll(f) == frame_reader::status::need_more);
  CHECK(reader.incomplete_since() == t0 + std::chrono::seconds{10});
  reader.feed(f2.data() + 40, f2.size() - 40, t0 + std::chrono::seconds{30});
  REQUIRE(reader.poll(f) == frame_reader::status::frame);
  CHECK_FALSE(reader.incomplete_since());
}

TEST_CASE("wire.capnp: a Hello and a Goodbye survive the flat encoding") {
  capnp::MallocMessageBuilder builder;
  auto hello = builder.initRoot<herald::schema::Hello>();
  hello.setMinVersion(1);
  hello.setMaxVersion(1);
  hello.setClientId("test");
  auto bytes = herald::wire::to_bytes(builder);
  auto framed = encode_frame(frame_kind::hello, 0, 0, bytes);
  auto got = read_chunked(framed, {});
  REQUIRE(got.size() == 1);
  herald::wire::message_reader reader(got[0].payload);
  auto root = reader.root<herald::schema::Hello>();
  CHECK(root.getMaxVersion() == protocol_version);
  CHECK(std::string{root.getClientId().cStr()} == "test");

  capnp::MallocMessageBuilder bye;
  herald::wire::set_error(bye.initRoot<herald::schema::Goodbye>().initError(),
                          herald::schema::ErrorCode::UNSUPPORTED_VERSION, "no common version");
  CHECK(std::string{herald::wire::to_string(herald::schema::ErrorCode::AUTHENTICATION_FAILED)} ==
        "authentication failed");
}

TEST_CASE("a payload buffer never holds more capacity than its header claims") {
  frame_reader reader(default_max_frame_bytes);
  char header[frame_header_bytes];
  encode_header(header, frame_kind::request, 1, 0, 100'000);
  reader.feed(header, sizeof header, clock_type::now());
  auto chunk = payload_of(10'000, 2);
  frame f;
  for (int i = 0; i < 9; ++i) {
    reader.feed(chunk.data(), chunk.size(), clock_type::now());
    CHECK(reader.poll(f) == frame_reader::status::need_more);
    CHECK(reader.buffered_capacity() <= sizeof header + 100'000);
    CHECK(reader.buffered_capacity() <= sizeof header + 2 * reader.buffered_bytes());
  }
  reader.feed(chunk.data(), chunk.size(), clock_type::now());
  REQUIRE(reader.poll(f) == frame_reader::status::frame);
  CHECK(f.payload.size() == 100'000);
}
