// Retention in a running broker: whole old segments go, the log start moves,
// consumers from the beginning start there.

#include <doctest/doctest.h>

#include <fstream>
#include <regex>

#include "client/blocking.hpp"
#include "tests/support/broker.hpp"

using namespace herald::test;

TEST_CASE("retention by size removes old segments and moves the log start") {
  temp_dir dir;
  auto data = dir.path() / "data";
  auto out = dir.path() / "out", err = dir.path() / "err";
  {
    std::ofstream in(dir.path() / "in");
    for (int i = 1; i <= 4000; ++i)
      in << "record-" << i << "-" << std::string(200, 'x') << "\n";
  }
  broker_process broker(data, dir.path());
  REQUIRE(run_cli(broker.address(), "topic create retained --segment-bytes 65536 --max-batch-bytes 16384 --retention-bytes 131072", out, err)
          == 0);
  REQUIRE(run_cli(broker.address(), "produce retained < " + (dir.path() / "in").string(), out, err) == 0);

  // Retention runs when the partition opens and then every few seconds.
  herald::client::connection conn{broker.address()};
  std::int64_t log_start = 0;
  REQUIRE(eventually(
    [&] {
      log_start = conn.describe_topic("retained").partitions.at(0).log_start_offset;
      return log_start > 0;
    },
    std::chrono::seconds{30}));
  auto described = conn.describe_topic("retained").partitions.at(0);
  // Offsets 0 and 1 are Raft's configuration and first no-op.
  CHECK(described.high_watermark == 4002);

  REQUIRE(run_cli(broker.address(), "consume retained --from-beginning --timeout-ms 1000 --print-offset", out, err)
          == 0);
  auto text = read_file(out);
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex{"^0:([0-9]+)\trecord-([0-9]+)-"}));
  CHECK(std::stoll(m[1]) >= log_start);
  CHECK(std::stoll(m[2]) == std::stoll(m[1]) - 1);
  CHECK(text.find("record-4000-") != std::string::npos);
}
