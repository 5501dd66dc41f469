// SASL on the client's framed connection (client/wire_conversation) against a
// scripted broker that runs the real security::sasl_server: the exchange
// before any request, the principal, and every refusal ending the connection
// with authenticationFailed and a message that says why.

#include <doctest/doctest.h>

#include <capnp/message.h>

#include "client/wire_conversation.hpp"
#include "schema/wire.capnp.h"
#include "schema/wire.hpp"
#include "security/sasl_base64.hpp"
#include "security/sasl_server.hpp"
#include "security/scram.hpp"

using namespace herald;
using namespace std::chrono_literals;
using client::wire_conversation;
using protocol::frame;
using protocol::frame_kind;
using schema::ErrorCode;

namespace {

using time_point = wire_conversation::time_point;

security::scram_credential_lookup alice_only() {
  auto credential = security::make_credential("wonderland", security::scram_min_iterations);
  REQUIRE(credential);
  return [c = *credential](const std::string& user) -> std::optional<security::scram_credential> {
    if (user == "alice")
      return c;
    return std::nullopt;
  };
}

// The broker's end of the handshake, with a real SASL server.
struct sasl_broker {
  protocol::frame_reader reader{protocol::default_max_frame_bytes};
  security::sasl_server sasl{{"SCRAM-SHA-256"}, alice_only()};
  // Replaces the final SASL payload (a forged server signature).
  std::optional<std::string> forge_final;

  std::vector<frame> take(wire_conversation& c) {
    auto bytes = c.take_output();
    reader.feed(bytes.data(), bytes.size(), time_point{});
    std::vector<frame> out;
    frame f;
    while (reader.poll(f) == protocol::frame_reader::status::frame)
      out.push_back(std::move(f));
    REQUIRE_FALSE(reader.failed());
    return out;
  }

  static std::vector<char> hello_reply(std::vector<std::string> sasl) {
    capnp::MallocMessageBuilder b;
    auto r = b.initRoot<schema::HelloReply>();
    wire::set_error(r.initError(), ErrorCode::NONE, "");
    r.setVersion(1);
    r.setNodeId(3);
    auto m = r.initSaslMechanisms(static_cast<unsigned>(sasl.size()));
    for (unsigned i = 0; i < sasl.size(); ++i)
      m.set(i, sasl[i]);
    r.setMaxFrameBytes(1u << 20);
    r.setPrincipal("User:ANONYMOUS");
    return protocol::encode_frame(frame_kind::hello_reply, 0, 0, wire::to_bytes(b));
  }

  // Answers one sasl frame as the broker's connection would.
  std::vector<char> answer(const frame& f) {
    REQUIRE(f.kind == frame_kind::sasl);
    wire::message_reader r(f.payload);
    auto step = r.root<schema::SaslStep>();
    auto payload = step.getPayload();
    auto out = sasl.step(step.getMechanism().cStr(), {reinterpret_cast<const char*>(payload.begin()), payload.size()});
    if (out.done && forge_final)
      out.reply = *forge_final;
    capnp::MallocMessageBuilder b;
    auto reply = b.initRoot<schema::SaslReply>();
    wire::set_error(reply.initError(), out.ok() ? ErrorCode::NONE : ErrorCode::AUTHENTICATION_FAILED, out.error);
    reply.setPayload(kj::arrayPtr(reinterpret_cast<const kj::byte*>(out.reply.data()), out.reply.size()));
    reply.setDone(out.done);
    reply.setPrincipal(out.principal);
    return protocol::encode_frame(frame_kind::sasl_reply, 0, 0, wire::to_bytes(b));
  }
};

void feed(wire_conversation& c, const std::vector<char>& bytes, time_point now) {
  c.on_bytes(bytes.data(), bytes.size(), now);
}

std::vector<char> req(const std::string& s) { return {s.begin(), s.end()}; }

client::wire_settings settings(std::string user, std::string password) {
  client::wire_settings s{"b:1", "test", 5000, 500, 2000};
  s.sasl_user = std::move(user);
  s.sasl_password = std::move(password);
  return s;
}

// Runs the handshake until nothing more is said; returns the frames the
// client sent after its hello.
std::vector<frame> handshake(wire_conversation& c, sasl_broker& broker, time_point now) {
  c.start(now);
  auto hello = broker.take(c);
  REQUIRE(hello.size() == 1);
  feed(c, sasl_broker::hello_reply({"SCRAM-SHA-256"}), now);
  std::vector<frame> sent;
  for (int round = 0; round < 4 && !c.lost(); ++round) {
    auto frames = broker.take(c);
    if (frames.empty() || frames[0].kind != frame_kind::sasl)
      return frames;
    sent.push_back(frames[0]);
    feed(c, broker.answer(frames[0]), now);
  }
  return broker.take(c);
}

} // namespace

TEST_CASE("wire SASL: the right password authenticates before any request goes out") {
  const time_point t0{};
  wire_conversation c{settings("alice", "wonderland"), t0};
  sasl_broker broker;
  const auto a = c.submit(req("A"), t0);
  auto after = handshake(c, broker, t0);
  REQUIRE_MESSAGE(!c.lost(), c.lost_reason());
  CHECK(c.ready());
  CHECK(c.principal() == "User:alice");
  CHECK(broker.sasl.principal() == "User:alice");
  // The held request went out only after the exchange.
  REQUIRE(after.size() == 1);
  CHECK(after[0].kind == frame_kind::request);
  CHECK(after[0].correlation == a);
}

TEST_CASE("wire SASL: a wrong password or unknown user loses the connection with authenticationFailed") {
  for (auto [user, password] : {std::pair{"alice", "guess"}, std::pair{"mallory", "wonderland"}}) {
    const time_point t0{};
    wire_conversation c{settings(user, password), t0};
    sasl_broker broker;
    const auto a = c.submit(req("A"), t0);
    auto after = handshake(c, broker, t0);
    CHECK(after.empty());
    REQUIRE(c.lost());
    CHECK(!c.ready());
    CHECK(c.lost_code() == ErrorCode::AUTHENTICATION_FAILED);
    CHECK(c.lost_reason() ==
          "broker b:1, user '" + std::string(user) + "': the broker refused: unknown user or wrong password");
    auto done = c.take_completions();
    REQUIRE(done.size() == 1);
    CHECK(done[0].correlation == a);
    CHECK(done[0].code == ErrorCode::AUTHENTICATION_FAILED);
  }
}

TEST_CASE("wire SASL: a broker that cannot prove it knows the credential is refused") {
  const time_point t0{};
  wire_conversation c{settings("alice", "wonderland"), t0};
  sasl_broker broker;
  broker.forge_final = "v=" + security::base64_encode(std::string(32, 'x'));
  c.submit(req("A"), t0);
  auto after = handshake(c, broker, t0);
  CHECK(after.empty());
  REQUIRE(c.lost());
  CHECK(c.lost_code() == ErrorCode::AUTHENTICATION_FAILED);
  CHECK(c.lost_reason().find("signature is wrong") != std::string::npos);
}

TEST_CASE("wire SASL: no user configured, no common mechanism, an unasked-for sasl_reply") {
  const time_point t0{};
  {
    wire_conversation c{settings("", ""), t0};
    c.start(t0);
    c.take_output();
    feed(c, sasl_broker::hello_reply({"SCRAM-SHA-256"}), t0);
    REQUIRE(c.lost());
    CHECK(c.lost_code() == ErrorCode::AUTHENTICATION_FAILED);
    CHECK(c.lost_reason() == "broker b:1 requires SASL authentication (SCRAM-SHA-256) and this client has no user configured");
  }
  {
    wire_conversation c{settings("alice", "wonderland"), t0};
    c.start(t0);
    c.take_output();
    feed(c, sasl_broker::hello_reply({"GSSAPI"}), t0);
    REQUIRE(c.lost());
    CHECK(c.lost_code() == ErrorCode::AUTHENTICATION_FAILED);
    CHECK(c.lost_reason().find("supports only SCRAM-SHA-256") != std::string::npos);
  }
  {
    // Without SASL on the listener a user is simply not used.
    wire_conversation c{settings("alice", "wonderland"), t0};
    sasl_broker broker;
    c.start(t0);
    c.take_output();
    feed(c, sasl_broker::hello_reply({}), t0);
    CHECK(c.ready());
    // ... and a sasl_reply then is a broker's protocol error.
    frame f;
    f.kind = frame_kind::sasl;
    capnp::MallocMessageBuilder b;
    b.initRoot<schema::SaslStep>().setMechanism("SCRAM-SHA-256");
    f.payload = wire::to_bytes(b);
    feed(c, broker.answer(f), t0);
    REQUIRE(c.lost());
    CHECK(c.lost_code() == ErrorCode::INVALID_REQUEST);
  }
}

TEST_CASE("wire SASL: a broker that stalls mid-exchange runs into the handshake deadline") {
  const time_point t0{};
  wire_conversation c{settings("alice", "wonderland"), t0};
  sasl_broker broker;
  c.start(t0);
  broker.take(c);
  feed(c, sasl_broker::hello_reply({"SCRAM-SHA-256"}), t0);
  auto first = broker.take(c);
  REQUIRE(first.size() == 1);
  CHECK(first[0].kind == frame_kind::sasl);
  c.on_timer(t0 + 5001ms);
  REQUIRE(c.lost());
  CHECK(!c.ready());
}
