// TLS and SASL SCRAM-SHA-256 on one connection, end to end: heraldd with
// --tls-* and --sasl-mechanisms=SCRAM-SHA-256, the client library with both
// cluster_options.tls and sasl_user/password, and the herald CLI with
// --tls-ca and --user/--password-file. The SCRAM rounds run inside the TLS
// session (after its handshake, before any request), so a wrong password is
// refused with authenticationFailed over TLS, and TLS without credentials or
// credentials without TLS are refused too.

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "client/blocking.hpp"
#include "security/scram.hpp"
#include "security/user_store.hpp"
#include "tests/security/tls_test_support.hpp"
#include "tests/support/broker.hpp"

using namespace herald;
using namespace herald::test;
namespace fs = std::filesystem;

namespace {

// TLS on the client listener and SCRAM required, user alice (password
// "wonderland") a super-user (ACLs are not what these tests are about).
struct tls_scram_broker {
  temp_dir dir;
  std::unique_ptr<broker_process> broker;

  tls_scram_broker() {
    auto data = dir.path() / "data";
    fs::create_directories(data);
    auto credential = security::make_credential("wonderland");
    REQUIRE(credential);
    std::ofstream(data / "users") << security::encode_users({{"alice", security::encode_credential(*credential)}});
    broker = std::make_unique<broker_process>(
      data, dir.path(),
      std::vector<std::string>{"--tls-cert=" + ca_file("broker.crt"), "--tls-key=" + ca_file("broker.key"),
                               "--sasl-mechanisms=SCRAM-SHA-256", "--super-users=User:alice", "--log-level=debug"});
  }
  const std::string& address() const { return broker->address(); }
};

client::cluster_options tls_login(std::string user, std::string password, bool tls = true) {
  client::cluster_options o;
  o.sasl_user = std::move(user);
  o.sasl_password = std::move(password);
  o.tls = tls;
  o.tls_options = client_options();
  return o;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("TLS and SCRAM on one connection: the client library produces and consumes as alice and a wrong password "
          "is refused with authenticationFailed") {
  tls_scram_broker b;
  {
    client::connection conn{b.address(), tls_login("alice", "wonderland")};
    conn.create_topic("both", 2, 1);
    client::producer p(conn);
    for (int i = 0; i < 500; ++i)
      p.send("both", std::nullopt, "secret-" + std::to_string(i));
    auto outcome = p.flush();
    REQUIRE_MESSAGE(outcome.failed == 0, outcome.first_error);
    CHECK(outcome.acknowledged == 500);
    client::consumer_options co;
    co.start = client::start_position::earliest;
    client::consumer c(conn, "both", co);
    std::vector<std::string> got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
    while (got.size() < 500 && std::chrono::steady_clock::now() < deadline) {
      for (auto& r : c.poll(std::chrono::milliseconds{500}))
        got.emplace_back(r.record.value);
    }
    CHECK(got.size() == 500);
    CHECK(std::find(got.begin(), got.end(), "secret-499") != got.end());
  }
  try {
    client::connection conn{b.address(), tls_login("alice", "guess")};
    conn.list_topics();
    FAIL("served alice with a wrong password over TLS");
  } catch (const client::error& e) {
    CHECK(e.code() == schema::ErrorCode::AUTHENTICATION_FAILED);
    CHECK(std::string{e.what()} == "authentication failed: broker " + b.address() +
                                     ", user 'alice': the broker refused: unknown user or wrong password");
  }
  // The SCRAM exchange went through the TLS session: the broker logged the
  // refusal, so the handshake had completed before it.
  CHECK(eventually([&] { return contains(b.broker->log(), "SCRAM"); }));
}

TEST_CASE("TLS and SCRAM on one connection: TLS without credentials and credentials without TLS are refused") {
  tls_scram_broker b;
  try {
    client::connection conn{b.address(), tls_login("", "")};
    conn.list_topics();
    FAIL("served a TLS client without credentials");
  } catch (const client::error& e) {
    CHECK(e.code() == schema::ErrorCode::AUTHENTICATION_FAILED);
    CHECK_MESSAGE(contains(e.what(), "no user configured"), e.what());
  }
  try {
    client::cluster_options o = tls_login("alice", "wonderland", false);
    o.connect_timeout_ms = 3'000;
    client::connection conn{b.address(), o};
    conn.list_topics();
    FAIL("served plaintext credentials on a TLS listener");
  } catch (const client::error& e) {
    CHECK(e.code() != schema::ErrorCode::NONE);
  }
  // Still serving the right client afterwards.
  client::connection conn{b.address(), tls_login("alice", "wonderland")};
  CHECK_NOTHROW(conn.list_topics());
}

TEST_CASE("TLS and SCRAM on one connection: herald --tls-ca --user --password-file produces and consumes and a "
          "wrong password is refused with the broker's reason") {
  tls_scram_broker b;
  auto good = b.dir.path() / "alice.password";
  auto wrong = b.dir.path() / "wrong.password";
  std::ofstream(good) << "wonderland\n";
  std::ofstream(wrong) << "guess\n";
  {
    std::ofstream in(b.dir.path() / "in");
    for (int i = 1; i <= 300; ++i)
      in << "cli-" << i << "\n";
  }
  auto out = b.dir.path() / "cli.out";
  auto err = b.dir.path() / "cli.err";
  const std::string tls = "--tls-ca " + ca_file("ca.crt") + " ";
  const std::string alice = tls + "--user alice --password-file " + good.string() + " ";
  REQUIRE_MESSAGE(run_cli(b.address(), alice + "topic create cli --partitions 1", out, err) == 0, read_file(err));
  REQUIRE_MESSAGE(run_cli(b.address(), alice + "produce cli < " + (b.dir.path() / "in").string(), out, err) == 0,
                  read_file(err));
  CHECK(read_file(out).starts_with("acknowledged 300 of 300 records"));
  REQUIRE_MESSAGE(run_cli(b.address(), alice + "consume cli --from-beginning --max-messages 300", out, err) == 0,
                  read_file(err));
  auto consumed = read_file(out);
  CHECK(std::count(consumed.begin(), consumed.end(), '\n') == 300);
  CHECK(contains(consumed, "cli-300\n"));

  CHECK(run_cli(b.address(), tls + "--user alice --password-file " + wrong.string() + " topic list", out, err) != 0);
  CHECK_MESSAGE(contains(read_file(err), "authentication failed"), read_file(err));
  CHECK_MESSAGE(contains(read_file(err), "unknown user or wrong password"), read_file(err));
  // Credentials without --tls: the TLS listener does not serve them.
  CHECK(run_cli(b.address(), "--user alice --password-file " + good.string() + " topic list", out, err) != 0);
}
