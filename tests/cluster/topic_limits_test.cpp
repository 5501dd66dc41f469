// The ranges a broker accepts in a topic create (issue 8 item 2).

#include <doctest/doctest.h>

#include "cluster/topic_limits.hpp"

using namespace herald::cluster;

TEST_CASE("topic limits: the defaults are accepted") {
  CHECK(check_topic_config(topic_config{}).empty());
  CHECK(check_partition_count(1, 0, default_max_partitions_per_broker).empty());
  CHECK(check_partition_count(max_partitions_per_topic, 0, default_max_partitions_per_broker).empty());
}

TEST_CASE("topic limits: a segment size out of range is refused with the range") {
  topic_config c;
  c.segment_bytes = 18446744073709551615ull;
  auto why = check_topic_config(c);
  CHECK(why.find("segmentBytes 18446744073709551615 is out of range") != std::string::npos);
  CHECK(why.find("16 GiB") != std::string::npos);
  c.segment_bytes = 1ull << 40;
  CHECK(!check_topic_config(c).empty());
  c.segment_bytes = 1000;
  CHECK(check_topic_config(c).find("64 KiB") != std::string::npos);
  c.segment_bytes = max_segment_bytes;
  CHECK(check_topic_config(c).empty());
}

TEST_CASE("topic limits: batch sizes out of range, or larger than a segment, are refused") {
  topic_config c;
  c.max_batch_bytes = 100;
  CHECK(check_topic_config(c).find("maxBatchBytes 100 is out of range") != std::string::npos);
  c.max_batch_bytes = max_batch_bytes + 1;
  CHECK(!check_topic_config(c).empty());
  c.max_batch_bytes = 1u << 20;
  c.segment_bytes = 1u << 20;  // no room for the header
  CHECK(check_topic_config(c).find("must hold at least one batch") != std::string::npos);
}

TEST_CASE("topic limits: fsync interval out of range is refused") {
  topic_config c;
  c.fsync = fsync_policy::interval;
  c.fsync_interval_ms = 0;
  CHECK(!check_topic_config(c).empty());
  c.fsync_interval_ms = 3'600'000;
  CHECK(!check_topic_config(c).empty());
  c.fsync_interval_ms = 100;
  CHECK(check_topic_config(c).empty());
}

TEST_CASE("topic limits: partitions per topic and per broker") {
  CHECK(check_partition_count(0, 0, 4096).find("between 1 and 4096") != std::string::npos);
  CHECK(!check_partition_count(4097, 0, 1u << 20).empty());
  CHECK(check_partition_count(4000, 0, 4096).empty());
  auto why = check_partition_count(100, 4000, 4096);
  CHECK(why.find("hosts 4000 partition(s) and may host at most 4096") != std::string::npos);
  CHECK(check_partition_count(96, 4000, 4096).empty());
}
