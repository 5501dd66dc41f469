// Partition limits per principal on a cluster on ZooKeeper: a topic's owner
// is in its ZooKeeper record, and a broker other than the one that created
// it refuses a create or an alter --partitions that would take the owner
// past its limit (every broker is given the same --quota). The principal is
// User:ANONYMOUS here (no authentication): it gets limits like anyone.

#include <doctest/doctest.h>

#include "tests/support/zk_cluster.hpp"

using namespace herald;
using namespace herald::test;
using namespace std::chrono_literals;

TEST_CASE("ZooKeeper: a topic's owner is in its record - creates and alter --partitions past the owner's limit are "
          "refused on any broker") {
  SKIP_WITHOUT_ZOOKEEPER();
  zk_cluster c(2, {"--quota=User:ANONYMOUS=partitions:4"});
  REQUIRE(c.wait_registered({1, 2}));
  temp_dir dir;
  auto out = dir.path() / "out", err = dir.path() / "err";
  REQUIRE(eventually(
    [&] { return run_cli(c.address(1), "topic create a --partitions 3 --replication-factor 2", out, err) == 0; }, 20s));
  auto record = c.reader().topic("a");
  REQUIRE(record);
  CHECK(record->descriptor.owner == "User:ANONYMOUS");
  // Broker 2's view has it (and shows the owner).
  REQUIRE(eventually([&] {
    return run_cli(c.address(2), "topic describe a", out, err) == 0 &&
           read_file(out).rfind("a\tpartitions=3\treplication-factor=2\towner=User:ANONYMOUS\n", 0) == 0;
  }));

  CHECK(run_cli(c.address(2), "topic create b --partitions 2 --replication-factor 2", out, err) != 0);
  CHECK_MESSAGE(read_file(err).find("quota exceeded: User:ANONYMOUS owns 3 partition(s), its limit is 4; creating "
                                    "topic b with 2 more would exceed it (5)") != std::string::npos,
                read_file(err));
  CHECK(run_cli(c.address(2), "topic alter a --partitions 5", out, err) != 0);
  CHECK_MESSAGE(read_file(err).find("quota exceeded: User:ANONYMOUS owns 3 partition(s), its limit is 4; growing "
                                    "topic a from 3 to 5 partitions adds 2 more would exceed it (5)") !=
                  std::string::npos,
                read_file(err));
  CHECK_MESSAGE(run_cli(c.address(2), "topic alter a --partitions 4", out, err) == 0, read_file(err));
  // Growing rewrote the record: the owner stays.
  CHECK(eventually([&] {
    auto r = c.reader().topic("a");
    return r && r->descriptor.partition_count == 4 && r->descriptor.owner == "User:ANONYMOUS";
  }));
  CHECK(c.reader().topic("b") == std::nullopt);
}
