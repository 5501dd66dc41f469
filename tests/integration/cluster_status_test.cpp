// `herald cluster status` against a real static cluster: the tables, the
// under-replicated flag once a broker is killed, and exit status 1 once a
// partition has no leader.

#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/cluster.hpp"

using namespace herald::test;

namespace {

struct status_run {
  int rc = -1;
  std::string out;
};

status_run cluster_status(static_cluster& c, int via, const std::filesystem::path& dir) {
  status_run r;
  r.rc = run_cli(c.address(via), "cluster status", dir / "status.out", dir / "status.err");
  r.out = read_file(dir / "status.out");
  return r;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("cluster status shows brokers and partitions, flags under-replicated ones and exits 1 without a leader") {
  temp_dir dir;
  static_cluster c(dir.path(), 3);
  const auto out = dir.path() / "out", err = dir.path() / "err";
  REQUIRE(run_cli(c.address(1), "topic create orders --partitions 3", out, err) == 0);

  // Once every partition has elected and heard its followers.
  status_run s;
  REQUIRE_MESSAGE(eventually([&] {
                    s = cluster_status(c, 2, dir.path());
                    return s.rc == 0 && contains(s.out, "partitions: 3 in 1 topic(s); 0 without leader, 0 under-replicated");
                  }),
                  s.out);
  CHECK(contains(s.out, "brokers: 3 (3 answering); controller: none (static cluster)"));
  CHECK(contains(s.out, "BROKER  ADDRESS          RACK  ALIVE  PARTITIONS  LEADERS\n"));
  CHECK(contains(s.out, "TOPIC   PART  LEADER  REPLICAS  HIGH-WATERMARK  FOLLOWER:LAG\n"));
  std::istringstream lines(s.out);
  int partition_rows = 0;
  for (std::string line; std::getline(lines, line);) {
    CAPTURE(line);
    CHECK(line.size() <= 80);
    if (line.rfind("orders", 0) == 0) {
      ++partition_rows;
      CHECK(contains(line, "1,2,3"));
      CHECK_FALSE(contains(line, "*"));
    }
  }
  CHECK(partition_rows == 3);
  for (int id = 1; id <= 3; ++id)
    CHECK(contains(s.out, std::to_string(id) + "  " + c.address(id) + "  -     yes             3"));

  c.kill9(3);
  // Partitions node 3 led elect another leader; every one then misses node 3.
  REQUIRE_MESSAGE(eventually([&] {
                    s = cluster_status(c, 1, dir.path());
                    return s.rc == 0 && contains(s.out, "UNDER-REPLICATED (3): orders/0 orders/1 orders/2\n");
                  }),
                  s.out);
  CHECK(contains(s.out, "brokers: 3 (2 answering)"));
  CHECK(contains(s.out, "0 without leader, 3 under-replicated"));
  CHECK(contains(s.out, "3  " + c.address(3) + "  -     unreachable           3        0"));
  CHECK(contains(s.out, "3:0*"));
  // Node 3's lag summed over the partitions. A new leader's own entry counts
  // too, so the write below is seen as growth, not as an exact figure.
  auto lag_of_3 = [](const std::string& text) {
    long sum = 0;
    const std::regex lag{R"( 3:([0-9]+)\*)"};
    for (auto it = std::sregex_iterator(text.begin(), text.end(), lag); it != std::sregex_iterator(); ++it)
      sum += std::stol((*it)[1].str());
    return sum;
  };
  const long lag_before = lag_of_3(s.out);

  // A write while node 3 is gone is its lag. One record, so one batch to one
  // partition, sent to whichever live node leads that partition (a refusal,
  // notLeader, appends nothing).
  std::ofstream(dir.path() / "in") << "a\n";
  const auto produce = "produce orders < " + (dir.path() / "in").string();
  REQUIRE(eventually([&] {
    return run_cli(c.address(1), produce, out, err) == 0 || run_cli(c.address(2), produce, out, err) == 0;
  }));
  REQUIRE_MESSAGE(eventually([&] {
                    s = cluster_status(c, 1, dir.path());
                    return lag_of_3(s.out) > lag_before;
                  }),
                  s.out);

  c.kill9(2);
  // Node 1 alone cannot lead: check-quorum makes it step down.
  REQUIRE_MESSAGE(eventually([&] {
                    s = cluster_status(c, 1, dir.path());
                    return s.rc == 1 && contains(s.out, "NO LEADER (3): orders/0 orders/1 orders/2\n");
                  }),
                  s.out);
  CHECK(contains(s.out, "3 without leader"));
}
