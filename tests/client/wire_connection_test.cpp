// client/wire_connection (the actor on a real socket) against a scripted
// framed server on loopback: a plain thread with blocking sockets that
// answers the hello and echoes requests, or misbehaves as a test asks
// (never answers, freezes after the hello, closes mid-request).

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <caf/all.hpp>
#include <capnp/message.h>

#include "client/actors.hpp"
#include "client/wire_connection.hpp"
#include "protocol/atoms.hpp"
#include "protocol/client_system.hpp"
#include "protocol/errors.hpp"
#include "protocol/frame.hpp"
#include "schema/wire.capnp.h"
#include "schema/wire.hpp"

using namespace herald;
using namespace std::chrono_literals;
using protocol::frame_kind;

namespace {

enum class script { echo, echo_swapped, silent, freeze_after_hello, close_on_request, goodbye_on_request };

// One connection, served on its own thread by `mode`.
class scripted_server {
public:
  explicit scripted_server(script mode) : mode_(mode) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listen_fd_, 4) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~scripted_server() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (conn_fd_ >= 0)
      ::shutdown(conn_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
    if (conn_fd_ >= 0)
      ::close(conn_fd_);
  }
  std::uint16_t port() const { return port_; }
  int pings() const { return pings_; }

private:
  void send_frame(frame_kind kind, std::uint64_t correlation, const std::vector<char>& payload) {
    auto bytes = protocol::encode_frame(kind, correlation, 0, payload);
    std::size_t at = 0;
    while (at < bytes.size()) {
      auto n = ::send(conn_fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0)
        return;
      at += static_cast<std::size_t>(n);
    }
  }

  void serve() {
    conn_fd_ = ::accept(listen_fd_, nullptr, nullptr);
    if (conn_fd_ < 0)
      return;
    protocol::frame_reader reader{protocol::default_max_frame_bytes};
    std::vector<protocol::frame> unanswered;
    char buf[65536];
    while (!stop_) {
      auto n = ::recv(conn_fd_, buf, sizeof buf, 0);
      if (n <= 0)
        return;
      reader.feed(buf, static_cast<std::size_t>(n), protocol::frame_reader::clock::now());
      protocol::frame f;
      while (reader.poll(f) == protocol::frame_reader::status::frame) {
        if (f.kind == frame_kind::hello) {
          if (mode_ == script::silent)
            continue;
          capnp::MallocMessageBuilder b;
          auto r = b.initRoot<schema::HelloReply>();
          r.initError().setCode(schema::ErrorCode::NONE);
          r.setVersion(1);
          r.setNodeId(1);
          r.setMaxFrameBytes(protocol::default_max_frame_bytes);
          send_frame(frame_kind::hello_reply, 0, wire::to_bytes(b));
        } else if (f.kind == frame_kind::ping) {
          ++pings_;
          if (mode_ != script::freeze_after_hello)
            send_frame(frame_kind::pong, f.correlation, {});
        } else if (f.kind == frame_kind::request) {
          if (mode_ == script::goodbye_on_request) {
            capnp::MallocMessageBuilder b;
            wire::set_error(b.initRoot<schema::Goodbye>().initError(), schema::ErrorCode::INVALID_REQUEST,
                            "malformed request payload");
            send_frame(frame_kind::goodbye, 0, wire::to_bytes(b));
            ::shutdown(conn_fd_, SHUT_RDWR);
            return;
          }
          if (mode_ == script::close_on_request) {
            ::shutdown(conn_fd_, SHUT_RDWR);
            return;
          }
          if (mode_ == script::freeze_after_hello)
            continue;
          unanswered.push_back(std::move(f));
          // echo_swapped answers requests two at a time, the second first.
          if (mode_ == script::echo || unanswered.size() == 2) {
            for (auto i = unanswered.rbegin(); i != unanswered.rend(); ++i)
              send_frame(frame_kind::response, i->correlation, i->payload);
            unanswered.clear();
          }
        }
      }
    }
  }

  script mode_;
  int listen_fd_ = -1;
  int conn_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> pings_{0};
  std::thread thread_;
};

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system system{(configure_client_system(cfg), cfg)};
  caf::scoped_actor self{system};

  caf::actor connect(std::uint16_t port, std::uint32_t liveness_ms = 2000) {
    client::wire_connection_options o;
    o.host = "127.0.0.1";
    o.port = port;
    o.connect_timeout_ms = 1000;
    o.conversation.heartbeat_ms = 100;
    o.conversation.liveness_timeout_ms = liveness_ms;
    return client::spawn_wire_connection(system, o, caf::actor_cast<caf::actor>(self));
  }

  caf::error ready(const caf::actor& c) {
    caf::error err;
    self->request(c, 10s, caf::connect_atom::value).receive([](std::int32_t) {}, [&](caf::error& e) { err = e; });  // the broker's node id
    return err;
  }

  caf::expected<std::string> ask(const caf::actor& c, const std::string& text) {
    caf::expected<std::string> out{caf::sec::runtime_error};
    self->request(c, 10s, request_atom::value, std::vector<char>(text.begin(), text.end()))
      .receive([&](std::vector<char>& r) { out = std::string(r.begin(), r.end()); },
               [&](caf::error& e) { out = e; });
    return out;
  }
};

} // namespace

TEST_CASE("wire connection: connects off-actor, says hello, carries requests and their responses") {
  scripted_server server{script::echo};
  fixture f;
  auto c = f.connect(server.port());
  auto err = f.ready(c);
  CHECK_MESSAGE(!err, f.system.render(err));
  auto r = f.ask(c, "hello broker");
  REQUIRE(r);
  CHECK(*r == "hello broker");
  caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
}

TEST_CASE("wire connection: several requests in flight, answered out of order, each gets its own response") {
  scripted_server server{script::echo_swapped};
  fixture f;
  auto c = f.connect(server.port());
  auto h1 = f.self->request(c, 10s, request_atom::value, std::vector<char>{'1'});
  auto h2 = f.self->request(c, 10s, request_atom::value, std::vector<char>{'2'});
  std::string got;
  h1.receive([&](std::vector<char>& r) { got += std::string(r.begin(), r.end()); }, [](caf::error&) {});
  h2.receive([&](std::vector<char>& r) { got += std::string(r.begin(), r.end()); }, [](caf::error&) {});
  CHECK(got == "12");
  caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
}

TEST_CASE("wire connection: nothing listening fails the connect and the actor exits") {
  std::uint16_t port = 0;
  {
    scripted_server gone{script::echo};  // a port that was just free
    port = gone.port();
  }
  fixture f;
  auto c = f.connect(port);
  f.self->monitor(c);
  auto err = f.ready(c);
  REQUIRE(err);
  auto d = decode_error(err);
  CHECK(d.code == schema::ErrorCode::PARTITION_UNAVAILABLE);
  CHECK(d.message.find("cannot connect") != std::string::npos);
  bool down = false;
  f.self->receive([&](caf::down_msg&) { down = true; }, caf::after(10s) >> [] {});
  CHECK(down);
}

TEST_CASE("wire connection: a broker that never answers the hello is given up after the connect timeout") {
  scripted_server server{script::silent};
  fixture f;
  auto c = f.connect(server.port());
  const auto start = std::chrono::steady_clock::now();
  auto err = f.ready(c);
  REQUIRE(err);
  CHECK(decode_error(err).message.find("did not answer the hello within 1000 ms") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("wire connection: a broker frozen with a request in flight is lost after the liveness timeout") {
  scripted_server server{script::freeze_after_hello};
  fixture f;
  auto c = f.connect(server.port(), 600);
  REQUIRE_FALSE(f.ready(c));
  f.self->monitor(c);
  const auto start = std::chrono::steady_clock::now();
  auto r = f.ask(c, "anyone?");
  const auto waited = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(r);
  auto d = decode_error(r.error());
  CHECK(d.code == schema::ErrorCode::PARTITION_UNAVAILABLE);
  CHECK(d.message.find("nothing heard from broker") != std::string::npos);
  CHECK(waited >= 550ms);
  CHECK(waited < 3s);
  CHECK(server.pings() >= 1);  // it pinged before giving up
  bool down = false;
  f.self->receive([&](caf::down_msg&) { down = true; }, caf::after(10s) >> [] {});
  CHECK(down);
}

TEST_CASE("wire connection: the broker closing with a request in flight fails it as maybe-done") {
  scripted_server server{script::close_on_request};
  fixture f;
  auto c = f.connect(server.port());
  REQUIRE_FALSE(f.ready(c));
  auto r = f.ask(c, "x");
  REQUIRE_FALSE(r);
  auto d = decode_error(r.error());
  CHECK(d.code == schema::ErrorCode::PARTITION_UNAVAILABLE);
  CHECK(d.message.find("may or may not") != std::string::npos);
}

TEST_CASE("wire connection: open_session returns a connected connection actor") {
  scripted_server server{script::echo};
  fixture f;
  auto s = client::open_session(f.system, "127.0.0.1", server.port(), caf::actor_cast<caf::actor>(f.self));
  REQUIRE(s);
  auto r = f.ask(*s, "via open_session");
  REQUIRE(r);
  CHECK(*r == "via open_session");
  caf::anon_send_exit(*s, caf::exit_reason::user_shutdown);
}

TEST_CASE("wire connection: a goodbye fails the request in flight with the broker's code and reason") {
  scripted_server server{script::goodbye_on_request};
  fixture f;
  auto c = f.connect(server.port());
  REQUIRE_FALSE(f.ready(c));
  auto r = f.ask(c, "");
  REQUIRE_FALSE(r);
  auto d = decode_error(r.error());
  CHECK(d.code == schema::ErrorCode::INVALID_REQUEST);
  CHECK(d.message.find("malformed request payload") != std::string::npos);
  // Gone: a request to it now fails at once, it does not wait out its timeout.
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(f.ask(c, "again"));
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}
