// The broker's SASL exchange per connection (security/sasl_server.hpp):
// a SCRAM client through it ends with the principal User:<name>; mechanisms
// not offered, a mechanism switched mid-exchange, steps after the end, a
// wrong password and an unknown user are refused for good.

#include <doctest/doctest.h>

#include <string>

#include "security/sasl_server.hpp"
#include "security/sasl_user_lookup.hpp"
#include "security/scram.hpp"

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

TEST_CASE("sasl_server: a SCRAM-SHA-256 exchange authenticates User:<name>") {
  sasl_server server(scram_only, one_user("alice", "wonderland"));
  scram_client client("alice", "wonderland");
  auto r1 = server.step("SCRAM-SHA-256", client.first_message().message);
  REQUIRE_MESSAGE(r1.ok(), r1.error);
  CHECK(!r1.done);
  CHECK(!server.done());
  auto c2 = client.final_message(r1.reply);
  REQUIRE(c2.ok());
  auto r2 = server.step("SCRAM-SHA-256", c2.message);
  REQUIRE_MESSAGE(r2.ok(), r2.error);
  CHECK(r2.done);
  CHECK(r2.principal == "User:alice");
  CHECK(server.done());
  CHECK(server.principal() == "User:alice");
  CHECK(client.verify_server_final(r2.reply).ok());
  CHECK(client.authenticated());
  // A third step is out of order.
  auto r3 = server.step("SCRAM-SHA-256", "n,,n=alice,r=again");
  CHECK(!r3.ok());
  CHECK(r3.error == "SASL: already authenticated");
}

TEST_CASE("sasl_server: a wrong password or an unknown user fails with one message, the log says which") {
  for (auto [user, password, detail] : {std::tuple{"alice", "guess", "SCRAM: wrong password for user 'alice'"},
                                        std::tuple{"mallory", "wonderland", "SCRAM: unknown user 'mallory'"}}) {
    sasl_server server(scram_only, one_user("alice", "wonderland"));
    scram_client client(user, password);
    auto r1 = server.step("SCRAM-SHA-256", client.first_message().message);
    REQUIRE(r1.ok());
    auto r2 = server.step("SCRAM-SHA-256", client.final_message(r1.reply).message);
    CHECK(!r2.ok());
    CHECK(!r2.done);
    CHECK(r2.error == "unknown user or wrong password");
    CHECK(r2.log_detail == detail);
    CHECK(r2.reply == "e=invalid-proof");
    CHECK(server.failed());
    CHECK(server.principal().empty());
    CHECK(server.step("SCRAM-SHA-256", "anything").error == "SASL: the exchange already failed");
  }
}

TEST_CASE("sasl_server: mechanisms not offered and mechanism switches are refused") {
  sasl_server server(scram_only, one_user("alice", "wonderland"));
  auto r = server.step("PLAIN", "\0alice\0wonderland");
  CHECK(!r.ok());
  CHECK(r.error == "SASL: mechanism 'PLAIN' is not offered here (offered: SCRAM-SHA-256)");
  CHECK(server.failed());

  sasl_server none({}, one_user("alice", "wonderland"));
  CHECK(none.step("SCRAM-SHA-256", "n,,n=alice,r=abc").error ==
        "SASL: mechanism 'SCRAM-SHA-256' is not offered here (offered: none)");

  sasl_server switching(scram_only, one_user("alice", "wonderland"));
  scram_client client("alice", "wonderland");
  REQUIRE(switching.step("SCRAM-SHA-256", client.first_message().message).ok());
  auto s = switching.step("SCRAM-SHA-1", "c=biws");
  CHECK(!s.ok());
  CHECK(s.error.find("mechanism changed") != std::string::npos);

  sasl_server garbage(scram_only, one_user("alice", "wonderland"));
  auto g = garbage.step("SCRAM-SHA-256", "\xff\xfe garbage");
  CHECK(!g.ok());
  CHECK(g.reply.rfind("e=", 0) == 0);
  CHECK(garbage.failed());
}

TEST_CASE("sasl_server: --sasl-mechanisms values") {
  std::string error;
  CHECK(parse_sasl_mechanisms("SCRAM-SHA-256", &error) == std::vector<std::string>{"SCRAM-SHA-256"});
  CHECK(!parse_sasl_mechanisms("", &error));
  CHECK(error == "empty entry in ''");
  CHECK(!parse_sasl_mechanisms("PLAIN", &error));
  CHECK(error == "unsupported mechanism 'PLAIN' (supported: SCRAM-SHA-256)");
  CHECK(!parse_sasl_mechanisms("SCRAM-SHA-256,SCRAM-SHA-256", &error));
  CHECK(!parse_sasl_mechanisms("SCRAM-SHA-256,", &error));
}

TEST_CASE("sasl_server: credentials come from the broker's user store") {
  auto store = std::make_shared<credential_store>();
  auto credential = make_credential("wonderland", scram_min_iterations);
  REQUIRE(credential);
  store->replace({{"alice", encode_credential(*credential)}, {"broken", "SCRAM-SHA-256:iterations=12"}});
  auto lookup = scram_lookup_in(store);
  CHECK(lookup("alice") == credential);
  CHECK(!lookup("broken"));
  CHECK(!lookup("bob"));
  CHECK(!scram_lookup_in(nullptr)("alice"));

  // A user added later is found by a lookup made earlier.
  auto later = make_credential("builder", scram_min_iterations);
  store->replace({{"bob", encode_credential(*later)}});
  sasl_server server({"SCRAM-SHA-256"}, lookup);
  scram_client client("bob", "builder");
  auto r1 = server.step("SCRAM-SHA-256", client.first_message().message);
  auto r2 = server.step("SCRAM-SHA-256", client.final_message(r1.reply).message);
  CHECK_MESSAGE(r2.done, r2.error);
  CHECK(r2.principal == "User:bob");
}
