// The cleaner in a running broker: a compacted topic keeps each key's
// latest record and forgets tombstoned keys; records past their TTL are
// never consumed and their space is reclaimed.

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <set>

#include "client/blocking.hpp"
#include "tests/support/broker.hpp"
#include "tests/support/cluster.hpp"

using namespace herald;
using namespace herald::test;

namespace {

// Every record of `topic` from the beginning: poll until a poll comes back
// empty (the consumer's own fetch wait bounds each poll).
std::vector<storage::record> read_all(client::connection& conn, const std::string& topic) {
  client::consumer_options options;
  options.start = client::start_position::earliest;
  client::consumer consumer(conn, topic, options);
  std::vector<storage::record> out;
  for (;;) {
    auto batch = consumer.poll(std::chrono::milliseconds{500});
    if (batch.empty()) return out;
    for (auto& r : batch) out.push_back(std::move(r.record));
  }
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace

TEST_CASE("a compacted topic keeps each key's latest record and forgets tombstoned keys") {
  temp_dir dir;
  broker_process broker(dir.path() / "data", dir.path(), {"--cleaner-interval-ms=100"});
  client::connection conn{broker.address()};
  cluster::topic_config config;
  config.segment_bytes = 64 << 10;
  config.max_batch_bytes = 16 << 10;
  config.compact = true;
  config.tombstone_retention_ms = 1;
  conn.create_topic("profiles", 1, 0, config);

  const std::string pad(200, 'p');
  {
    client::producer producer(conn);
    for (int round = 0; round < 20; ++round)
      for (int k = 0; k < 50; ++k)
        producer.send("profiles", "k" + std::to_string(k), "v" + std::to_string(round) + pad);
    for (int k = 0; k < 10; ++k) producer.send_tombstone("profiles", "k" + std::to_string(k));
    // One more key, repeated, to close the segments above (it compacts too).
    for (int i = 0; i < 400; ++i) producer.send("profiles", "filler", std::to_string(i) + pad);
    REQUIRE(producer.flush().failed == 0);
  }

  std::map<std::string, std::vector<std::string>> by_key;
  const bool compacted = eventually(
    [&] {
      by_key.clear();
      for (auto& r : read_all(conn, "profiles")) by_key[r.key.value_or("")].push_back(r.value);
      for (int k = 0; k < 10; ++k)
        if (by_key.count("k" + std::to_string(k)) != 0) return false;
      for (int k = 10; k < 50; ++k)
        if (by_key["k" + std::to_string(k)].size() != 1) return false;
      return true;
    },
    std::chrono::seconds{60});
  CHECK(compacted);
  for (int k = 10; k < 50; ++k) CHECK(by_key["k" + std::to_string(k)] == std::vector<std::string>{"v19" + pad});
  CHECK(broker.log().find("record(s) removed") != std::string::npos);
}

TEST_CASE("records past their TTL are never consumed and the cleaner reclaims them") {
  temp_dir dir;
  auto data = dir.path() / "data";
  broker_process broker(data, dir.path(), {"--cleaner-interval-ms=100"});
  client::connection conn{broker.address()};
  cluster::topic_config config;
  config.segment_bytes = 64 << 10;
  config.max_batch_bytes = 16 << 10;
  conn.create_topic("sessions", 1, 0, config);

  const std::string pad(200, 's');
  {
    client::producer producer(conn);
    const auto soon = now_ms() + 1;
    for (int i = 0; i < 300; ++i) producer.send("sessions", std::nullopt, "short-lived-" + std::to_string(i) + pad, soon);
    for (int i = 0; i < 600; ++i) producer.send("sessions", std::nullopt, "kept-" + std::to_string(i) + pad);
    REQUIRE(producer.flush().failed == 0);
  }

  // Consumers skip them at once...
  auto records = read_all(conn, "sessions");
  REQUIRE(records.size() == 600);
  for (const auto& r : records) CHECK(r.value.starts_with("kept-"));

  // ...and the cleaner takes them out of the closed segments.
  REQUIRE(eventually([&] { return broker.log().find("record(s) removed") != std::string::npos; },
                     std::chrono::seconds{60}));
  REQUIRE(broker.stop());
  std::size_t short_lived = 0, kept = 0;
  for (const auto& v : record_values(read_partition_log(data, "sessions", 0))) {
    if (v.starts_with("short-lived-")) ++short_lived;
    if (v.starts_with("kept-")) ++kept;
  }
  CHECK(short_lived == 0);
  CHECK(kept == 600);
}
