// SASL SCRAM-SHA-256 against a real heraldd started with --sasl-mechanisms:
// over a raw framed connection (protocol/frame.hpp) driven by the client's
// own SASL exchange (security/sasl_client), the hello_reply names the
// mechanism, a request before authentication gets goodbye
// authenticationFailed, an unknown user is refused with the same message as
// a wrong password while the broker's log names the cause, and the broker
// keeps serving other connections.

#include <doctest/doctest.h>

#include <fstream>

#include "client/blocking.hpp"
#include "schema/wire.capnp.h"
#include "schema/wire.hpp"
#include "security/scram.hpp"
#include "security/user_store.hpp"
#include "tests/security/scram_frames.hpp"
#include "tests/support/broker.hpp"
#include "tests/support/frame_client.hpp"
#include "tests/support/frame_requests.hpp"

using namespace herald;
using namespace herald::test;
using protocol::frame_kind;
using std::chrono::milliseconds;

namespace {

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
std::vector<std::string> hello(frame_client& c) {
  return test::hello(c, "scram-system-test");
}

schema::ErrorCode goodbye_code(frame_client& c) {
  auto bye = c.next();
  REQUIRE(bye);
  REQUIRE(bye->kind == frame_kind::goodbye);
  wire::message_reader r(bye->payload);
  return r.root<schema::Goodbye>().getError().getCode();
}

} // namespace

TEST_CASE("SCRAM system: hello_reply names SCRAM-SHA-256, a request before authentication gets goodbye authenticationFailed") {
  scram_broker b;
  frame_client c(b.client_address);
  CHECK(hello(c) == std::vector<std::string>{"SCRAM-SHA-256"});
  c.send_frame(frame_kind::request, 1, metadata_request());
  CHECK(goodbye_code(c) == schema::ErrorCode::AUTHENTICATION_FAILED);
  CHECK(!c.next(milliseconds{10'000}));
  CHECK(c.closed());
}

TEST_CASE("SCRAM system: an unknown user is refused like a wrong password, the log names the cause, others are still served") {
  scram_broker b;
  {
    frame_client c(b.client_address);
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
  frame_client other(b.client_address);
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
