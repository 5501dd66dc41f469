// The framed client listener against a real heraldd, with a raw-socket
// client speaking protocol/frame.hpp byte by byte: handshake, a
// createTopic/produce/fetch round trip with correlation ids answered out of
// order, ping/pong, an oversized length refused with a goodbye while the
// broker keeps serving another connection, and the handshake timeout.

#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <thread>

#include "schema/wire.capnp.h"
#include "schema/wire.hpp"
#include "tests/support/broker.hpp"
#include "tests/support/frame_client.hpp"
#include "tests/support/frame_requests.hpp"

using namespace herald;
using protocol::frame_kind;
using std::chrono::milliseconds;
using test::frame_client;

namespace {

std::vector<char> hello_payload() {
  return test::hello_payload("raw-test");
}

void handshake(frame_client& c) {
  c.send_frame(frame_kind::hello, 0, hello_payload());
  auto reply = c.next();
  REQUIRE(reply);
  REQUIRE(reply->kind == frame_kind::hello_reply);
  wire::message_reader r(reply->payload);
  auto hr = r.root<schema::HelloReply>();
  REQUIRE(hr.getError().getCode() == schema::ErrorCode::NONE);
  CHECK(hr.getVersion() == 1);
  CHECK(hr.getNodeId() == 1);
}

struct broker_with_listener {
  test::temp_dir dir;
  std::unique_ptr<test::broker_process> broker;
  std::string client_address;

  explicit broker_with_listener(std::vector<std::string> flags = {}) {
    broker = std::make_unique<test::broker_process>(dir.path() / "data", dir.path(), flags);
    client_address = broker->address();  // --listen: the framed client listener
  }
};

} // namespace

TEST_CASE("framed listener: hello, createTopic, produce and fetch with correlations answered out of order, ping") {
  broker_with_listener b;
  frame_client c(b.client_address);
  handshake(c);

  c.send_frame(frame_kind::request, 1, test::create_topic_request("t"));
  auto created = c.next();
  REQUIRE(created);
  CHECK(created->correlation == 1);
  CHECK(test::response_error(*created) == schema::ErrorCode::NONE);
  // The log's end (a new leader's control entries may precede the data).
  c.send_frame(frame_kind::request, 2, test::latest_offset_request("t"));
  auto latest = c.next();
  REQUIRE(latest);
  REQUIRE(test::response_error(*latest) == schema::ErrorCode::NONE);
  wire::message_reader lr(latest->payload);
  const auto end = lr.root<schema::Response>().getListOffsets().getOffset();

  // A fetch that waits for data (correlation 10) is sent first; the produce
  // (11) and a ping (12) overtake it: each answer names its request.
  c.send_frame(frame_kind::request, 10, test::fetch_request("t", end, 5000));
  c.send_frame(frame_kind::request, 11, test::produce_request("t", "hello over frames"));
  c.send_frame(frame_kind::ping, 12, {});
  std::map<std::uint64_t, protocol::frame> got;
  std::vector<std::uint64_t> order;
  while (got.size() < 3) {
    auto f = c.next();
    REQUIRE(f);
    order.push_back(f->correlation);
    got[f->correlation] = std::move(*f);
  }
  CHECK(order.front() != 10);  // the waiting fetch is not answered first
  CHECK(got[12].kind == frame_kind::pong);
  CHECK(got[11].kind == frame_kind::response);
  CHECK(test::response_error(got[11]) == schema::ErrorCode::NONE);
  {
    wire::message_reader r(got[11].payload);
    CHECK(r.root<schema::Response>().getProduce().getBaseOffset() == end);
  }
  REQUIRE(got[10].kind == frame_kind::response);
  CHECK(test::response_error(got[10]) == schema::ErrorCode::NONE);
  wire::message_reader r(got[10].payload);
  auto records = r.root<schema::Response>().getFetch().getRecords();
  CHECK(records.size() > 0);
  std::string bytes(reinterpret_cast<const char*>(records.begin()), records.size());
  CHECK(bytes.find("hello over frames") != std::string::npos);
}

TEST_CASE("framed listener: an oversized length gets a goodbye and a close, the broker serves the next client") {
  broker_with_listener b;
  {
    frame_client bad(b.client_address);
    // 2 GiB claimed before any handshake: refused after 4 bytes.
    bad.send_bytes({'\x00', '\x00', '\x00', '\x80'});
    auto bye = bad.next();
    REQUIRE(bye);
    REQUIRE(bye->kind == frame_kind::goodbye);
    wire::message_reader r(bye->payload);
    auto e = r.root<schema::Goodbye>().getError();
    CHECK(e.getCode() == schema::ErrorCode::INVALID_REQUEST);
    CHECK(std::string{e.getMessage().cStr()}.find("exceeds the limit of 65536") != std::string::npos);
    CHECK(bad.closed_within(milliseconds{10'000}));
  }
  frame_client good(b.client_address);
  handshake(good);
  good.send_frame(frame_kind::request, 7, test::create_topic_request("after"));
  auto f = good.next();
  REQUIRE(f);
  CHECK(f->correlation == 7);
  CHECK(test::response_error(*f) == schema::ErrorCode::NONE);
}

TEST_CASE("framed listener: no hello within --handshake-timeout-ms -> goodbye timeout, close") {
  broker_with_listener b({"--handshake-timeout-ms=300"});
  frame_client c(b.client_address);
  auto start = std::chrono::steady_clock::now();
  auto bye = c.next(milliseconds{10'000});
  REQUIRE(bye);
  REQUIRE(bye->kind == frame_kind::goodbye);
  wire::message_reader r(bye->payload);
  CHECK(r.root<schema::Goodbye>().getError().getCode() == schema::ErrorCode::TIMEOUT);
  CHECK(c.closed_within(milliseconds{10'000}));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds{5});
}

TEST_CASE("heraldd refuses absurd client-listener limits at start") {
  test::temp_dir dir;
  auto run = [&](const std::string& flags) {
    return test::run_shell(test::heraldd_path() + " --data-dir " + (dir.path() / "d").string() +
                             " --listen 127.0.0.1:0 " + flags,
                           dir.path() / "out", dir.path() / "err");
  };
  CHECK(run("--max-frame-bytes 100") != 0);
  CHECK(run("--max-frame-bytes 1000000 --max-batch-bytes 1000000") != 0);
  CHECK(test::read_file(dir.path() / "err").find("leaves no room") != std::string::npos);
  CHECK(run("--frame-timeout-ms 0") != 0);
  CHECK(run("--listen nonsense") != 0);
  CHECK(run("--max-connection-inflight-bytes 1048576") != 0);
  CHECK(test::read_file(dir.path() / "err").find("must be at least --max-frame-bytes") != std::string::npos);
  CHECK(run("--max-connections 2 --max-connections-per-ip 5") != 0);
  CHECK(test::read_file(dir.path() / "err").find("exceeds --max-connections") != std::string::npos);
}

TEST_CASE("framed listener: over --max-connections-per-ip a connection gets a goodbye and is closed, a freed slot is reused") {
  broker_with_listener b({"--max-connections-per-ip=2"});
  auto first = std::make_unique<frame_client>(b.client_address);
  handshake(*first);
  frame_client second(b.client_address);
  handshake(second);
  {
    frame_client third(b.client_address);
    auto bye = third.next();
    REQUIRE(bye);
    REQUIRE(bye->kind == frame_kind::goodbye);
    wire::message_reader r(bye->payload);
    auto e = r.root<schema::Goodbye>().getError();
    CHECK(e.getCode() == schema::ErrorCode::THROTTLED);
    CHECK(std::string{e.getMessage().cStr()}.find("127.0.0.1") != std::string::npos);
    CHECK(third.closed_within(milliseconds{10'000}));
  }
  first.reset();  // the broker notices the close and gives the slot back
  bool admitted = test::eventually([&] {
    frame_client again(b.client_address);
    again.send_frame(frame_kind::hello, 0, hello_payload());
    auto reply = again.next();
    return reply && reply->kind == frame_kind::hello_reply;
  });
  CHECK(admitted);
  // The connections admitted before keep working.
  second.send_frame(frame_kind::ping, 3, {});
  auto pong = second.next();
  REQUIRE(pong);
  CHECK(pong->kind == frame_kind::pong);
}

namespace {

// A fetch at the log's end that waits `max_wait_ms` for data; a small
// maxBytes keeps hundreds of them inside the connection's byte cap.
std::vector<char> waiting_fetch(const std::string& topic, std::int64_t offset, std::uint32_t max_wait_ms) {
  return test::fetch_request(topic, offset, max_wait_ms, 1024);
}

// A ready connection to a broker with topic "t"; the offset of its log's end.
std::int64_t ready_with_topic(frame_client& c) {
  handshake(c);
  c.send_frame(frame_kind::request, 1, test::create_topic_request("t"));
  auto created = c.next();
  REQUIRE(created);
  REQUIRE(test::response_error(*created) == schema::ErrorCode::NONE);
  c.send_frame(frame_kind::request, 2, test::latest_offset_request("t"));
  auto latest = c.next();
  REQUIRE(latest);
  REQUIRE(test::response_error(*latest) == schema::ErrorCode::NONE);
  wire::message_reader lr(latest->payload);
  return lr.root<schema::Response>().getListOffsets().getOffset();
}

} // namespace

// One setting bounds a connection's requests in flight: the session behind
// it adds no cap of its own (it once throttled at a fixed 512).
TEST_CASE("framed listener: --max-inflight-requests 1000 lets 800 pipelined requests through unthrottled") {
  broker_with_listener b({"--max-inflight-requests=1000"});
  frame_client c(b.client_address);
  const auto end = ready_with_topic(c);
  std::vector<char> all;
  for (std::uint64_t i = 0; i < 800; ++i) {
    auto frame = protocol::encode_frame(frame_kind::request, 100 + i, 0, waiting_fetch("t", end, 2000));
    all.insert(all.end(), frame.begin(), frame.end());
  }
  c.send_bytes(all);
  std::map<schema::ErrorCode, int> codes;
  std::string throttled_why;
  for (int i = 0; i < 800; ++i) {
    auto f = c.next();
    REQUIRE(f);
    REQUIRE(f->kind == frame_kind::response);
    auto code = test::response_error(*f);
    ++codes[code];
    if (code == schema::ErrorCode::THROTTLED && throttled_why.empty()) {
      wire::message_reader r(f->payload);
      throttled_why = r.root<schema::Response>().getError().getMessage().cStr();
    }
  }
  CHECK_MESSAGE(codes[schema::ErrorCode::THROTTLED] == 0, throttled_why);
  CHECK(codes[schema::ErrorCode::NONE] == 800);
}

TEST_CASE("framed listener: with --max-inflight-requests 16 the 17th request gets the connection's throttled answer") {
  broker_with_listener b({"--max-inflight-requests=16"});
  frame_client c(b.client_address);
  const auto end = ready_with_topic(c);
  for (std::uint64_t i = 0; i < 17; ++i)
    c.send_frame(frame_kind::request, 100 + i, waiting_fetch("t", end, 3000));
  // The 17th is answered at once; the 16 wait for data until their maxWaitMs.
  auto first = c.next();
  REQUIRE(first);
  CHECK(first->correlation == 116);
  REQUIRE(test::response_error(*first) == schema::ErrorCode::THROTTLED);
  wire::message_reader r(first->payload);
  CHECK(std::string{r.root<schema::Response>().getError().getMessage().cStr()} ==
        "too many requests in flight on this connection (16)");
  for (int i = 0; i < 16; ++i) {
    auto f = c.next();
    REQUIRE(f);
    CHECK(test::response_error(*f) == schema::ErrorCode::NONE);
  }
}

// A client that fills the broker-wide budget with frames it never finishes
// holds everyone else only until the budget's stall grace (1 s), not until
// its own frame timeout (30 s): the largest holder with no progress is ended
// while another connection waits.
TEST_CASE("framed listener: over the broker-wide budget the largest stalled holder is ended and a waiting client served") {
  // 66 MiB for all connections; two frames of 64 MiB that never complete fill it.
  broker_with_listener b({"--max-queued-request-bytes=69206016", "--max-connection-inflight-bytes=69206016"});
  std::vector<std::unique_ptr<frame_client>> hogs;
  std::vector<std::vector<char>> frames;
  std::vector<std::size_t> sent;
  for (int i = 0; i < 2; ++i) {
    hogs.push_back(std::make_unique<frame_client>(b.client_address));
    handshake(*hogs.back());
    char header[protocol::frame_header_bytes];
    protocol::encode_header(header, frame_kind::request, 1, 0, 64u << 20);
    std::vector<char> frame(header, header + sizeof header);
    frame.resize(frame.size() + (64u << 20) - 1);  // one byte short, for ever
    frames.push_back(std::move(frame));
    sent.push_back(0);
  }
  // Push until the broker stops reading both (the budget is full).
  auto quiet_since = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - quiet_since < milliseconds{300}) {
    bool moved = false;
    for (std::size_t i = 0; i < hogs.size(); ++i) {
      auto now_at = hogs[i]->send_available(frames[i], sent[i]);
      moved = moved || now_at != sent[i];
      sent[i] = now_at;
    }
    if (moved)
      quiet_since = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(milliseconds{10});
  }
  REQUIRE(sent[0] + sent[1] > (66u << 20));

  // A client with a long-polling fetch out, which holds its reserve, then a
  // ping: the ping is read only once the budget has room again.
  frame_client normal(b.client_address);
  handshake(normal);
  normal.send_frame(frame_kind::request, 1, test::create_topic_request("t"));
  auto created = normal.next(milliseconds{10'000});
  REQUIRE(created);
  REQUIRE(test::response_error(*created) == schema::ErrorCode::NONE);
  normal.send_frame(frame_kind::request, 2, test::latest_offset_request("t"));
  auto latest = normal.next(milliseconds{10'000});
  REQUIRE(latest);
  wire::message_reader lr(latest->payload);
  const auto end = lr.root<schema::Response>().getListOffsets().getOffset();
  normal.send_frame(frame_kind::request, 3, test::fetch_request("t", end, 20'000));
  const auto start = std::chrono::steady_clock::now();
  normal.send_frame(frame_kind::ping, 4, {});
  auto pong = normal.next(milliseconds{10'000});
  REQUIRE(pong);
  CHECK(pong->kind == frame_kind::pong);
  CHECK(std::chrono::steady_clock::now() - start < milliseconds{5'000});  // the frame timeout is 30 s

  // One hog (the one the broker held more of) got a goodbye that says why.
  std::optional<protocol::frame> bye;
  const auto deadline = std::chrono::steady_clock::now() + milliseconds{10'000};
  while (!bye && std::chrono::steady_clock::now() < deadline)
    for (auto& hog : hogs)
      if (!bye)
        if (auto f = hog->next(milliseconds{50}); f && f->kind == frame_kind::goodbye)
          bye = std::move(f);
  REQUIRE(bye);
  wire::message_reader r(bye->payload);
  auto e = r.root<schema::Goodbye>().getError();
  CHECK(e.getCode() == schema::ErrorCode::THROTTLED);
  CHECK(std::string{e.getMessage().cStr()}.find("holds the most of it") != std::string::npos);
  CHECK(b.broker->log().find("holds the most of it") != std::string::npos);
}

// A client given the broker as localhost:PORT learns it from metadata as
// 127.0.0.1:PORT: the same broker (its hello_reply's node id), so the
// session keeps one connection to it and --max-connections-per-ip=1 lets
// create, describe, produce and consume through.
TEST_CASE("framed listener: with --max-connections-per-ip=1 a client reaching the broker by another name uses one connection") {
  // Debug logging names each client's disconnect: the next CLI process
  // starts only once the broker has seen the previous one go, so its slot
  // under the per-IP cap of 1 is free (not a race the test would lose on a
  // loaded machine).
  broker_with_listener b({"--max-connections-per-ip=1", "--log-level=debug"});
  const auto by_name = "localhost:" + b.client_address.substr(b.client_address.rfind(':') + 1);
  const auto out = b.dir.path() / "cli.out";
  const auto err = b.dir.path() / "cli.err";
  std::size_t processes = 0;
  const auto previous_one_gone = [&] {
    ++processes;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{20};
    const auto count = [&] {
      std::size_t n = 0;
      const auto log = b.broker->log();
      for (auto at = log.find(": disconnected"); at != std::string::npos; at = log.find(": disconnected", at + 1))
        ++n;
      return n;
    };
    while (count() < processes && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    REQUIRE_MESSAGE(count() >= processes, b.broker->log());
  };
  REQUIRE(test::run_cli(by_name, "topic create t --partitions 2 --replication-factor 1", out, err) == 0);
  previous_one_gone();
  CHECK(test::run_cli(by_name, "topic describe t", out, err) == 0);
  previous_one_gone();
  CHECK(test::run_shell("echo one-connection | " + test::herald_path() + " --broker " + by_name + " produce t",
                        out, err) == 0);
  CHECK_MESSAGE(test::read_file(err).find("too many connections") == std::string::npos, test::read_file(err));
  previous_one_gone();
  CHECK(test::run_cli(by_name, "consume t --from-beginning --max-messages 1 --timeout-ms 5000", out, err) == 0);
  CHECK(test::read_file(out).find("one-connection") != std::string::npos);
  CHECK(b.broker->log().find("too many connections") == std::string::npos);
}
