// ZooKeeper record encoding: round trips, the documented byte layout, and
// refusal of malformed or hostile text with a message (never a throw).

#include <doctest/doctest.h>

#include <random>
#include <string>

#include "cluster/zk_records.hpp"

using namespace herald::cluster;
using namespace herald::cluster::zk;

namespace {

topic_record sample_topic() {
  topic_record t;
  t.descriptor.name = "orders.v2";
  t.descriptor.id = 9160411533520311042ull;
  t.descriptor.partition_count = 3;
  t.descriptor.replication_factor = 3;
  t.descriptor.config.fsync = fsync_policy::interval;
  t.descriptor.config.fsync_interval_ms = 250;
  t.descriptor.config.retention_ms = 3'600'000;
  t.descriptor.config.compact = true;
  t.partitions = {{{1, 2, 3}, 0, true}, {{2, 3, 4}, 5, false}, {{4, 1, 2}, 1, true}};
  return t;
}

void check_same(const topic_record& a, const topic_record& b) {
  CHECK(a.descriptor.name == b.descriptor.name);
  CHECK(a.descriptor.id == b.descriptor.id);
  CHECK(a.descriptor.partition_count == b.descriptor.partition_count);
  CHECK(a.descriptor.replication_factor == b.descriptor.replication_factor);
  CHECK(a.descriptor.config.segment_bytes == b.descriptor.config.segment_bytes);
  CHECK(a.descriptor.config.max_batch_bytes == b.descriptor.config.max_batch_bytes);
  CHECK(a.descriptor.config.fsync == b.descriptor.config.fsync);
  CHECK(a.descriptor.config.fsync_interval_ms == b.descriptor.config.fsync_interval_ms);
  CHECK(a.descriptor.config.retention_ms == b.descriptor.config.retention_ms);
  CHECK(a.descriptor.config.retention_bytes == b.descriptor.config.retention_bytes);
  CHECK(a.descriptor.config.compact == b.descriptor.config.compact);
  CHECK(a.descriptor.config.tombstone_retention_ms == b.descriptor.config.tombstone_retention_ms);
  CHECK(a.descriptor.config.min_compaction_lag_ms == b.descriptor.config.min_compaction_lag_ms);
  CHECK(a.descriptor.owner == b.descriptor.owner);
  CHECK(a.partitions == b.partitions);
}

// Replaces the first occurrence of `from` in `text`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

} // namespace

TEST_CASE("a broker record round-trips and reads as documented") {
  broker_record b{7, "10.0.0.7", 9092, "rack-a", 2, "", 0};
  const auto text = encode(b);
  CHECK(text == "version=1\nid=7\nhost=10.0.0.7\nport=9092\nrack=rack-a\nweight=2\n");
  auto back = decode_broker(text);
  REQUIRE_MESSAGE(back.ok(), back.error);
  CHECK(back.value == b);

  broker_record no_rack{1, "localhost", 1, "", 1, "", 0};
  auto again = decode_broker(encode(no_rack));
  REQUIRE_MESSAGE(again.ok(), again.error);
  CHECK(again.value == no_rack);

  broker_record two_listeners{7, "10.0.0.7", 9092, "", 1, "10.1.0.7", 9093};
  const auto both = encode(two_listeners);
  CHECK(both == "version=1\nid=7\nhost=10.0.0.7\nport=9092\nrack=\nweight=1\ncluster=10.1.0.7:9093\n");
  auto back2 = decode_broker(both);
  REQUIRE_MESSAGE(back2.ok(), back2.error);
  CHECK(back2.value == two_listeners);
  for (const auto* bad : {"cluster=10.1.0.7", "cluster=:9093", "cluster=h:0", "cluster=h:70000"}) {
    CAPTURE(bad);
    auto r = decode_broker("version=1\nid=7\nhost=h\nport=1\nrack=\nweight=1\n" + std::string{bad} + "\n");
    CHECK_FALSE(r.ok());
    CHECK(r.error.find("cluster") != std::string::npos);
  }
}

TEST_CASE("a controller record round-trips") {
  controller_record c{3, 42};
  CHECK(encode(c) == "version=1\nid=3\nepoch=42\n");
  auto back = decode_controller(encode(c));
  REQUIRE_MESSAGE(back.ok(), back.error);
  CHECK(back.value == c);
  CHECK_FALSE(decode_controller("version=1\nid=3\nepoch=0\n").ok());
}

TEST_CASE("a topic record round-trips with its config and per-partition assignment") {
  const auto t = sample_topic();
  const auto text = encode(t);
  CHECK(text.starts_with("version=1\nname=orders.v2\nid=9160411533520311042\npartitions=3\nreplication_factor=3\n"));
  CHECK(text.find("\npartition.1=replicas:2,3,4 epoch:5 settled:false\n") != std::string::npos);
  CHECK(text.find("\ncleanup=compact\n") != std::string::npos);
  auto back = decode_topic(text);
  REQUIRE_MESSAGE(back.ok(), back.error);
  check_same(back.value, t);
}

TEST_CASE("a topic's owner is an optional owner= line - records without one have no owner") {
  auto t = sample_topic();
  CHECK(encode(t).find("owner=") == std::string::npos);  // none: no line, as older brokers wrote
  CHECK(decode_topic(encode(t)).value.descriptor.owner.empty());
  t.descriptor.owner = "User:alice";
  const auto text = encode(t);
  CHECK(text.find("\nmin_compaction_lag_ms=0\nowner=User:alice\npartition.0=") != std::string::npos);
  auto back = decode_topic(text);
  REQUIRE_MESSAGE(back.ok(), back.error);
  check_same(back.value, t);
  // Not a principal: refused, naming the line.
  auto bad = decode_topic(replaced(text, "owner=User:alice", "owner=alice"));
  CHECK(bad.error.find("owner 'alice' is not User:<name>") != std::string::npos);
  CHECK_FALSE(decode_topic(replaced(text, "owner=User:alice", "owner=User:")).ok());
  CHECK_FALSE(decode_topic(replaced(text, "owner=User:alice", "owner=User:" + std::string(1100, 'a'))).ok());
  CHECK(check_owner("User:CN=host one").empty());
}

TEST_CASE("unknown keys are skipped and key order does not matter") {
  auto text = encode(sample_topic());
  text = replaced(text, "partitions=3\n", "future_field=x=y\n");
  text += "partitions=3\n";
  auto back = decode_topic(text);
  REQUIRE_MESSAGE(back.ok(), back.error);
  check_same(back.value, sample_topic());
}

TEST_CASE("malformed topic records are refused with a message naming what is wrong") {
  const auto good = encode(sample_topic());
  struct bad_case {
    std::string text;
    std::string says;
  };
  const bad_case cases[] = {
    {"", "empty"},
    {good.substr(0, good.size() - 1), "newline"},
    {"version=2\n" + good.substr(10), "newer"},
    {good.substr(10), "version"},
    {replaced(good, "partitions=3", "partitions=0"), "partitions"},
    {replaced(good, "partitions=3", "partitions=3x"), "partitions"},
    {replaced(good, "partitions=3", "partitions=-3"), "partitions"},
    {replaced(good, "partitions=3", "partitions=99999999999999999999"), "partitions"},
    {replaced(good, "partitions=3", "partitions=4"), "partition.3"},
    {replaced(good, "partitions=3", "partitions=2"), "partition.2"},
    {replaced(good, "name=orders.v2", "name=../etc"), "topic name"},
    {replaced(good, "name=orders.v2", "name="), "topic"},
    {replaced(good, "id=9160411533520311042", "id=0"), "id"},
    {replaced(good, "fsync=interval", "fsync=sometimes"), "fsync"},
    {replaced(good, "cleanup=compact", "cleanup=shred"), "cleanup"},
    {replaced(good, "replicas:2,3,4", "replicas:2,2,4"), "twice"},
    {replaced(good, "replicas:2,3,4", "replicas:"), "replicas"},
    {replaced(good, "replicas:2,3,4", "replicas:2,3,"), "comma"},
    {replaced(good, "replicas:2,3,4", "replicas:0,3,4"), "broker id"},
    {replaced(good, "epoch:5", "epoch:five"), "epoch"},
    {replaced(good, "settled:false", "settled:maybe"), "settled"},
    {replaced(good, "partition.1=", "partition.01="), "partition"},
    {good + "name=again\n", "twice"},
    {good + "no equals sign\n", "key=value"},
    {good + "\n", "key=value"},
    {replaced(good, "name=orders.v2", "name=orders\x01"), "control"},
    {replaced(good, "segment_bytes=134217728", "segment_bytes=1"), "segmentBytes"},
  };
  for (const auto& c : cases) {
    auto r = decode_topic(c.text);
    CHECK_MESSAGE(!r.ok(), c.text);
    CHECK_MESSAGE(r.error.find(c.says) != std::string::npos, r.error, " should mention ", c.says);
  }
}

TEST_CASE("malformed broker records are refused") {
  const auto good = encode(broker_record{7, "h", 9092, "", 1, "", 0});
  for (const auto& text : {replaced(good, "port=9092", "port=0"), replaced(good, "port=9092", "port=65536"),
                           replaced(good, "id=7", "id=-7"), replaced(good, "host=h", "host="),
                           replaced(good, "host=h", "host=a b"), replaced(good, "rack=", "rack=a/b"),
                           replaced(good, "weight=1", "weight=0"), replaced(good, "weight=1\n", "")}) {
    auto r = decode_broker(text);
    CHECK_MESSAGE(!r.ok(), text);
    CHECK(r.error.starts_with("broker record: "));
  }
}

TEST_CASE("random bytes and random mutations of a record never crash the decoder") {
  std::mt19937_64 rng{1234};
  const auto good = encode(sample_topic());
  for (int i = 0; i < 20000; ++i) {
    std::string text = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const auto at = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[at] = static_cast<char>(rng()); break;
        case 1: text.erase(at, 1 + rng() % 8); break;
        default: text.insert(at, 1, static_cast<char>(rng())); break;
      }
      if (text.empty())
        text = "x";
    }
    auto r = decode_topic(text);
    if (r.ok()) {  // a mutation that kept it valid must re-encode to something that decodes the same
      auto again = decode_topic(encode(r.value));
      CHECK(again.ok());
    }
    (void)decode_broker(text);
    (void)decode_controller(text);
  }
  CHECK_FALSE(decode_topic(std::string(max_record_bytes + 1, 'a')).ok());
}

TEST_CASE("cluster ids and connect strings") {
  const auto id = new_cluster_id();
  CHECK(id.size() == 32);
  CHECK(decode_cluster_id(id + "\n").value == id);
  CHECK(new_cluster_id() != id);
  CHECK_FALSE(decode_cluster_id("XYZ").ok());
  CHECK_FALSE(decode_cluster_id(id.substr(1)).ok());
  CHECK(new_topic_id() > 0);

  auto c = split_connect_string("a:1,b:2/apps/herald/");
  CHECK(c.error.empty());
  CHECK(c.hosts == "a:1,b:2");
  CHECK(c.prefix == "/apps/herald");
  CHECK(split_connect_string("a:1").prefix.empty());
  CHECK(split_connect_string("a:1/").prefix.empty());
  CHECK_FALSE(split_connect_string("/x").error.empty());
  CHECK_FALSE(split_connect_string("a:1/x//y").error.empty());
  CHECK_FALSE(split_connect_string("a:1/x/../y").error.empty());

  paths p{"/apps"};
  CHECK(p.broker(3) == "/apps/herald/brokers/3");
  CHECK(p.topic("t") == "/apps/herald/topics/t");
  CHECK(paths{}.controller() == "/herald/controller");
}
