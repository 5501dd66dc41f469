// Authorization against a real heraldd, driven by the herald CLI: a
// principal without an ACL is refused with a clear error, an ACL lets it
// through, a deny wins, and the ACLs outlive a restart.

#include <doctest/doctest.h>

#include <fstream>

#include "tests/support/broker.hpp"

using namespace herald::test;

namespace {

bool contains(const std::filesystem::path& file, const std::string& text) {
  return read_file(file).find(text) != std::string::npos;
}

} // namespace

TEST_CASE("ACLs: a principal without one is refused, an allow lets it through, a deny wins, and they survive a restart") {
  temp_dir dir;
  auto out = dir.path() / "out", err = dir.path() / "err";
  auto input = dir.path() / "in";
  std::ofstream(input) << "one\ntwo\n";
  auto broker = std::make_unique<broker_process>(dir.path() / "data", dir.path());
  const auto at = [&] { return broker->address(); };

  // No ACL and no authentication: everything is allowed (today's behaviour).
  REQUIRE(run_cli(at(), "topic create orders", out, err) == 0);
  REQUIRE(run_cli(at(), "topic create secret", out, err) == 0);
  REQUIRE(run_cli(at(), "acl list", out, err) == 0);
  CHECK(contains(err, "authorization off"));

  // The first ACLs switch enforcement on (--authorizer auto). Until W1's
  // listener and SASL/mTLS give real principals, the CLI is User:ANONYMOUS.
  REQUIRE(run_cli(at(), "acl add --principal User:ANONYMOUS --operation alter --cluster", out, err) == 0);
  CHECK(contains(out, "added allow User:ANONYMOUS alter cluster:cluster"));
  REQUIRE(run_cli(at(), "acl add --principal User:ANONYMOUS --operation describe --cluster", out, err) == 0);
  REQUIRE(run_cli(at(), "acl list", out, err) == 0);
  CHECK(contains(out, "PERMISSION"));
  CHECK(contains(out, "User:ANONYMOUS"));
  CHECK(contains(err, "authorization enforced"));

  // No produce ACL: refused, and the message says who, what and which.
  CHECK(run_cli(at(), "produce orders < " + input.string(), out, err) == 1);
  CHECK(contains(err, "authorization failed"));
  CHECK(contains(err, "User:ANONYMOUS may not"));
  CHECK(contains(err, "topic orders"));
  CHECK(run_cli(at(), "topic delete orders", out, err) == 1);
  CHECK(contains(err, "User:ANONYMOUS may not delete topic orders"));

  // An allow lets it through; describe comes with produce, so the topic
  // is listed, and only that one.
  REQUIRE(run_cli(at(), "acl add --principal User:ANONYMOUS --operation produce --topic ord*", out, err) == 0);
  REQUIRE(run_cli(at(), "produce orders < " + input.string(), out, err) == 0);
  CHECK(contains(out, "acknowledged 2 of 2"));
  REQUIRE(run_cli(at(), "topic list", out, err) == 0);
  CHECK(contains(out, "orders"));
  CHECK_FALSE(contains(out, "secret"));
  CHECK(run_cli(at(), "topic describe secret", out, err) == 1);
  CHECK(contains(err, "User:ANONYMOUS may not describe topic secret"));
  // Consuming needs its own ACL.
  CHECK(run_cli(at(), "consume orders --from-beginning --max-messages 2 --timeout-ms 3000", out, err) == 1);

  // Deny wins over the allow.
  REQUIRE(run_cli(at(), "acl add --deny --principal User:* --operation produce --topic orders", out, err) == 0);
  CHECK(run_cli(at(), "produce orders < " + input.string(), out, err) == 1);
  CHECK(contains(err, "User:ANONYMOUS may not produce topic orders"));

  // A bad ACL is refused whole with the reason.
  CHECK(run_cli(at(), "acl add --principal alice --operation produce --topic x", out, err) == 1);
  CHECK(contains(err, "User:<name>"));

  // The ACLs live in the data directory: after a restart the deny still holds.
  REQUIRE(broker->stop());
  broker = std::make_unique<broker_process>(dir.path() / "data", dir.path());
  CHECK(run_cli(at(), "produce orders < " + input.string(), out, err) == 1);
  CHECK(contains(err, "User:ANONYMOUS may not produce topic orders"));
  // Removing the deny lets the allow through again.
  REQUIRE(run_cli(at(), "acl remove --deny --principal User:* --operation produce --topic orders", out, err) == 0);
  CHECK(contains(out, "removed deny User:* produce topic:orders"));
  REQUIRE(run_cli(at(), "produce orders < " + input.string(), out, err) == 0);
  REQUIRE(run_cli(at(), "acl remove --principal User:nobody --operation produce --topic orders", out, err) == 0);
  CHECK(contains(out, "no such ACL"));
}

TEST_CASE("--authorizer on refuses everything but super-users from the start") {
  temp_dir dir;
  auto out = dir.path() / "out", err = dir.path() / "err";
  {
    broker_process broker(dir.path() / "data", dir.path(), {"--authorizer", "on"});
    CHECK(run_cli(broker.address(), "topic create t", out, err) == 1);
    CHECK(contains(err, "User:ANONYMOUS may not create the cluster"));
    CHECK(run_cli(broker.address(), "acl add --principal User:a --operation all --topic t", out, err) == 1);
    CHECK(contains(err, "may not alter the cluster"));
    REQUIRE(broker.stop());
  }
  broker_process super(dir.path() / "data", dir.path(), {"--authorizer", "on", "--super-users", "User:ANONYMOUS"});
  REQUIRE(run_cli(super.address(), "topic create t", out, err) == 0);
}

TEST_CASE("heraldd refuses a bad --super-users list and a damaged ACL file") {
  temp_dir dir;
  auto out = dir.path() / "out", err = dir.path() / "err";
  CHECK(std::system((heraldd_path() + " --data-dir " + (dir.path() / "d1").string() +
                     " --super-users admin > " + out.string() + " 2> " + err.string())
                      .c_str()) != 0);
  CHECK(contains(err, "--super-users"));
  std::filesystem::create_directories(dir.path() / "d2");
  std::ofstream(dir.path() / "d2" / "acls") << "version=1\nallow User:a fly topic:t\n";
  CHECK(std::system((heraldd_path() + " --data-dir " + (dir.path() / "d2").string() + " > " + out.string() + " 2> " +
                     err.string())
                      .c_str()) != 0);
  CHECK(contains(err, "cannot load ACLs"));
  CHECK(contains(err, "line 2"));
}

TEST_CASE("herald user add stores a SCRAM credential, never the password, list shows names, remove removes") {
  temp_dir dir;
  auto out = dir.path() / "out", err = dir.path() / "err";
  auto pw = dir.path() / "alice.pw";
  std::ofstream(pw) << "correct horse battery staple\n";
  broker_process broker(dir.path() / "data", dir.path());
  REQUIRE(run_cli(broker.address(), "user add alice --password-file " + pw.string(), out, err) == 0);
  CHECK(contains(out, "user alice added (principal User:alice)"));
  const auto stored = read_file(dir.path() / "data" / "users");
  CHECK(stored.starts_with("version=1\nalice SCRAM-SHA-256:iterations="));
  CHECK(stored.find("horse") == std::string::npos);
  REQUIRE(run_cli(broker.address(), "user add bob --password-file " + pw.string() + " --iterations 4096", out, err) == 0);
  CHECK(read_file(dir.path() / "data" / "users").find("bob SCRAM-SHA-256:iterations=4096,") != std::string::npos);
  REQUIRE(run_cli(broker.address(), "user list", out, err) == 0);
  CHECK(read_file(out) == "alice\nbob\n");
  REQUIRE(run_cli(broker.address(), "user remove alice", out, err) == 0);
  CHECK(contains(out, "removed user alice"));
  REQUIRE(run_cli(broker.address(), "user remove alice", out, err) == 0);
  CHECK(contains(out, "no such user: alice"));
  REQUIRE(run_cli(broker.address(), "user list", out, err) == 0);
  CHECK(read_file(out) == "bob\n");
  CHECK(run_cli(broker.address(), "user add bad/name --password-file " + pw.string(), out, err) == 1);
  CHECK(contains(err, "user name"));
  CHECK(run_cli(broker.address(), "user add carol --password-file " + (dir.path() / "missing").string(), out, err) == 2);
  CHECK(contains(err, "cannot read --password-file"));
  // Once authorization is on, managing users needs alter on the cluster.
  REQUIRE(run_cli(broker.address(), "acl add --principal User:ops --operation alter --cluster", out, err) == 0);
  CHECK(run_cli(broker.address(), "user remove bob", out, err) == 1);
  CHECK(contains(err, "User:ANONYMOUS may not alter the cluster"));
  CHECK(run_cli(broker.address(), "user list", out, err) == 1);
  CHECK(contains(err, "User:ANONYMOUS may not describe the cluster"));
}
