#include "tests/security/scram_frames.hpp"

#include <doctest/doctest.h>

#include <capnp/message.h>

#include "schema/wire.hpp"
#include "security/sasl_client.hpp"

namespace herald::test {

using protocol::frame_kind;

std::vector<std::string> hello(frame_client& c, const std::string& client_id) {
  c.send_frame(frame_kind::hello, 1, hello_payload(client_id));
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

auth_result authenticate(frame_client& c, const std::string& user, const std::string& password) {
  security::sasl_client sasl(user, password);
  auto step = sasl.start({"SCRAM-SHA-256"});
  REQUIRE(step);
  auth_result out;
  while (step) {
    capnp::MallocMessageBuilder b;
    auto s = b.initRoot<schema::SaslStep>();
    s.setMechanism(step->mechanism);
    s.setPayload(kj::arrayPtr(reinterpret_cast<const kj::byte*>(step->payload.data()), step->payload.size()));
    c.send_frame(frame_kind::sasl, 1, wire::to_bytes(b));
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

} // namespace herald::test
