// `herald cluster status`'s report from gathered answers, without brokers.

#include <doctest/doctest.h>

#include <sstream>

#include "apps/cluster_status.hpp"

using namespace herald;

namespace {

client::partition_status part(std::uint32_t id, std::int32_t leader, std::vector<std::int32_t> replicas,
                              std::int64_t hw, std::vector<client::follower_status> followers = {}) {
  client::partition_status p;
  p.id = id;
  p.leader = leader;
  p.replicas = std::move(replicas);
  p.high_watermark = hw;
  p.followers = std::move(followers);
  return p;
}

client::follower_status follower(std::int32_t node, std::int64_t lag, std::int64_t behind_ms, bool learner = false) {
  client::follower_status f;
  f.node_id = node;
  f.lag = lag;
  f.behind_ms = behind_ms;
  f.learner = learner;
  f.state = schema::FollowerState::REPLICATE;
  return f;
}

// Three brokers, topic `t` with partitions 0..2 on {1,2,3}.
cli::cluster_snapshot three_brokers() {
  cli::cluster_snapshot s;
  for (std::int32_t id = 1; id <= 3; ++id)
    s.metadata.brokers.push_back({id, "10.0.0." + std::to_string(id), 9092, "", true});
  client::topic_status t;
  t.name = "t";
  t.partition_count = 3;
  s.metadata.topics.push_back(t);
  return s;
}

client::topic_status described(std::vector<client::partition_status> parts) {
  client::topic_status t;
  t.name = "t";
  t.partition_count = 3;
  t.partitions = std::move(parts);
  return t;
}

}  // namespace

TEST_CASE("the leader is the broker that says it leads, and its followers decide in-sync") {
  auto s = three_brokers();
  // Partition 0: led by 1, follower 3 behind for 9 s. Partition 1: led by 2,
  // all in sync, but broker 3 (stale) still names 3. Partition 2: nobody leads.
  s.answers[1].topics.push_back(described({part(0, 1, {1, 2, 3}, 50, {follower(2, 0, 40), follower(3, 17, 9000)}),
                                           part(1, 2, {1, 2, 3}, 7), part(2, -1, {1, 2, 3}, 4)}));
  s.answers[2].topics.push_back(described({part(0, 1, {1, 2, 3}, 50),
                                           part(1, 2, {1, 2, 3}, 9, {follower(1, 0, 0), follower(3, 2, 100)}),
                                           part(2, -1, {1, 2, 3}, 5)}));
  s.answers[3].topics.push_back(described({part(0, 1, {1, 2, 3}, 33), part(1, 3, {1, 2, 3}, 8),
                                           part(2, -1, {1, 2, 3}, 5)}));
  const auto r = cli::build_report(s, 5000);
  REQUIRE(r.partitions.size() == 3);
  CHECK(r.partitions[0].leader == 1);
  CHECK(r.partitions[0].high_watermark == 50);
  CHECK(r.partitions[0].under_replicated);
  REQUIRE(r.partitions[0].followers.size() == 2);
  CHECK(r.partitions[0].followers[0].in_sync);
  CHECK_FALSE(r.partitions[0].followers[1].in_sync);
  CHECK(r.partitions[0].followers[1].lag == "17");
  CHECK(r.partitions[1].leader == 2);
  CHECK(r.partitions[1].high_watermark == 9);
  CHECK_FALSE(r.partitions[1].under_replicated);
  CHECK(r.partitions[2].leader == -1);
  CHECK(r.partitions[2].high_watermark == 5);
  CHECK(r.leaderless() == 1);
  CHECK(r.under_replicated() == 1);
  CHECK(r.brokers[0].leaders == 1);
  CHECK(r.brokers[1].leaders == 1);
  CHECK(r.brokers[2].leaders == 0);
  CHECK(r.brokers[2].partitions == 3);

  const auto text = cli::render(r);
  CHECK(text.find("NO LEADER (1): t/2\n") != std::string::npos);
  CHECK(text.find("UNDER-REPLICATED (1): t/0\n") != std::string::npos);
  CHECK(text.find("2:0 3:17*") != std::string::npos);
}

TEST_CASE("a follower on a broker that is gone, a learner, or one never heard is out of sync") {
  auto s = three_brokers();
  s.metadata.controller_id = 2;
  s.metadata.brokers[2].alive = false;  // ZooKeeper: broker 3 is not registered
  s.metadata.brokers[0].rack = "a";
  s.answers[1].topics.push_back(described({part(0, 1, {1, 2, 3}, 10, {follower(2, 0, 0), follower(3, 0, 0)}),
                                           part(1, 1, {1, 2}, 10, {follower(2, 0, 0, true)}),
                                           part(2, 1, {1, 2}, 10, {follower(2, 0, -1)})}));
  s.answers[2].topics.push_back(described({}));
  s.answers[3].unreachable = "not registered";
  const auto r = cli::build_report(s, 5000);
  CHECK(r.partitions[0].under_replicated);  // 3 is gone although the leader heard it lately
  CHECK(r.partitions[1].under_replicated);  // 2 is a learner
  CHECK(r.partitions[2].under_replicated);  // 2 never matched in this leadership
  CHECK(r.brokers[2].state == "no");
  const auto text = cli::render(r);
  CHECK(text.find("controller: 2\n") != std::string::npos);
  CHECK(text.find("  a     yes") != std::string::npos);
}

TEST_CASE("tables stay within 80 columns with long topic names and many replicas") {
  auto s = three_brokers();
  s.metadata.topics[0].name = std::string(200, 'x');
  client::topic_status t;
  t.name = std::string(200, 'x');
  t.partition_count = 3;
  for (std::uint32_t p = 0; p < 3; ++p)
    t.partitions.push_back(part(p, 1, {1, 2, 3}, 123456789, {follower(2, 123456, 10), follower(3, 0, 10)}));
  s.answers[1].topics.push_back(t);
  const auto text = cli::render(cli::build_report(s, 5000));
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    CAPTURE(line);
    CHECK(line.size() <= 80);
  }
}
