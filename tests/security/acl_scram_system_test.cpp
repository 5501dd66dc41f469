// ACLs for a real authenticated principal: a heraldd whose client listener
// requires SCRAM-SHA-256. Users alice and admin are made with `herald user
// add` before SASL is switched on (the CLI speaks no SASL yet); then both
// authenticate over raw frames (protocol/frame.hpp, the client's own SASL
// exchange). Without an ACL alice is refused naming User:alice; an
// alterAcls from admin (a super-user) lets her through on the connection she
// already has; a deny wins; metadata lists only her topics.

#include <doctest/doctest.h>

#include <fstream>

#include <capnp/message.h>

#include "schema/wire.capnp.h"
#include "schema/wire.hpp"
#include "tests/security/scram_frames.hpp"
#include "tests/support/broker.hpp"
#include "tests/support/frame_client.hpp"
#include "tests/support/frame_requests.hpp"

using namespace herald;
using namespace herald::test;
using protocol::frame_kind;

namespace {

// A framed connection, one request at a time.
class framed_client {
public:
  explicit framed_client(const std::string& address) : conn_(address) {}

  // hello, then SCRAM rounds; the principal the broker settled on.
  std::string login(const std::string& user, const std::string& password) {
    hello(conn_, "acl-scram-system-test");
    auto r = authenticate(conn_, user, password);
    REQUIRE_MESSAGE(r.code == schema::ErrorCode::NONE, r.message);
    REQUIRE(r.done);
    return r.principal;
  }

  // A request; the response's bytes.
  std::vector<char> call(const std::vector<char>& request) {
    conn_.send_frame(frame_kind::request, ++correlation_, request);
    auto f = conn_.expect_next();
    REQUIRE(f.kind == frame_kind::response);
    return std::move(f.payload);
  }

private:
  frame_client conn_;
  std::uint64_t correlation_ = 0;
};

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

  auto refused = read(alice.call(describe_topic_request("orders")));
  CHECK(refused.code == schema::ErrorCode::AUTHORIZATION_FAILED);
  CHECK(refused.message.find("User:alice may not describe topic orders") != std::string::npos);
  CHECK(read(alice.call(metadata_request())).topics.empty());
  CHECK(read(alice.call(add_acl(false, "User:alice", schema::AclOperation::ALL, "*"))).code ==
        schema::ErrorCode::AUTHORIZATION_FAILED);
  CHECK(read(admin.call(metadata_request())).topics == std::vector<std::string>{"orders", "payroll"});

  // An ACL lets her through, on the connection she already has.
  REQUIRE(read(admin.call(add_acl(false, "User:alice", schema::AclOperation::CONSUME, "ord*"))).code ==
          schema::ErrorCode::NONE);
  CHECK(read(alice.call(describe_topic_request("orders"))).code == schema::ErrorCode::NONE);
  CHECK(read(alice.call(metadata_request())).topics == std::vector<std::string>{"orders"});
  CHECK(read(alice.call(describe_topic_request("payroll"))).code == schema::ErrorCode::AUTHORIZATION_FAILED);

  // Deny wins over the allow.
  REQUIRE(read(admin.call(add_acl(true, "User:alice", schema::AclOperation::DESCRIBE, "orders"))).code ==
          schema::ErrorCode::NONE);
  auto denied = read(alice.call(describe_topic_request("orders")));
  CHECK(denied.code == schema::ErrorCode::AUTHORIZATION_FAILED);
  CHECK(denied.message.find("User:alice may not describe topic orders") != std::string::npos);
  CHECK(read(alice.call(metadata_request())).topics.empty());
}
