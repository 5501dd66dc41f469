// The client's routing and retry decisions, without CAF or a network:
// where a partition request goes (metadata_cache), which broker is tried
// for "any" (broker_candidates), what a request needs (request_route), and
// which failures are retried within a deadline (retry_rules).

#include <doctest/doctest.h>

#include <capnp/message.h>

#include "client/broker_candidates.hpp"
#include "client/metadata_cache.hpp"
#include "client/request_route.hpp"
#include "client/retry_rules.hpp"
#include "schema/wire.hpp"

using namespace herald;
using client::metadata_cache;
using schema::ErrorCode;

namespace {

// A metadata response naming brokers 1..3 at 127.0.0.1:900N and topic t
// with `partitions` partitions (no leaders).
void apply_brokers(metadata_cache& cache, std::uint32_t partitions, int brokers = 3) {
  capnp::MallocMessageBuilder b;
  auto m = b.initRoot<schema::MetadataResponse>();
  auto list = m.initBrokers(static_cast<unsigned>(brokers));
  for (int i = 0; i < brokers; ++i) {
    list[static_cast<unsigned>(i)].setNodeId(i + 1);
    list[static_cast<unsigned>(i)].setHost("127.0.0.1");
    list[static_cast<unsigned>(i)].setPort(static_cast<std::uint16_t>(9001 + i));
  }
  auto t = m.initTopics(1)[0];
  t.setName("t");
  t.setPartitionCount(partitions);
  cache.apply_metadata(m.asReader());
}

// A describeTopic answer: partition p led by leaders[p] (-1: none), every
// partition on brokers 1..3; an offline one says so.
void apply_leaders(metadata_cache& cache, const std::vector<std::int32_t>& leaders) {
  capnp::MallocMessageBuilder b;
  auto t = b.initRoot<schema::TopicInfo>();
  t.setName("t");
  t.setPartitionCount(static_cast<std::uint32_t>(leaders.size()));
  auto parts = t.initPartitions(static_cast<unsigned>(leaders.size()));
  for (unsigned p = 0; p < leaders.size(); ++p) {
    parts[p].setId(p);
    parts[p].setLeader(leaders[p]);
    auto r = parts[p].initReplicas(3);
    for (unsigned i = 0; i < 3; ++i) r.set(i, static_cast<std::int32_t>(i + 1));
    wire::set_error(parts[p].initError(), leaders[p] < 0 ? ErrorCode::PARTITION_UNAVAILABLE : ErrorCode::NONE,
                    leaders[p] < 0 ? "offline" : "");
  }
  cache.apply_topic(t.asReader());
}

} // namespace

TEST_CASE("metadata_cache routes a partition to its leader's address once both are known") {
  metadata_cache cache;
  CHECK(!cache.routable("t", 0));
  apply_brokers(cache, 3);
  CHECK(!cache.routable("t", 0));  // brokers, but no leaders yet
  apply_leaders(cache, {2, 3, -1});
  CHECK(cache.leader_address("t", 0) == "127.0.0.1:9002");
  CHECK(cache.leader_address("t", 1) == "127.0.0.1:9003");
  CHECK(!cache.routable("t", 2));
  CHECK(cache.partition_error("t", 2) == "offline");
  CHECK(!cache.routable("t", 3));  // no such partition
  CHECK(!cache.routable("other", 0));
  CHECK(cache.topic("t")->partitions[0].replicas == std::vector<std::int32_t>{1, 2, 3});
}

TEST_CASE("metadata_cache follows a notLeader hint to a known broker, else forgets the leader") {
  metadata_cache cache;
  apply_brokers(cache, 2);
  apply_leaders(cache, {1, 1});
  cache.on_not_leader("t", 0, 3);
  CHECK(cache.leader("t", 0) == 3);
  cache.on_not_leader("t", 0, 3);  // the hinted broker refuses too, naming itself
  CHECK(cache.leader("t", 0) == -1);
  cache.on_not_leader("t", 1, 7);  // a broker the client does not know
  CHECK(cache.leader("t", 1) == -1);
  apply_leaders(cache, {1, 1});
  cache.on_not_leader("t", 1, -1);  // no hint: an election
  CHECK(cache.leader("t", 1) == -1);
  cache.forget_leader("t", 0);
  CHECK(cache.leader("t", 0) == -1);
}

TEST_CASE("metadata_cache: a lost broker leads nothing until a refresh names it again") {
  metadata_cache cache;
  apply_brokers(cache, 3);
  apply_leaders(cache, {2, 1, 2});
  cache.on_broker_lost("127.0.0.1:9002");
  CHECK(cache.leader("t", 0) == -1);
  CHECK(cache.leader("t", 1) == 1);
  CHECK(cache.leader("t", 2) == -1);
  apply_leaders(cache, {3, 1, 2});
  CHECK(cache.leader("t", 2) == 2);
  // More partitions in a later metadata answer: leaders are read again.
  apply_brokers(cache, 4);
  CHECK(!cache.routable("t", 0));
  CHECK(cache.topic("t")->partition_count == 4);
}

TEST_CASE("broker_candidates: metadata's brokers, then the bootstrap list, failed ones last") {
  using clock = std::chrono::steady_clock;
  client::broker_candidates c{{"b:1", "a:1"}};
  CHECK(c.order({}) == std::vector<std::string>{"b:1", "a:1"});
  CHECK(c.order({"a:1", "c:1"}) == std::vector<std::string>{"a:1", "c:1", "b:1"});
  const auto t0 = clock::now();
  c.failed("a:1", t0 + std::chrono::seconds{1});
  c.failed("c:1", t0);
  CHECK(c.order({"a:1", "c:1"}) == std::vector<std::string>{"b:1", "c:1", "a:1"});
  c.succeeded("a:1");
  CHECK(c.order({"a:1", "c:1"}) == std::vector<std::string>{"a:1", "b:1", "c:1"});
}

TEST_CASE("request_route: partition requests go to the leader, the rest to any broker") {
  capnp::MallocMessageBuilder produce;
  auto p = produce.initRoot<schema::Request>().initProduce();
  p.setTopic("t");
  p.setPartition(4);
  p.setTimeoutMs(1234);
  auto r = client::route_of(wire::to_bytes(produce));
  CHECK(r.to_leader);
  CHECK(r.topic == "t");
  CHECK(r.partition == 4);
  CHECK(r.broker_wait_ms == 1234);

  capnp::MallocMessageBuilder fetch;
  auto f = fetch.initRoot<schema::Request>().initFetch();
  f.setTopic("u");
  f.setPartition(1);
  f.setMaxWaitMs(500);
  r = client::route_of(wire::to_bytes(fetch));
  CHECK((r.to_leader && r.topic == "u" && r.partition == 1 && r.broker_wait_ms == 500));

  capnp::MallocMessageBuilder offsets;
  offsets.initRoot<schema::Request>().initListOffsets().setTopic("v");
  CHECK(client::route_of(wire::to_bytes(offsets)).to_leader);

  capnp::MallocMessageBuilder metadata;
  metadata.initRoot<schema::Request>().initMetadata();
  r = client::route_of(wire::to_bytes(metadata));
  CHECK((!r.to_leader && r.metadata));

  capnp::MallocMessageBuilder create;
  create.initRoot<schema::Request>().initCreateTopic().setName("x");
  r = client::route_of(wire::to_bytes(create));
  CHECK((!r.to_leader && !r.metadata));

  const std::vector<char> garbage(16, '\x7f');
  CHECK(!client::route_of(garbage).to_leader);  // any broker answers invalidRequest
}

TEST_CASE("retry_rules: routing errors and transient ones are retried within the deadline only") {
  CHECK(client::is_worth_retrying(ErrorCode::NOT_LEADER));
  CHECK(client::is_worth_retrying(ErrorCode::UNKNOWN_PARTITION));
  CHECK(client::is_worth_retrying(ErrorCode::PARTITION_UNAVAILABLE));
  CHECK(client::is_worth_retrying(ErrorCode::THROTTLED));
  CHECK(client::is_worth_retrying(ErrorCode::TIMEOUT));
  CHECK(!client::is_worth_retrying(ErrorCode::UNKNOWN_TOPIC));
  CHECK(!client::is_worth_retrying(ErrorCode::STORAGE_ERROR));
  CHECK(!client::is_worth_retrying(ErrorCode::RECORD_TOO_LARGE));
  CHECK(!client::is_worth_retrying(ErrorCode::CORRUPT_BATCH));
  CHECK(!client::is_routing_error(ErrorCode::THROTTLED));

  using ms = std::chrono::milliseconds;
  client::backoff b{ms{50}, ms{2000}};
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = now + ms{180};
  CHECK(client::retry_delay(b, now, deadline) == ms{50});
  CHECK(client::retry_delay(b, now + ms{50}, deadline) == ms{100});
  // The next wait (200 ms) would end past the deadline: give up.
  CHECK(!client::retry_delay(b, now + ms{150}, deadline));
}
