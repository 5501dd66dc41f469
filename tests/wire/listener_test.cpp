// The framed client listener against a real heraldd, with a raw-socket
// client speaking protocol/frame.hpp byte by byte: handshake, a
// createTopic/produce/fetch round trip with correlation ids answered out of
// order, ping/pong, an oversized length refused with a goodbye while the
// broker keeps serving another connection, and the handshake timeout.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <thread>
#include <stdexcept>

#include <capnp/message.h>

#include "protocol/frame.hpp"
#include "schema/wire.capnp.h"
#include "schema/wire.hpp"
#include "storage/record_batch.hpp"
#include "tests/support/broker.hpp"

using namespace herald;
using protocol::frame_kind;
using std::chrono::milliseconds;

namespace {

// A blocking TCP client speaking raw frames.
class raw_client {
public:
  explicit raw_client(const std::string& address) {
    auto colon = address.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
    inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      throw std::runtime_error("cannot connect to " + address);
  }
  ~raw_client() {
    if (fd_ >= 0)
      close(fd_);
  }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  void send_bytes(const std::vector<char>& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0)
        throw std::runtime_error("send failed");
      off += static_cast<std::size_t>(n);
    }
  }
  void send_frame(frame_kind kind, std::uint64_t correlation, const std::vector<char>& payload) {
    send_bytes(protocol::encode_frame(kind, correlation, 0, payload));
  }

  // Sends what the socket takes now without blocking, from `offset` on; the
  // new offset (unchanged when the server reads nothing of ours).
  std::size_t send_available(const std::vector<char>& bytes, std::size_t offset) {
    while (offset < bytes.size()) {
      auto n = ::send(fd_, bytes.data() + offset, bytes.size() - offset, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n <= 0)
        break;
      offset += static_cast<std::size_t>(n);
    }
    return offset;
  }

  // The next frame, or nullopt when the server closed the connection or
  // nothing came within `timeout`; closed() tells which.
  std::optional<protocol::frame> next(milliseconds timeout = milliseconds{20'000}) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    protocol::frame f;
    for (;;) {
      if (reader_.poll(f) == protocol::frame_reader::status::frame)
        return f;
      REQUIRE_FALSE(reader_.failed());
      auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char buf[65536];
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        return std::nullopt;
      }
      reader_.feed(buf, static_cast<std::size_t>(n), std::chrono::steady_clock::now());
    }
  }
  // Whether the server closed the connection (reads to the end first).
  bool closed_within(milliseconds timeout) {
    while (!closed_ && next(timeout)) {
    }
    return closed_;
  }

private:
  int fd_ = -1;
  bool closed_ = false;
  protocol::frame_reader reader_{protocol::default_max_frame_bytes};
};

std::vector<char> hello_payload() {
  capnp::MallocMessageBuilder b;
  auto h = b.initRoot<schema::Hello>();
  h.setMinVersion(1);
  h.setMaxVersion(1);
  h.setClientId("raw-test");
  return wire::to_bytes(b);
}

void handshake(raw_client& c) {
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

std::vector<char> create_topic(const std::string& name) {
  capnp::MallocMessageBuilder b;
  auto c = b.initRoot<schema::Request>().initCreateTopic();
  c.setName(name);
  c.setPartitions(1);
  c.setReplicationFactor(1);
  return wire::to_bytes(b);
}

std::vector<char> produce(const std::string& topic, const std::string& value) {
  storage::batch_builder builder;
  builder.add(1, std::nullopt, value);
  auto batch = builder.build();
  capnp::MallocMessageBuilder b;
  auto p = b.initRoot<schema::Request>().initProduce();
  p.setTopic(topic);
  p.setPartition(0);
  p.setAcks(schema::Acks::LEADER);
  p.setBatch(kj::arrayPtr(reinterpret_cast<const kj::byte*>(batch.data()), batch.size()));
  return wire::to_bytes(b);
}

std::vector<char> fetch(const std::string& topic, std::int64_t offset, std::uint32_t max_wait_ms) {
  capnp::MallocMessageBuilder b;
  auto f = b.initRoot<schema::Request>().initFetch();
  f.setTopic(topic);
  f.setPartition(0);
  f.setOffset(offset);
  f.setMaxBytes(1 << 20);
  f.setMaxWaitMs(max_wait_ms);
  return wire::to_bytes(b);
}

std::vector<char> latest_offset(const std::string& topic) {
  capnp::MallocMessageBuilder b;
  auto l = b.initRoot<schema::Request>().initListOffsets();
  l.setTopic(topic);
  l.setPartition(0);
  l.setLatest();
  return wire::to_bytes(b);
}

schema::ErrorCode error_of(const protocol::frame& f) {
  wire::message_reader r(f.payload);
  return r.root<schema::Response>().getError().getCode();
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
  raw_client c(b.client_address);
  handshake(c);

  c.send_frame(frame_kind::request, 1, create_topic("t"));
  auto created = c.next();
  REQUIRE(created);
  CHECK(created->correlation == 1);
  CHECK(error_of(*created) == schema::ErrorCode::NONE);
  // The log's end (a new leader's control entries may precede the data).
  c.send_frame(frame_kind::request, 2, latest_offset("t"));
  auto latest = c.next();
  REQUIRE(latest);
  REQUIRE(error_of(*latest) == schema::ErrorCode::NONE);
  wire::message_reader lr(latest->payload);
  const auto end = lr.root<schema::Response>().getListOffsets().getOffset();

  // A fetch that waits for data (correlation 10) is sent first; the produce
  // (11) and a ping (12) overtake it: each answer names its request.
  c.send_frame(frame_kind::request, 10, fetch("t", end, 5000));
  c.send_frame(frame_kind::request, 11, produce("t", "hello over frames"));
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
  CHECK(error_of(got[11]) == schema::ErrorCode::NONE);
  {
    wire::message_reader r(got[11].payload);
    CHECK(r.root<schema::Response>().getProduce().getBaseOffset() == end);
  }
  REQUIRE(got[10].kind == frame_kind::response);
  CHECK(error_of(got[10]) == schema::ErrorCode::NONE);
  wire::message_reader r(got[10].payload);
  auto records = r.root<schema::Response>().getFetch().getRecords();
  CHECK(records.size() > 0);
  std::string bytes(reinterpret_cast<const char*>(records.begin()), records.size());
  CHECK(bytes.find("hello over frames") != std::string::npos);
}

TEST_CASE("framed listener: an oversized length gets a goodbye and a close; the broker serves the next client") {
  broker_with_listener b;
  {
    raw_client bad(b.client_address);
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
  raw_client good(b.client_address);
  handshake(good);
  good.send_frame(frame_kind::request, 7, create_topic("after"));
  auto f = good.next();
  REQUIRE(f);
  CHECK(f->correlation == 7);
  CHECK(error_of(*f) == schema::ErrorCode::NONE);
}

TEST_CASE("framed listener: no hello within --handshake-timeout-ms -> goodbye timeout, close") {
  broker_with_listener b({"--handshake-timeout-ms=300"});
  raw_client c(b.client_address);
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

TEST_CASE("framed listener: over --max-connections-per-ip a connection gets a goodbye and is closed; a freed slot is reused") {
  broker_with_listener b({"--max-connections-per-ip=2"});
  auto first = std::make_unique<raw_client>(b.client_address);
  handshake(*first);
  raw_client second(b.client_address);
  handshake(second);
  {
    raw_client third(b.client_address);
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
    raw_client again(b.client_address);
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
  capnp::MallocMessageBuilder b;
  auto f = b.initRoot<schema::Request>().initFetch();
  f.setTopic(topic);
  f.setPartition(0);
  f.setOffset(offset);
  f.setMaxBytes(1024);
  f.setMaxWaitMs(max_wait_ms);
  return wire::to_bytes(b);
}

// A ready connection to a broker with topic "t"; the offset of its log's end.
std::int64_t ready_with_topic(raw_client& c) {
  handshake(c);
  c.send_frame(frame_kind::request, 1, create_topic("t"));
  auto created = c.next();
  REQUIRE(created);
  REQUIRE(error_of(*created) == schema::ErrorCode::NONE);
  c.send_frame(frame_kind::request, 2, latest_offset("t"));
  auto latest = c.next();
  REQUIRE(latest);
  REQUIRE(error_of(*latest) == schema::ErrorCode::NONE);
  wire::message_reader lr(latest->payload);
  return lr.root<schema::Response>().getListOffsets().getOffset();
}

} // namespace

// One setting bounds a connection's requests in flight: the session behind
// it adds no cap of its own (it once throttled at a fixed 512).
TEST_CASE("framed listener: --max-inflight-requests 1000 lets 800 pipelined requests through unthrottled") {
  broker_with_listener b({"--max-inflight-requests=1000"});
  raw_client c(b.client_address);
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
    auto code = error_of(*f);
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
  raw_client c(b.client_address);
  const auto end = ready_with_topic(c);
  for (std::uint64_t i = 0; i < 17; ++i)
    c.send_frame(frame_kind::request, 100 + i, waiting_fetch("t", end, 3000));
  // The 17th is answered at once; the 16 wait for data until their maxWaitMs.
  auto first = c.next();
  REQUIRE(first);
  CHECK(first->correlation == 116);
  REQUIRE(error_of(*first) == schema::ErrorCode::THROTTLED);
  wire::message_reader r(first->payload);
  CHECK(std::string{r.root<schema::Response>().getError().getMessage().cStr()} ==
        "too many requests in flight on this connection (16)");
  for (int i = 0; i < 16; ++i) {
    auto f = c.next();
    REQUIRE(f);
    CHECK(error_of(*f) == schema::ErrorCode::NONE);
  }
}

// A client that fills the broker-wide budget with frames it never finishes
// holds everyone else only until the budget's stall grace (1 s), not until
// its own frame timeout (30 s): the largest holder with no progress is ended
// while another connection waits.
TEST_CASE("framed listener: over the broker-wide budget the largest stalled holder is ended and a waiting client served") {
  // 66 MiB for all connections; two frames of 64 MiB that never complete fill it.
  broker_with_listener b({"--max-queued-request-bytes=69206016", "--max-connection-inflight-bytes=69206016"});
  std::vector<std::unique_ptr<raw_client>> hogs;
  std::vector<std::vector<char>> frames;
  std::vector<std::size_t> sent;
  for (int i = 0; i < 2; ++i) {
    hogs.push_back(std::make_unique<raw_client>(b.client_address));
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
  raw_client normal(b.client_address);
  handshake(normal);
  normal.send_frame(frame_kind::request, 1, create_topic("t"));
  auto created = normal.next(milliseconds{10'000});
  REQUIRE(created);
  REQUIRE(error_of(*created) == schema::ErrorCode::NONE);
  normal.send_frame(frame_kind::request, 2, latest_offset("t"));
  auto latest = normal.next(milliseconds{10'000});
  REQUIRE(latest);
  wire::message_reader lr(latest->payload);
  const auto end = lr.root<schema::Response>().getListOffsets().getOffset();
  normal.send_frame(frame_kind::request, 3, fetch("t", end, 20'000));
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
