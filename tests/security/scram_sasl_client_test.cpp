// The client's SASL exchange (security/sasl_client.hpp) against the
// broker's (security/sasl_server.hpp): a round trip, RFC 7677's messages,
// and every way the broker can fail it (refusal, no common mechanism, done
// too early or never, a signature that does not verify).

#include <doctest/doctest.h>

#include <string>

#include "security/sasl_base64.hpp"
#include "security/sasl_client.hpp"
#include "security/sasl_server.hpp"

using namespace herald::security;

namespace {

scram_credential_lookup one_user(std::string name, std::string password) {
  auto credential = make_credential(password, scram_min_iterations);
  REQUIRE(credential);
  return [name, c = *credential](const std::string& user) -> std::optional<scram_credential> {
    if (user == name)
      return c;
    return std::nullopt;
  };
}

const std::vector<std::string> scram_only{"SCRAM-SHA-256"};

} // namespace

TEST_CASE("sasl_client: a round trip with the broker's sasl_server") {
  sasl_client client("alice", "wonderland");
  sasl_server server(scram_only, one_user("alice", "wonderland"));
  auto step = client.start(scram_only);
  int rounds = 0;
  while (step) {
    REQUIRE(++rounds <= 2);
    auto reply = server.step(step->mechanism, step->payload);
    step = client.on_reply(reply.error, reply.reply, reply.done);
  }
  CHECK_MESSAGE(client.done(), client.error());
  CHECK(!client.failed());
  CHECK(server.principal() == "User:alice");
}

TEST_CASE("sasl_client: RFC 7677's client messages") {
  sasl_client client("user", "pencil", "rOprNGfwEbeRWgbNEkqO");
  auto first = client.start({"PLAIN", "SCRAM-SHA-256"});
  REQUIRE(first);
  CHECK(first->mechanism == "SCRAM-SHA-256");
  CHECK(first->payload == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  auto final = client.on_reply("", "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                               false);
  REQUIRE(final);
  CHECK(final->payload ==
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  CHECK(!client.on_reply("", "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", true));
  CHECK(client.done());
}

TEST_CASE("sasl_client: the ways a broker can fail the exchange") {
  const std::string server_first =
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
  auto started = [] {
    sasl_client c("user", "pencil", "rOprNGfwEbeRWgbNEkqO");
    REQUIRE(c.start(scram_only));
    return c;
  };
  {
    sasl_client c("user", "pencil");
    CHECK(!c.start({"PLAIN", "GSSAPI"}));
    CHECK(c.error() == "SASL: the broker offers PLAIN, GSSAPI; this client supports only SCRAM-SHA-256");
  }
  {
    sasl_client c("", "pencil");
    CHECK(!c.start(scram_only));
    CHECK(c.failed());
  }
  {
    auto c = started();
    CHECK(!c.on_reply("unknown user or wrong password", "e=invalid-proof", false));
    CHECK(c.error() == "the broker refused: unknown user or wrong password");
  }
  {
    auto c = started();
    CHECK(!c.on_reply("", server_first, true));
    CHECK(c.error().find("done before") != std::string::npos);
  }
  {
    auto c = started();
    REQUIRE(c.on_reply("", server_first, false));
    CHECK(!c.on_reply("", "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", false));
    CHECK(c.error().find("did not end") != std::string::npos);
    CHECK(!c.done());
  }
  {
    auto c = started();
    REQUIRE(c.on_reply("", server_first, false));
    CHECK(!c.on_reply("", "v=" + base64_encode(std::string(32, 'x')), true));
    CHECK(c.error().find("signature is wrong") != std::string::npos);
    CHECK(!c.done());
  }
  {
    auto c = started();
    CHECK(!c.on_reply("", "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", false));
    CHECK(c.failed());
    // Nothing after a failure.
    CHECK(!c.on_reply("", server_first, false));
  }
}
