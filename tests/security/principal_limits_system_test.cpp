// Partition and disk limits per principal (issue 11 item 5) in a real
// heraldd whose client listener requires SCRAM-SHA-256, driven by the herald
// CLI with --user/--password-file: a topic belongs to the principal that
// created it (describe and list show it, also after a restart), a create
// that would take its owner past --quota PRINCIPAL=partitions:N or disk:B is
// refused with quotaExceeded naming the numbers, other principals are not
// affected, a super-user is exempt, and deleting frees the quota.
// ACLs are off (--authorizer=off): they are not what this is about.

#include <doctest/doctest.h>

#include <fstream>

#include "security/scram.hpp"
#include "security/user_store.hpp"
#include "tests/support/broker.hpp"

using namespace herald;
using namespace herald::test;

namespace {

struct limited_broker {
  temp_dir dir;
  std::filesystem::path data = dir.path() / "data";
  std::unique_ptr<broker_process> broker;
  std::vector<std::string> flags;
  std::filesystem::path out = dir.path() / "cli.out";
  std::filesystem::path err = dir.path() / "cli.err";

  explicit limited_broker(std::vector<std::string> extra) {
    std::filesystem::create_directories(data);
    security::user_map users;
    for (const std::string name : {"alice", "bob", "carol", "admin"}) {
      auto credential = security::make_credential(name + "-secret", 4096);
      REQUIRE(credential);
      users[name] = security::encode_credential(*credential);
      std::ofstream(dir.path() / (name + ".password")) << name << "-secret\n";
    }
    std::ofstream(data / "users") << security::encode_users(users);
    flags = {"--sasl-mechanisms=SCRAM-SHA-256", "--authorizer=off", "--super-users=User:admin"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    start();
  }

  void start() { broker = std::make_unique<broker_process>(data, dir.path(), flags); }

  // `herald --user U --password-file F <args>`: its exit status; stdout in
  // out, stderr in err.
  int as(const std::string& user, const std::string& args) {
    return run_cli(broker->address(),
                   "--user " + user + " --password-file " + (dir.path() / (user + ".password")).string() + " " + args,
                   out, err);
  }
};

} // namespace

TEST_CASE("principal limits system: partitions:4 lets alice own 4 partitions - bob and the super-user are not limited - "
          "a delete frees them - owners survive a restart") {
  limited_broker b({"--quota=User:alice=partitions:4"});

  REQUIRE_MESSAGE(b.as("alice", "topic create a1 --partitions 3") == 0, read_file(b.err));
  CHECK(b.as("alice", "topic create a2 --partitions 2") != 0);
  const auto refusal = read_file(b.err);
  CHECK_MESSAGE(refusal.find("quota exceeded: User:alice owns 3 partition(s), its limit is 4; creating topic a2 "
                             "with 2 more would exceed it (5)") != std::string::npos,
                refusal);
  // One more fits exactly.
  CHECK_MESSAGE(b.as("alice", "topic create a3 --partitions 1") == 0, read_file(b.err));
  CHECK(b.as("alice", "topic create a4 --partitions 1") != 0);

  // bob has no limit (no default given); the super-user neither.
  CHECK_MESSAGE(b.as("bob", "topic create b1 --partitions 8") == 0, read_file(b.err));
  CHECK_MESSAGE(b.as("admin", "topic create x1 --partitions 8") == 0, read_file(b.err));

  REQUIRE(b.as("bob", "topic list") == 0);
  CHECK(read_file(b.out) == "a1\tpartitions=3\treplication-factor=1\towner=User:alice\n"
                            "a3\tpartitions=1\treplication-factor=1\towner=User:alice\n"
                            "b1\tpartitions=8\treplication-factor=1\towner=User:bob\n"
                            "x1\tpartitions=8\treplication-factor=1\towner=User:admin\n");

  // Deleting her topic frees its partitions (the delete may still be sweeping:
  // retry the create until it passes or the deadline does).
  REQUIRE(b.as("alice", "topic delete a1") == 0);
  CHECK(eventually([&] { return b.as("alice", "topic create a2 --partitions 2") == 0; }));
  CHECK_MESSAGE(read_file(b.out).find("created topic a2") != std::string::npos, read_file(b.err));

  // The owner is kept in the data directory's metadata.
  REQUIRE(b.broker->stop());
  b.start();
  REQUIRE(b.as("bob", "topic describe a2") == 0);
  CHECK(read_file(b.out).rfind("a2\tpartitions=2\treplication-factor=1\towner=User:alice\n", 0) == 0);
  // And still counts: 2 + 1 = 3 owned, so 2 more are refused.
  CHECK(b.as("alice", "topic create a5 --partitions 2") != 0);
  CHECK_MESSAGE(read_file(b.err).find("User:alice owns 3 partition(s), its limit is 4") != std::string::npos,
                read_file(b.err));
}

TEST_CASE("principal limits system: with a disk limit a topic needs retention.bytes, and the reservation "
          "partitions x replication factor x retention.bytes must fit") {
  limited_broker b({"--quota=User:carol=disk:1000000", "--quota-partitions=100"});

  CHECK(b.as("carol", "topic create unbounded --partitions 1") != 0);
  CHECK_MESSAGE(read_file(b.err).find("quota exceeded: User:carol has a disk limit of 1000000 bytes, so its topics "
                                      "must set retention.bytes") != std::string::npos,
                read_file(b.err));
  CHECK_MESSAGE(b.as("carol", "topic create c1 --partitions 3 --retention-bytes 200000") == 0, read_file(b.err));
  CHECK(b.as("carol", "topic create c2 --partitions 3 --retention-bytes 200000") != 0);
  CHECK_MESSAGE(read_file(b.err).find("User:carol's topics reserve 600000 bytes (partitions x replication factor x "
                                      "retention.bytes), its disk limit is 1000000 bytes; creating topic c2 with 3 "
                                      "partition(s) x 1 x 200000 = 600000 bytes more would exceed it") !=
                  std::string::npos,
                read_file(b.err));
  CHECK_MESSAGE(b.as("carol", "topic create c3 --partitions 2 --retention-bytes 200000") == 0, read_file(b.err));

  // The default partition limit (--quota-partitions) applies to bob, who has
  // no override, and carol's override keeps the default for the part it
  // leaves out; the super-user is exempt.
  CHECK(b.as("bob", "topic create b1 --partitions 101") != 0);
  CHECK_MESSAGE(read_file(b.err).find("User:bob owns 0 partition(s), its limit is 100") != std::string::npos,
                read_file(b.err));
  CHECK(b.as("carol", "topic create c4 --partitions 101 --retention-bytes 1") != 0);
  CHECK_MESSAGE(read_file(b.err).find("User:carol owns 5 partition(s), its limit is 100") != std::string::npos,
                read_file(b.err));
  CHECK_MESSAGE(b.as("admin", "topic create x1 --partitions 101") == 0, read_file(b.err));
}
