// The broker's limits seen through the CLI (issue 8 items 2 and 4): sizes
// and counts out of range are refused with the range, a broker's partition
// cap holds, and `herald partition restart` answers for what it names.

#include <doctest/doctest.h>

#include "tests/support/broker.hpp"

using namespace herald::test;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("topic sizes and counts out of range are refused with the range, and nothing is created") {
  temp_dir dir;
  broker_process broker(dir.path() / "data", dir.path(), {"--max-partitions=10"});
  auto out = dir.path() / "out", err = dir.path() / "err";

  CHECK(run_cli(broker.address(), "topic create huge --segment-bytes 18446744073709551615", out, err) == 1);
  CHECK(contains(read_file(err), "segmentBytes 18446744073709551615 is out of range: it must be between 64 KiB and 16 GiB"));
  CHECK(run_cli(broker.address(), "topic create tiny --max-batch-bytes 100", out, err) == 1);
  CHECK(contains(read_file(err), "maxBatchBytes 100 is out of range"));
  CHECK(run_cli(broker.address(), "topic create many --partitions 5000", out, err) == 1);
  CHECK(contains(read_file(err), "partitions must be between 1 and 4096"));

  REQUIRE(run_cli(broker.address(), "topic create eight --partitions 8", out, err) == 0);
  CHECK(run_cli(broker.address(), "topic create three --partitions 3", out, err) == 1);
  CHECK(contains(read_file(err), "this broker hosts 8 partition(s) and may host at most 10 (heraldd --max-partitions)"));
  REQUIRE(run_cli(broker.address(), "topic create two --partitions 2", out, err) == 0);

  REQUIRE(run_cli(broker.address(), "topic list", out, err) == 0);
  CHECK(read_file(out) == "eight\tpartitions=8\treplication-factor=1\towner=User:ANONYMOUS\n"
                        "two\tpartitions=2\treplication-factor=1\towner=User:ANONYMOUS\n");

  // heraldd's own defaults are held to the same ranges.
  // exec: if heraldd ever accepted the value and served, the shell's
  // timeout kills heraldd itself, not only the shell that forked it.
  CHECK(run_shell("exec " + heraldd_path() + " --data-dir " + (dir.path() / "other").string() +
                    " --listen 127.0.0.1:0 --segment-bytes 18446744073709551615",
                  out, err) != 0);
}

TEST_CASE("herald partition restart answers for what it names") {
  temp_dir dir;
  broker_process broker(dir.path() / "data", dir.path());
  auto out = dir.path() / "out", err = dir.path() / "err";
  REQUIRE(run_cli(broker.address(), "topic create t --partitions 2", out, err) == 0);
  REQUIRE(run_cli(broker.address(), "partition restart t 1", out, err) == 0);
  CHECK(read_file(out) == "t/1 is already running\n");
  CHECK(run_cli(broker.address(), "partition restart t 2", out, err) == 1);
  CHECK(contains(read_file(err), "topic t has no partition 2"));
  CHECK(run_cli(broker.address(), "partition restart nope 0", out, err) == 1);
  CHECK(contains(read_file(err), "topic nope does not exist"));
}
