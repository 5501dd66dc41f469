// Durability of a real heraldd process: SIGKILL mid-run at acks=all loses no
// acknowledged record; a torn segment tail is cut at restart and reported.

#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "client/blocking.hpp"
#include "tests/support/broker.hpp"

using namespace herald::test;

namespace {

std::int64_t high_watermark(herald::client::connection& conn, const std::string& topic) {
  try {
    return conn.describe_topic(topic).partitions.at(0).high_watermark;
  } catch (const std::exception&) {
    return -1;
  }
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

} // namespace

TEST_CASE("SIGKILL during an acks=all producer run loses no acknowledged record") {
  temp_dir dir;
  auto data = dir.path() / "data";
  auto out = dir.path() / "out", err = dir.path() / "err";
  constexpr int total = 3'000'000;
  {
    std::ofstream in(dir.path() / "in");
    for (int i = 1; i <= total; ++i)
      in << "record-" << i << "\n";
  }

  std::int64_t acknowledged = 0;
  {
    broker_process broker(data, dir.path());
    REQUIRE(run_cli(broker.address(), "topic create durable", out, err) == 0);
    child_process producer({"/bin/sh", "-c",
                            herald_path() + " --broker " + broker.address() + " produce durable --acks all < "
                              + (dir.path() / "in").string()},
                           dir.path() / "producer.out", dir.path() / "producer.err");
    // Kill the broker once a good share is acknowledged, mid-stream.
    herald::client::connection observer{broker.address()};
    REQUIRE(eventually([&] { return high_watermark(observer, "durable") >= 200'000; }, std::chrono::seconds{60}));
    broker.kill9();
    auto status = producer.wait_for(std::chrono::seconds{60});
    REQUIRE(status.has_value());
    CHECK(*status == 1);  // it reports the failure ...
    std::smatch m;
    auto report = read_file(dir.path() / "producer.out");
    REQUIRE(std::regex_search(report, m, std::regex{"acknowledged ([0-9]+) of ([0-9]+) records"}));
    acknowledged = std::stoll(m[1]);
    CHECK(acknowledged < total);  // ... mid-stream
    auto errors = read_file(dir.path() / "producer.err");
    CHECK(errors.find("lines 1-" + std::to_string(acknowledged) + " are acknowledged") != std::string::npos);
  }
  REQUIRE(acknowledged >= 200'000 - 20'000);  // the high watermark only counts synced records

  broker_process restarted(data, dir.path());
  REQUIRE(run_cli(restarted.address(), "consume durable --from-beginning --timeout-ms 2000", out, err) == 0);
  auto got = lines_of(read_file(out));
  REQUIRE(got.size() >= static_cast<std::size_t>(acknowledged));
  // Every acknowledged record is there, in order, and what survived beyond
  // them is an unbroken continuation (never a gap or garbage).
  for (std::size_t i = 0; i < got.size(); ++i)
    if (got[i] != "record-" + std::to_string(i + 1)) {
      FAIL("record at offset " << i << " is '" << got[i] << "'");
    }
  // The log takes new records after the crash.
  std::ofstream(dir.path() / "more") << "after-crash\n";
  REQUIRE(run_cli(restarted.address(), "produce durable < " + (dir.path() / "more").string(), out, err) == 0);
}

TEST_CASE("a torn segment tail is truncated at restart, reported, and the log goes on") {
  temp_dir dir;
  auto data = dir.path() / "data";
  auto out = dir.path() / "out", err = dir.path() / "err";
  std::ofstream(dir.path() / "in") << "a\nb\nc\n";
  {
    broker_process broker(data, dir.path());
    REQUIRE(run_cli(broker.address(), "topic create torn", out, err) == 0);
    REQUIRE(run_cli(broker.address(), "produce torn < " + (dir.path() / "in").string(), out, err) == 0);
    REQUIRE(broker.stop());
  }
  // Half a batch at the end of the active segment, as a crash mid-write leaves it.
  std::filesystem::path segment;
  for (auto& e : std::filesystem::recursive_directory_iterator(data))
    if (e.path().extension() == ".log")
      segment = e.path();
  REQUIRE(!segment.empty());
  {
    std::ofstream tail(segment, std::ios::app | std::ios::binary);
    tail << std::string(40, '\x7f');
  }
  broker_process restarted(data, dir.path());
  REQUIRE(run_cli(restarted.address(), "consume torn --from-beginning --max-messages 3", out, err) == 0);
  CHECK(read_file(out) == "a\nb\nc\n");
  CHECK(restarted.log().find("recovery cut 40 bytes") != std::string::npos);
  std::ofstream(dir.path() / "d") << "d\n";
  REQUIRE(run_cli(restarted.address(), "produce torn < " + (dir.path() / "d").string(), out, err) == 0);
  REQUIRE(run_cli(restarted.address(), "consume torn --from-beginning --max-messages 4", out, err) == 0);
  CHECK(read_file(out) == "a\nb\nc\nd\n");
}

TEST_CASE("a flipped bit before valid batches makes the partition report itself damaged, bytes kept") {
  // Issue 9 item 2: recovery used to cut the log at the damage, durably
  // deleting the acknowledged batches after it.
  temp_dir dir;
  auto data = dir.path() / "data";
  auto out = dir.path() / "out", err = dir.path() / "err";
  std::ofstream(dir.path() / "in") << "a\nb\nc\n";
  {
    broker_process broker(data, dir.path());
    REQUIRE(run_cli(broker.address(), "topic create hurt", out, err) == 0);
    for (int i = 0; i < 3; ++i)
      REQUIRE(run_cli(broker.address(), "produce hurt --acks all < " + (dir.path() / "in").string(), out, err) == 0);
    REQUIRE(broker.stop());
  }
  std::filesystem::path segment;
  for (auto& e : std::filesystem::recursive_directory_iterator(data))
    if (e.path().extension() == ".log" && e.path().parent_path().filename() != "data")
      segment = e.path();
  REQUIRE(!segment.empty());
  std::string bytes = read_file(segment);
  // The first batch is Raft's bootstrap entry; damage a byte well inside the
  // log so that valid batches follow it.
  REQUIRE(bytes.size() > 400);
  const std::size_t at = bytes.size() / 2;
  bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
  { std::ofstream(segment, std::ios::binary | std::ios::trunc) << bytes; }

  broker_process restarted(data, dir.path());
  CHECK(run_cli(restarted.address(), "consume hurt --from-beginning --max-messages 9 --timeout-ms 2000", out, err) != 0);
  CHECK(read_file(err).find("damaged") != std::string::npos);
  REQUIRE(run_cli(restarted.address(), "topic describe hurt", out, err) == 0);
  CHECK(read_file(out).find("damaged") != std::string::npos);
  CHECK(restarted.log().find("DAMAGED") != std::string::npos);
  CHECK(read_file(segment) == bytes);                               // nothing cut
  CHECK(std::filesystem::exists(segment.parent_path() / "damaged"));  // says why
}
