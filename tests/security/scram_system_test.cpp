// SASL SCRAM-SHA-256 against a real heraldd started with --sasl-mechanisms:
// over a raw framed connection (protocol/frame.hpp) driven by the client's
// own SASL exchange (security/sasl_client), the hello_reply names the
// mechanism, a request before authentication gets goodbye
// authenticationFailed, an unknown user is refused with the same message as
// a wrong password while the broker's log names the cause, and the broker
// keeps serving other connections.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

#include <capnp/message.h>

#include "client/blocking.hpp"
#include "protocol/frame.hpp"
#include "schema/wire.capnp.h"
#include "schema/wire.hpp"
#include "security/sasl_client.hpp"
#include "security/scram.hpp"
#include "security/user_store.hpp"
#include "tests/support/broker.hpp"

using namespace herald;
using namespace herald::test;
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

  void send_frame(frame_kind kind, const std::vector<char>& payload) {
    auto bytes = protocol::encode_frame(kind, 1, 0, payload);
    std::size_t off = 0;
    while (off < bytes.size()) {
      auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0)
        throw std::runtime_error("send failed");
      off += static_cast<std::size_t>(n);
    }
  }
  // The next frame; nullopt when the server closed or nothing came in time.
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
  bool closed() const { return closed_; }

private:
  int fd_ = -1;
  bool closed_ = false;
  protocol::frame_reader reader_{protocol::default_max_frame_bytes};
};

// A broker whose client listener requires SCRAM-SHA-256, with user alice
// (password "wonderland") in its data directory, a super-user (ACLs are not
// what these tests are about).
struct scram_broker {
  temp_dir dir;
  std::unique_ptr<broker_process> broker;
  std::string client_address;

  scram_broker() {
    auto data = dir.path() / "data";
    std::filesystem::create_directories(data);
    auto credential = security::make_credential("wonderland");
    REQUIRE(credential);
    std::ofstream(data / "users") << security::encode_users({{"alice", security::encode_credential(*credential)}});
    broker = std::make_unique<broker_process>(
      data, dir.path(), std::vector<std::string>{"--sasl-mechanisms=SCRAM-SHA-256"});
    client_address = broker->address();  // --listen: the framed client listener
  }

  static client::cluster_options login(std::string user, std::string password) {
    client::cluster_options o;
    o.sasl_user = std::move(user);
    o.sasl_password = std::move(password);
    return o;
  }
};

// hello -> hello_reply; returns the mechanisms it lists.
std::vector<std::string> hello(raw_client& c) {
  capnp::MallocMessageBuilder b;
  auto h = b.initRoot<schema::Hello>();
  h.setMinVersion(1);
  h.setMaxVersion(1);
  h.setClientId("scram-system-test");
  c.send_frame(frame_kind::hello, wire::to_bytes(b));
  auto reply = c.next();
  REQUIRE(reply);
  REQUIRE(reply->kind == frame_kind::hello_reply);
  wire::message_reader r(reply->payload);
  auto hr = r.root<schema::HelloReply>();
  REQUIRE(hr.getError().getCode() == schema::ErrorCode::NONE);
  std::vector<std::string> out;
  for (auto m : hr.getSaslMechanisms())
    out.emplace_back(m.cStr());
  return out;
}

struct auth_result {
  bool done = false;
  std::string principal;
  schema::ErrorCode code = schema::ErrorCode::NONE;
  std::string message;  // the broker's refusal
};

// The SASL rounds as the client library runs them, over raw frames.
auth_result authenticate(raw_client& c, const std::string& user, const std::string& password) {
  security::sasl_client sasl(user, password);
  auto step = sasl.start({"SCRAM-SHA-256"});
  REQUIRE(step);
  auth_result out;
  while (step) {
    capnp::MallocMessageBuilder b;
    auto s = b.initRoot<schema::SaslStep>();
    s.setMechanism(step->mechanism);
    s.setPayload(kj::arrayPtr(reinterpret_cast<const kj::byte*>(step->payload.data()), step->payload.size()));
    c.send_frame(frame_kind::sasl, wire::to_bytes(b));
    auto reply = c.next();
    REQUIRE(reply);
    REQUIRE(reply->kind == frame_kind::sasl_reply);
    wire::message_reader r(reply->payload);
    auto sr = r.root<schema::SaslReply>();
    out.code = sr.getError().getCode();
    out.message = sr.getError().getMessage().cStr();
    out.principal = sr.getPrincipal().cStr();
    auto payload = sr.getPayload();
    step = sasl.on_reply(out.code == schema::ErrorCode::NONE ? "" : out.message,
                         {reinterpret_cast<const char*>(payload.begin()), payload.size()}, sr.getDone());
  }
  out.done = sasl.done();
  return out;
}

schema::ErrorCode goodbye_code(raw_client& c) {
  auto bye = c.next();
  REQUIRE(bye);
  REQUIRE(bye->kind == frame_kind::goodbye);
  wire::message_reader r(bye->payload);
  return r.root<schema::Goodbye>().getError().getCode();
}

std::vector<char> metadata_request() {
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::Request>().initMetadata();
  return wire::to_bytes(b);
}

} // namespace

TEST_CASE("SCRAM system: hello_reply names SCRAM-SHA-256; a request before authentication gets goodbye authenticationFailed") {
  scram_broker b;
  raw_client c(b.client_address);
  CHECK(hello(c) == std::vector<std::string>{"SCRAM-SHA-256"});
  c.send_frame(frame_kind::request, metadata_request());
  CHECK(goodbye_code(c) == schema::ErrorCode::AUTHENTICATION_FAILED);
  CHECK(!c.next(milliseconds{10'000}));
  CHECK(c.closed());
}

TEST_CASE("SCRAM system: an unknown user is refused like a wrong password; the log names the cause; others are still served") {
  scram_broker b;
  {
    raw_client c(b.client_address);
    hello(c);
    auto r = authenticate(c, "mallory", "wonderland");
    CHECK_FALSE(r.done);
    CHECK(r.code == schema::ErrorCode::AUTHENTICATION_FAILED);
    CHECK(r.message == "unknown user or wrong password");
    CHECK(goodbye_code(c) == schema::ErrorCode::AUTHENTICATION_FAILED);
    CHECK(!c.next(milliseconds{10'000}));
    CHECK(c.closed());
  }
  CHECK(eventually([&] { return b.broker->log().find("SCRAM: unknown user 'mallory'") != std::string::npos; }));
  raw_client other(b.client_address);
  CHECK(hello(other) == std::vector<std::string>{"SCRAM-SHA-256"});
}

TEST_CASE("SCRAM system: the client library is refused with authenticationFailed for a wrong password, an unknown user, no user") {
  scram_broker b;
  for (auto [user, password] : {std::pair{"alice", "guess"}, std::pair{"mallory", "wonderland"}}) {
    try {
      client::connection conn{b.client_address, scram_broker::login(user, password)};
      conn.list_topics();
      FAIL("served user " << user << " with a wrong password");
    } catch (const client::error& e) {
      CHECK(e.code() == schema::ErrorCode::AUTHENTICATION_FAILED);
      CHECK(std::string{e.what()} == "authentication failed: broker " + b.client_address + ", user '" + user +
                                       "': the broker refused: unknown user or wrong password");
    }
  }
  try {
    client::connection conn{b.client_address};
    conn.list_topics();
    FAIL("served a client without credentials");
  } catch (const client::error& e) {
    CHECK(e.code() == schema::ErrorCode::AUTHENTICATION_FAILED);
    CHECK_MESSAGE(std::string{e.what()}.find("requires SASL authentication (SCRAM-SHA-256) and this client has no user "
                                             "configured") != std::string::npos,
                  e.what());
  }
  CHECK(eventually([&] { return b.broker->log().find("SCRAM: unknown user 'mallory'") != std::string::npos; }));
}

TEST_CASE("SCRAM system: herald --user U --password-file F is refused with the broker's reason") {
  scram_broker b;
  auto wrong = b.dir.path() / "wrong.password";
  std::ofstream(wrong) << "guess\n";
  auto out = b.dir.path() / "cli.out";
  auto err = b.dir.path() / "cli.err";
  CHECK(run_cli(b.client_address, "--user alice --password-file " + wrong.string() + " topic list", out, err) != 0);
  CHECK_MESSAGE(read_file(err).find("unknown user or wrong password") != std::string::npos, read_file(err));
  CHECK(run_cli(b.client_address, "topic list", out, err) != 0);
  CHECK_MESSAGE(read_file(err).find("no user configured") != std::string::npos, read_file(err));
  CHECK(run_cli(b.client_address, "--user alice topic list", out, err) != 0);
  CHECK(read_file(err).find("--user and --password-file go together") != std::string::npos);
}
