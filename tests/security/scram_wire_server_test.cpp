// SASL on the broker's framed connection (actors/connection_logic with
// require_sasl) on a fake clock, driven by the real client-side exchange
// (security/sasl_client): hello_reply lists the mechanism, nothing but the
// exchange is accepted before it is done, the principal comes from it, and
// every failure is a sasl_reply/goodbye with authenticationFailed.

#include <doctest/doctest.h>

#include <capnp/message.h>

#include "actors/connection_logic.hpp"
#include "schema/wire.capnp.h"
#include "schema/wire.hpp"
#include "security/sasl_client.hpp"
#include "security/sasl_server.hpp"
#include "security/scram.hpp"

using namespace herald;
using namespace herald::actors;
using protocol::frame_kind;
using schema::ErrorCode;
using time_point = connection_logic::time_point;

namespace {

const time_point t0 = time_point{} + std::chrono::hours{1};

security::scram_credential_lookup alice_only() {
  static const auto credential = security::make_credential("wonderland", security::scram_min_iterations);
  REQUIRE(credential);
  return [](const std::string& user) -> std::optional<security::scram_credential> {
    if (user == "alice")
      return credential;
    return std::nullopt;
  };
}

std::vector<char> frame_of(frame_kind kind, const std::vector<char>& payload, std::uint64_t corr = 0) {
  return protocol::encode_frame(kind, corr, 0, payload);
}

std::vector<char> hello() {
  capnp::MallocMessageBuilder b;
  auto h = b.initRoot<schema::Hello>();
  h.setMinVersion(1);
  h.setMaxVersion(1);
  return frame_of(frame_kind::hello, wire::to_bytes(b));
}

std::vector<char> sasl_step(const std::string& mechanism, const std::string& payload) {
  capnp::MallocMessageBuilder b;
  auto s = b.initRoot<schema::SaslStep>();
  s.setMechanism(mechanism);
  s.setPayload(kj::arrayPtr(reinterpret_cast<const kj::byte*>(payload.data()), payload.size()));
  return frame_of(frame_kind::sasl, wire::to_bytes(b));
}

std::vector<char> metadata_request(std::size_t padding = 0) {
  capnp::MallocMessageBuilder b;
  auto produce = b.initRoot<schema::Request>().initProduce();
  produce.setTopic("t");
  produce.initBatch(static_cast<unsigned>(padding));
  return frame_of(frame_kind::request, wire::to_bytes(b), 9);
}

std::vector<protocol::frame> written(const connection_logic::actions& a) {
  protocol::frame_reader reader(protocol::default_max_frame_bytes);
  reader.feed(a.write.data(), a.write.size(), t0);
  std::vector<protocol::frame> out;
  protocol::frame f;
  while (reader.poll(f) == protocol::frame_reader::status::frame)
    out.push_back(std::move(f));
  REQUIRE_FALSE(reader.failed());
  return out;
}

struct reply_fields {
  ErrorCode code;
  std::string message;
  std::string payload;
  bool done;
  std::string principal;
};
reply_fields sasl_reply(const protocol::frame& f) {
  REQUIRE(f.kind == frame_kind::sasl_reply);
  wire::message_reader r(f.payload);
  auto reply = r.root<schema::SaslReply>();
  auto p = reply.getPayload();
  return {reply.getError().getCode(), reply.getError().getMessage().cStr(),
          std::string(reinterpret_cast<const char*>(p.begin()), p.size()), reply.getDone(),
          reply.getPrincipal().cStr()};
}

ErrorCode goodbye_code(const protocol::frame& f, std::string* message = nullptr) {
  REQUIRE(f.kind == frame_kind::goodbye);
  wire::message_reader r(f.payload);
  auto e = r.root<schema::Goodbye>().getError();
  if (message)
    *message = e.getMessage().cStr();
  return e.getCode();
}

struct fixture {
  connection_limits limits;
  connection_logic logic{limits, 7, t0};
  fixture() { logic.require_sasl(security::sasl_server({"SCRAM-SHA-256"}, alice_only())); }

  connection_logic::actions send(const std::vector<char>& bytes, time_point now = t0) {
    connection_logic::actions a;
    logic.on_bytes(bytes.data(), bytes.size(), now, a);
    logic.on_written(a.write.size(), now, a);
    return a;
  }

  // hello, then the whole exchange for user/password; the actions of the last step.
  connection_logic::actions authenticate(const std::string& user, const std::string& password) {
    auto h = written(send(hello()));
    REQUIRE(h.size() == 1);
    security::sasl_client client(user, password);
    auto step = client.start({"SCRAM-SHA-256"});
    REQUIRE(step);
    connection_logic::actions last;
    while (step) {
      last = send(sasl_step(step->mechanism, step->payload));
      auto frames = written(last);
      REQUIRE(!frames.empty());
      auto r = sasl_reply(frames[0]);
      step = client.on_reply(r.code == ErrorCode::NONE ? "" : r.message, r.payload, r.done);
    }
    return last;
  }
};

} // namespace

TEST_CASE("SASL listener: hello_reply lists SCRAM-SHA-256 and nothing is served before authentication") {
  fixture fx;
  auto a = fx.send(hello());
  auto frames = written(a);
  REQUIRE(frames.size() == 1);
  wire::message_reader r(frames[0].payload);
  auto reply = r.root<schema::HelloReply>();
  REQUIRE(reply.getSaslMechanisms().size() == 1);
  CHECK(std::string{reply.getSaslMechanisms()[0].cStr()} == "SCRAM-SHA-256");
  CHECK(std::string{reply.getPrincipal().cStr()} == "User:ANONYMOUS");
  CHECK_FALSE(a.authenticated);
  CHECK_FALSE(fx.logic.ready());

  auto req = fx.send(metadata_request());
  CHECK(req.close);
  CHECK(req.requests.empty());
  std::string why;
  CHECK(goodbye_code(written(req).at(0), &why) == ErrorCode::AUTHENTICATION_FAILED);
  CHECK(why == "request before authentication: this listener requires SASL (see saslMechanisms in hello_reply)");
}

TEST_CASE("SASL listener: the right password makes the principal User:<name> and lifts the frame limit") {
  fixture fx;
  auto last = fx.authenticate("alice", "wonderland");
  REQUIRE(last.authenticated);
  CHECK(*last.authenticated == "User:alice");
  CHECK_FALSE(last.close);
  auto r = sasl_reply(written(last).at(0));
  CHECK(r.done);
  CHECK(r.principal == "User:alice");
  CHECK(fx.logic.ready());
  auto big = fx.send(metadata_request(200'000));
  CHECK_FALSE(big.close);
  REQUIRE(big.requests.size() == 1);
  // A sasl frame afterwards ends the connection.
  auto again = fx.send(sasl_step("SCRAM-SHA-256", "n,,n=alice,r=x"));
  CHECK(again.close);
  CHECK(goodbye_code(written(again).at(0)) == ErrorCode::AUTHENTICATION_FAILED);
}

TEST_CASE("SASL listener: a wrong password or unknown user gets the reason, a goodbye and a close, the log says which") {
  for (auto [user, password, detail] :
       {std::tuple{"alice", "guess", "authentication failed: SCRAM: wrong password for user 'alice'"},
        std::tuple{"mallory", "wonderland", "authentication failed: SCRAM: unknown user 'mallory'"}}) {
    fixture fx;
    auto last = fx.authenticate(user, password);
    CHECK_FALSE(last.authenticated);
    CHECK(last.close);
    CHECK(last.close_reason == detail);
    auto frames = written(last);
    REQUIRE(frames.size() == 2);
    auto r = sasl_reply(frames[0]);
    CHECK(r.code == ErrorCode::AUTHENTICATION_FAILED);
    CHECK(r.message == "unknown user or wrong password");
    CHECK_FALSE(r.done);
    std::string why;
    CHECK(goodbye_code(frames[1], &why) == ErrorCode::AUTHENTICATION_FAILED);
    CHECK(why == "unknown user or wrong password");
    CHECK_FALSE(fx.logic.ready());
  }
}

TEST_CASE("SASL listener: out of order, malformed, oversized and slow exchanges end the connection") {
  std::string why;
  SUBCASE("sasl before hello") {
    fixture fx;
    auto a = fx.send(sasl_step("SCRAM-SHA-256", "n,,n=alice,r=abc"));
    CHECK(a.close);
    CHECK(goodbye_code(written(a).at(0), &why) == ErrorCode::AUTHENTICATION_FAILED);
    CHECK(why == "sasl before hello");
  }
  SUBCASE("a mechanism not offered") {
    fixture fx;
    fx.send(hello());
    auto a = fx.send(sasl_step("PLAIN", "\1alice\1pw"));
    CHECK(a.close);
    auto frames = written(a);
    REQUIRE(frames.size() == 2);
    CHECK(sasl_reply(frames[0]).message == "SASL: mechanism 'PLAIN' is not offered here (offered: SCRAM-SHA-256)");
  }
  SUBCASE("a sasl frame whose payload is not a SaslStep") {
    fixture fx;
    fx.send(hello());
    auto a = fx.send(frame_of(frame_kind::sasl, {'x', 'y', 'z'}));
    CHECK(a.close);
    CHECK(goodbye_code(written(a).at(0), &why) == ErrorCode::INVALID_REQUEST);
    CHECK(why.rfind("malformed sasl step", 0) == 0);
  }
  SUBCASE("frames stay at the pre-authentication limit until done") {
    fixture fx;
    fx.send(hello());
    auto a = fx.send(sasl_step("SCRAM-SHA-256", std::string(70'000, 'x')));
    CHECK(a.close);
    CHECK(goodbye_code(written(a).at(0), &why) == ErrorCode::INVALID_REQUEST);
    CHECK(why.find("exceeds the limit of 65536") != std::string::npos);
  }
  SUBCASE("the exchange must finish within the handshake timeout") {
    fixture fx;
    fx.send(hello());
    security::sasl_client client("alice", "wonderland");
    auto step = client.start({"SCRAM-SHA-256"});
    fx.send(sasl_step(step->mechanism, step->payload));
    connection_logic::actions a;
    fx.logic.on_tick(t0 + fx.limits.handshake_timeout, a);
    CHECK(a.close);
    CHECK(goodbye_code(written(a).at(0), &why) == ErrorCode::TIMEOUT);
  }
}
