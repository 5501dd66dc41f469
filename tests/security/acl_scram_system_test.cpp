// ACLs for a real authenticated principal: a heraldd whose client listener
// requires SCRAM-SHA-256. Users alice and admin are made with `herald user
// add` before SASL is switched on (the CLI speaks no SASL yet); then both
// authenticate over raw frames (protocol/frame.hpp, the client's own SASL
// exchange). Without an ACL alice is refused naming User:alice; an
// alterAcls from admin (a super-user) lets her through on the connection she
// already has; a deny wins; metadata lists only her topics.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

#include <capnp/message.h>

#include "protocol/frame.hpp"
#include "schema/wire.capnp.h"
#include "schema/wire.hpp"
#include "security/sasl_client.hpp"
#include "tests/support/broker.hpp"

using namespace herald;
using namespace herald::test;
using protocol::frame_kind;
using std::chrono::milliseconds;

namespace {

// A blocking TCP client speaking raw frames, one request at a time.
class framed_client {
public:
  explicit framed_client(const std::string& address) {
    auto colon = address.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
    inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      throw std::runtime_error("cannot connect to " + address);
  }
  ~framed_client() {
    if (fd_ >= 0)
      close(fd_);
  }
  framed_client(const framed_client&) = delete;
  framed_client& operator=(const framed_client&) = delete;

  void send(frame_kind kind, const std::vector<char>& payload) {
    auto bytes = protocol::encode_frame(kind, ++correlation_, 0, payload);
    std::size_t off = 0;
    while (off < bytes.size()) {
      auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0)
        throw std::runtime_error("send failed");
      off += static_cast<std::size_t>(n);
    }
  }

  protocol::frame next() {
    auto deadline = std::chrono::steady_clock::now() + milliseconds{20'000};
    protocol::frame f;
    for (;;) {
      if (reader_.poll(f) == protocol::frame_reader::status::frame)
        return f;
      if (reader_.failed())
        throw std::runtime_error("bad frame from the broker");
      auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        throw std::runtime_error("no frame from the broker in time");
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char buf[65536];
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0)
        throw std::runtime_error("the broker closed the connection");
      reader_.feed(buf, static_cast<std::size_t>(n), std::chrono::steady_clock::now());
    }
  }

  // hello, then SCRAM rounds; the principal the broker settled on.
  std::string login(const std::string& user, const std::string& password) {
    capnp::MallocMessageBuilder hb;
    auto h = hb.initRoot<schema::Hello>();
    h.setMinVersion(1);
    h.setMaxVersion(1);
    h.setClientId("acl-scram-system-test");
    send(frame_kind::hello, wire::to_bytes(hb));
    auto reply = next();
    REQUIRE(reply.kind == frame_kind::hello_reply);
    security::sasl_client sasl(user, password);
    auto step = sasl.start({"SCRAM-SHA-256"});
    std::string principal;
    while (step) {
      capnp::MallocMessageBuilder b;
      auto s = b.initRoot<schema::SaslStep>();
      s.setMechanism(step->mechanism);
      s.setPayload(kj::arrayPtr(reinterpret_cast<const kj::byte*>(step->payload.data()), step->payload.size()));
      send(frame_kind::sasl, wire::to_bytes(b));
      auto f = next();
      REQUIRE(f.kind == frame_kind::sasl_reply);
      wire::message_reader r(f.payload);
      auto sr = r.root<schema::SaslReply>();
      REQUIRE(sr.getError().getCode() == schema::ErrorCode::NONE);
      principal = sr.getPrincipal().cStr();
      auto payload = sr.getPayload();
      step = sasl.on_reply("", {reinterpret_cast<const char*>(payload.begin()), payload.size()}, sr.getDone());
    }
    REQUIRE(sasl.done());
    return principal;
  }

  // A request; the response's error code and message, and its bytes.
  std::vector<char> call(const std::vector<char>& request) {
    send(frame_kind::request, request);
    auto f = next();
    REQUIRE(f.kind == frame_kind::response);
    return std::move(f.payload);
  }

private:
  int fd_ = -1;
  std::uint64_t correlation_ = 0;
  protocol::frame_reader reader_{protocol::default_max_frame_bytes};
};

std::vector<char> describe_topic(const std::string& name) {
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::Request>().initDescribeTopic().setName(name);
  return wire::to_bytes(b);
}

std::vector<char> metadata() {
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::Request>().initMetadata();
  return wire::to_bytes(b);
}

// alterAcls with one ACL to add.
std::vector<char> add_acl(bool deny, const std::string& principal, schema::AclOperation op, const std::string& topic) {
  capnp::MallocMessageBuilder b;
  auto a = b.initRoot<schema::Request>().initAlterAcls().initAdd(1)[0];
  a.setPermission(deny ? schema::AclPermission::DENY : schema::AclPermission::ALLOW);
  a.setPrincipal(principal);
  a.setOperation(op);
  a.setResourceType(schema::ResourceType::TOPIC);
  a.setPattern(topic);
  return wire::to_bytes(b);
}

struct outcome {
  schema::ErrorCode code;
  std::string message;
  std::vector<std::string> topics;  // metadata
};

outcome read(const std::vector<char>& bytes) {
  wire::message_reader r(bytes);
  auto resp = r.root<schema::Response>();
  outcome out{resp.getError().getCode(), resp.getError().getMessage().cStr(), {}};
  if (resp.which() == schema::Response::METADATA)
    for (auto t : resp.getMetadata().getTopics())
      out.topics.emplace_back(t.getName().cStr());
  return out;
}

} // namespace

TEST_CASE("ACLs for a SCRAM principal: refused without an ACL naming User:alice, allowed after an ACL is added, deny wins") {
  temp_dir dir;
  auto out = dir.path() / "out", err = dir.path() / "err";
  auto alice_pw = dir.path() / "alice.pw", admin_pw = dir.path() / "admin.pw";
  std::ofstream(alice_pw) << "wonderland\n";
  std::ofstream(admin_pw) << "root-of-trust\n";
  {
    broker_process setup(dir.path() / "data", dir.path());
    REQUIRE(run_cli(setup.address(), "topic create orders", out, err) == 0);
    REQUIRE(run_cli(setup.address(), "topic create payroll", out, err) == 0);
    REQUIRE(run_cli(setup.address(), "user add alice --password-file " + alice_pw.string(), out, err) == 0);
    REQUIRE(run_cli(setup.address(), "user add admin --password-file " + admin_pw.string(), out, err) == 0);
    REQUIRE(setup.stop());
  }
  // --authorizer auto enforces from the start because clients authenticate.
  broker_process broker(dir.path() / "data", dir.path(),
                        {"--sasl-mechanisms=SCRAM-SHA-256", "--super-users=User:admin"});

  framed_client alice(broker.address());
  CHECK(alice.login("alice", "wonderland") == "User:alice");
  framed_client admin(broker.address());
  CHECK(admin.login("admin", "root-of-trust") == "User:admin");

  auto refused = read(alice.call(describe_topic("orders")));
  CHECK(refused.code == schema::ErrorCode::AUTHORIZATION_FAILED);
  CHECK(refused.message.find("User:alice may not describe topic orders") != std::string::npos);
  CHECK(read(alice.call(metadata())).topics.empty());
  CHECK(read(alice.call(add_acl(false, "User:alice", schema::AclOperation::ALL, "*"))).code ==
        schema::ErrorCode::AUTHORIZATION_FAILED);
  CHECK(read(admin.call(metadata())).topics == std::vector<std::string>{"orders", "payroll"});

  // An ACL lets her through, on the connection she already has.
  REQUIRE(read(admin.call(add_acl(false, "User:alice", schema::AclOperation::CONSUME, "ord*"))).code ==
          schema::ErrorCode::NONE);
  CHECK(read(alice.call(describe_topic("orders"))).code == schema::ErrorCode::NONE);
  CHECK(read(alice.call(metadata())).topics == std::vector<std::string>{"orders"});
  CHECK(read(alice.call(describe_topic("payroll"))).code == schema::ErrorCode::AUTHORIZATION_FAILED);

  // Deny wins over the allow.
  REQUIRE(read(admin.call(add_acl(true, "User:alice", schema::AclOperation::DESCRIBE, "orders"))).code ==
          schema::ErrorCode::NONE);
  auto denied = read(alice.call(describe_topic("orders")));
  CHECK(denied.code == schema::ErrorCode::AUTHORIZATION_FAILED);
  CHECK(denied.message.find("User:alice may not describe topic orders") != std::string::npos);
  CHECK(read(alice.call(metadata())).topics.empty());
}
