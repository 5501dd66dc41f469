// The herald CLI against a real heraldd process.

#include <doctest/doctest.h>

#include <fstream>

#include "tests/support/broker.hpp"

using namespace herald::test;

namespace {

std::filesystem::path write_lines(const std::filesystem::path& file, int from, int to, const std::string& prefix = "") {
  std::ofstream out(file);
  for (int i = from; i <= to; ++i)
    out << prefix << i << "\n";
  return file;
}

std::string expected_lines(int from, int to, const std::string& prefix = "") {
  std::string s;
  for (int i = from; i <= to; ++i)
    s += prefix + std::to_string(i) + "\n";
  return s;
}

} // namespace

TEST_CASE("topics are created, listed, described and deleted") {
  temp_dir dir;
  broker_process broker(dir.path() / "data", dir.path());
  auto out = dir.path() / "out", err = dir.path() / "err";

  REQUIRE(run_cli(broker.address(), "topic create orders --partitions 3", out, err) == 0);
  CHECK(read_file(out) == "created topic orders\n");
  CHECK(run_cli(broker.address(), "topic create orders --partitions 3", out, err) == 1);
  CHECK(read_file(err).find("already exists") != std::string::npos);
  CHECK(run_cli(broker.address(), "topic create bad/name", out, err) == 1);
  CHECK(run_cli(broker.address(), "topic create replicated --replication-factor 3", out, err) == 1);

  REQUIRE(run_cli(broker.address(), "topic list", out, err) == 0);
  CHECK(read_file(out).find("orders\tpartitions=3") != std::string::npos);
  REQUIRE(run_cli(broker.address(), "topic describe orders", out, err) == 0);
  // Offsets 0 and 1 hold Raft's first entries (the configuration, the first
  // leader's no-op): control batches, invisible to consumers.
  CHECK(read_file(out).find("partition=2\tleader=1\tlog-start=0\thigh-watermark=2") != std::string::npos);

  REQUIRE(run_cli(broker.address(), "topic delete orders", out, err) == 0);
  REQUIRE(run_cli(broker.address(), "topic list", out, err) == 0);
  CHECK(read_file(out).find("orders") == std::string::npos);
  CHECK(run_cli(broker.address(), "topic describe orders", out, err) == 1);

  // A topic created again under the same name starts empty.
  REQUIRE(run_cli(broker.address(), "topic create orders", out, err) == 0);
  REQUIRE(run_cli(broker.address(), "topic describe orders", out, err) == 0);
  CHECK(read_file(out).find("high-watermark=2") != std::string::npos);
}

TEST_CASE("records produced through the CLI are consumed back in order, with keys and offsets") {
  temp_dir dir;
  broker_process broker(dir.path() / "data", dir.path());
  auto out = dir.path() / "out", err = dir.path() / "err";
  REQUIRE(run_cli(broker.address(), "topic create events", out, err) == 0);

  auto input = write_lines(dir.path() / "in", 1, 20000, "value-");
  for (const char* acks : {"all", "1"}) {
    CAPTURE(acks);
    REQUIRE(run_cli(broker.address(), std::string{"produce events --acks "} + acks + " < " + input.string(), out, err)
            == 0);
    CHECK(read_file(out).starts_with("acknowledged 20000 of 20000 records"));
  }
  REQUIRE(run_cli(broker.address(), "consume events --from-beginning --max-messages 40000", out, err) == 0);
  CHECK(read_file(out) == expected_lines(1, 20000, "value-") + expected_lines(1, 20000, "value-"));

  std::ofstream(dir.path() / "keyed") << "k1=v1\nk2=v2\nno-key\n";
  REQUIRE(run_cli(broker.address(), "produce events --key-separator = < " + (dir.path() / "keyed").string(), out,
                  err) == 0);
  REQUIRE(run_cli(broker.address(), "consume events --from-beginning --max-messages 40003 --print-key --print-offset",
                  out, err) == 0);
  auto text = read_file(out);
  CHECK(text.ends_with("0:40002\tk1\tv1\n0:40003\tk2\tv2\n0:40004\tnull\tno-key\n"));

  // acks=0 is fire and forget, yet the records still arrive.
  auto fire = write_lines(dir.path() / "fire", 1, 100, "fire-");
  REQUIRE(run_cli(broker.address(), "produce events --acks 0 < " + fire.string(), out, err) == 0);
  CHECK(read_file(out).starts_with("sent 100 records"));
  REQUIRE(run_cli(broker.address(), "consume events --from-beginning --max-messages 40103", out, err) == 0);
  CHECK(read_file(out).ends_with(expected_lines(1, 100, "fire-")));

  // Without --from-beginning a consumer starts at the end; --timeout-ms ends it.
  REQUIRE(run_cli(broker.address(), "consume events --timeout-ms 300", out, err) == 0);
  CHECK(read_file(out).empty());
}

TEST_CASE("bad input gets a clear error and the broker keeps serving") {
  temp_dir dir;
  broker_process broker(dir.path() / "data", dir.path());
  auto out = dir.path() / "out", err = dir.path() / "err";
  REQUIRE(run_cli(broker.address(), "topic create small --max-batch-bytes 2048", out, err) == 0);

  SUBCASE("unknown topic") {
    std::ofstream(dir.path() / "one") << "x\n";
    CHECK(run_cli(broker.address(), "produce missing < " + (dir.path() / "one").string(), out, err) == 1);
    CHECK(read_file(out).starts_with("acknowledged 0 of 1 records"));
    CHECK(read_file(err).find("topic missing does not exist") != std::string::npos);
    CHECK(run_cli(broker.address(), "consume missing --timeout-ms 100", out, err) == 1);
  }
  SUBCASE("a record over the size limit fails alone") {
    std::ofstream(dir.path() / "big") << std::string(4096, 'x') << "\n";
    CHECK(run_cli(broker.address(), "produce small < " + (dir.path() / "big").string(), out, err) == 1);
    CHECK(read_file(err).find("record too large") != std::string::npos);
    std::ofstream(dir.path() / "ok") << "fine\n";
    CHECK(run_cli(broker.address(), "produce small < " + (dir.path() / "ok").string(), out, err) == 0);
    REQUIRE(run_cli(broker.address(), "consume small --from-beginning --max-messages 1", out, err) == 0);
    CHECK(read_file(out) == "fine\n");
  }
  SUBCASE("bad flags") {
    CHECK(run_cli(broker.address(), "produce small --acks 2", out, err) == 2);
    CHECK(run_cli(broker.address(), "frobnicate", out, err) == 2);
    CHECK(run_shell(herald_path() + " --broker nonsense topic list", out, err) == 1);
    CHECK(read_file(err).find("HOST:PORT") != std::string::npos);
    CHECK(run_shell(heraldd_path() + " --no-such-flag", out, err) != 0);
    CHECK(run_shell(heraldd_path() + " --data-dir " + (dir.path() / "x").string() + " --listen nope", out, err) == 1);
  }
  SUBCASE("cluster changes on a node without ZooKeeper say what they need") {
    CHECK(run_cli(broker.address(), "topic alter small --partitions 4", out, err) == 1);
    CHECK(read_file(err).find("need a cluster on ZooKeeper") != std::string::npos);
    CHECK(run_cli(broker.address(), "partition reassign small 0 --replicas 1,2,4", out, err) == 1);
    CHECK(read_file(err).find("need a cluster on ZooKeeper") != std::string::npos);
    CHECK(run_cli(broker.address(), "partition reassign small 0", out, err) == 2);  // --replicas is required
  }
  SUBCASE("a second node on the same data directory is refused") {
    CHECK(run_shell(heraldd_path() + " --listen 127.0.0.1:0 --data-dir " + (dir.path() / "data").string(), out,
                    err) == 1);
    CHECK(read_file(err).find("locked") != std::string::npos);
  }
  // Whatever happened above, the broker still answers.
  CHECK(run_cli(broker.address(), "topic list", out, err) == 0);
}

TEST_CASE("heraldd reads its options from a config file") {
  temp_dir dir;
  auto config = dir.path() / "heraldd.ini";
  std::ofstream(config) << "data-dir = \"" << (dir.path() / "data").string() << "\"\n"
                        << "listen = \"127.0.0.1:0\"\n"
                        << "port-file = \"" << (dir.path() / "port").string() << "\"\n"
                        << "node-id = 7\n"
                        << "log-level = \"warn\"\n";
  child_process node({heraldd_path(), "--config=" + config.string()}, dir.path() / "out", dir.path() / "log");
  REQUIRE(eventually([&] { return read_file(dir.path() / "port").ends_with("\n"); }));
  auto address = read_file(dir.path() / "port");
  address.pop_back();
  CHECK(read_file(dir.path() / "out").find("heraldd node 7 listening on " + address) != std::string::npos);
  auto out = dir.path() / "cli.out", err = dir.path() / "cli.err";
  REQUIRE(run_cli(address, "topic create configured", out, err) == 0);
  CHECK(std::filesystem::exists(dir.path() / "data" / "metadata.bin"));
}

TEST_CASE("consume names the partitions it could not read and exits non-zero") {
  temp_dir dir;
  auto data = dir.path() / "data";
  auto out = dir.path() / "out", err = dir.path() / "err";
  {
    broker_process broker(data, dir.path());
    REQUIRE(run_cli(broker.address(), "topic create split --partitions 2", out, err) == 0);
    std::ofstream(dir.path() / "in") << "a\nb\nc\nd\n";
    REQUIRE(run_cli(broker.address(), "produce split < " + (dir.path() / "in").string(), out, err) == 0);
    // A bad flag value is refused rather than taken as "forever".
    CHECK(run_cli(broker.address(), "consume split --timeout-ms -100", out, err) == 2);
    REQUIRE(broker.stop());
  }
  // Partition 1's directory becomes a plain file: its replica cannot open it,
  // fails on every restart and is left offline.
  std::filesystem::path p1;
  for (const auto& e : std::filesystem::directory_iterator(data / "topics"))
    if (e.path().filename().string().starts_with("split-"))
      p1 = e.path() / "1";
  REQUIRE(!p1.empty());
  std::filesystem::remove_all(p1);
  std::ofstream(p1) << "not a directory";

  broker_process broker(data, dir.path());
  CHECK(run_cli(broker.address(), "consume split --from-beginning --timeout-ms 1500", out, err) == 1);
  auto e = read_file(err);
  CHECK(e.find("split/1") != std::string::npos);
  CHECK(e.find("split/0") == std::string::npos);  // the readable one is not named
  CHECK(e.find("partition unavailable") != std::string::npos);
  // What partition 0 holds was printed all the same (and nothing on stdout but records).
  CHECK(!read_file(out).empty());
  CHECK(read_file(out).find("error") == std::string::npos);
}
