// ACLs and users on a cluster on ZooKeeper: a change made through one
// broker is stored in /herald/acls and /herald/users, and every broker
// (watching them) enforces it; a restarted broker reads them back.

#include <doctest/doctest.h>

#include <fstream>

#include "client/blocking.hpp"
#include "cluster/zk_records.hpp"
#include "cluster/zk_session.hpp"
#include "schema/wire.hpp"
#include "tests/support/zk_cluster.hpp"

using namespace herald;
using namespace herald::test;
using namespace std::chrono_literals;

namespace {

bool contains(const std::filesystem::path& file, const std::string& text) {
  return read_file(file).find(text) != std::string::npos;
}

std::vector<std::string> user_names(const std::string& address) {
  client::connection conn{address, client::connection::routing::pinned};
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::Request>().initDescribeUsers();
  auto bytes = conn.admin_request(wire::to_bytes(builder));
  wire::message_reader reader(bytes);
  std::vector<std::string> out;
  for (auto n : reader.root<schema::Response>().getDescribeUsers().getNames())
    out.push_back(n.cStr());
  return out;
}

void add_user(const std::string& address, const std::string& name, const std::string& credential) {
  client::connection conn{address, client::connection::routing::pinned};
  capnp::MallocMessageBuilder builder;
  auto u = builder.initRoot<schema::Request>().initAlterUsers().initUpsert(1)[0];
  u.setName(name);
  u.setScramSha256(credential);
  conn.admin_request(wire::to_bytes(builder));
}

} // namespace

TEST_CASE("ZooKeeper: ACLs and users changed through one broker are enforced by every broker, also after a restart") {
  SKIP_WITHOUT_ZOOKEEPER();
  zk_cluster c(2);
  REQUIRE(c.wait_registered({1, 2}));
  temp_dir dir;
  auto out = dir.path() / "out", err = dir.path() / "err";
  REQUIRE(eventually([&] { return run_cli(c.address(1), "topic create orders --replication-factor 2", out, err) == 0; },
                     20s));
  REQUIRE(eventually([&] { return run_cli(c.address(2), "topic describe orders", out, err) == 0; }, 20s));

  REQUIRE(run_cli(c.address(1), "acl add --principal User:ANONYMOUS --operation alter --cluster", out, err) == 0);
  REQUIRE(run_cli(c.address(1), "acl add --principal User:ANONYMOUS --operation describe --cluster", out, err) == 0);
  // Stored as one node, in the text form.
  auto node = c.reader().session().get(cluster::zk::paths{}.acls());
  REQUIRE(node.ok());
  CHECK(node.value.data ==
        "version=1\nallow User:ANONYMOUS describe cluster:cluster\nallow User:ANONYMOUS alter cluster:cluster\n");

  // Broker 2 heard of it through its watch: the topic is hidden now.
  CHECK(eventually([&] {
    return run_cli(c.address(2), "topic describe orders", out, err) == 1 &&
           contains(err, "User:ANONYMOUS may not describe topic orders");
  }));
  REQUIRE(run_cli(c.address(2), "acl add --principal User:ANONYMOUS --operation consume --topic orders", out, err) == 0);
  CHECK(eventually([&] { return run_cli(c.address(1), "topic describe orders", out, err) == 0; }));
  REQUIRE(run_cli(c.address(1), "acl list", out, err) == 0);
  CHECK(contains(out, "User:ANONYMOUS  consume    topic:orders"));
  CHECK(contains(err, "authorization enforced"));

  // Users: the credential line is stored as given, names are listed everywhere.
  add_user(c.address(1), "alice", "opaque-credential-line");
  auto user = c.reader().session().get(cluster::zk::paths{}.user("alice"));
  REQUIRE(user.ok());
  CHECK(user.value.data == "version=1\nname=alice\nscram_sha_256=opaque-credential-line\n");
  CHECK(eventually([&] { return user_names(c.address(2)) == std::vector<std::string>{"alice"}; }));

  // A restarted broker reads them back from ZooKeeper.
  REQUIRE_MESSAGE(c.stop(2), c.log(2));  // a clean exit (0): the log says why not
  c.start(2);
  CHECK(eventually([&] {
    return run_cli(c.address(2), "topic describe orders", out, err) == 0;
  }, 30s));
  CHECK(eventually([&] {
    return run_cli(c.address(2), "topic delete orders", out, err) == 1 &&
           contains(err, "User:ANONYMOUS may not delete topic orders");
  }, 30s));
  CHECK(user_names(c.address(2)) == std::vector<std::string>{"alice"});
}
