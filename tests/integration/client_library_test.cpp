// The client library (blocking facade and actors) against a real heraldd.

#include <doctest/doctest.h>

#include <map>
#include <set>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "protocol/atoms.hpp"
#include "protocol/client_system.hpp"
#include "protocol/errors.hpp"
#include "client/actors.hpp"
#include "client/blocking.hpp"
#include "schema/wire.hpp"
#include "storage/batch_header.hpp"
#include "tests/support/broker.hpp"
#include "tests/support/cluster.hpp"

using namespace herald;
using namespace herald::test;

TEST_CASE("keyed records keep per-key order across partitions and come back intact") {
  temp_dir dir;
  broker_process broker(dir.path() / "data", dir.path());
  client::connection conn{broker.address()};
  conn.create_topic("keyed", 4, 1);

  constexpr int per_key = 2000;
  const std::vector<std::string> keys{"alpha", "beta", "gamma", "delta", "epsilon"};
  {
    client::producer producer{conn};
    for (int i = 0; i < per_key; ++i)
      for (const auto& k : keys)
        producer.send("keyed", k, k + "-" + std::to_string(i));
    producer.send("keyed", std::nullopt, "keyless");
    producer.send("keyed", std::string_view{}, "empty-key");
    auto outcome = producer.flush();
    CHECK(outcome.failed == 0);
    CHECK(outcome.acknowledged == per_key * keys.size() + 2);
    CHECK(outcome.acknowledged_prefix == outcome.acknowledged);
  }

  client::consumer_options options;
  options.start = client::start_position::earliest;
  client::consumer consumer{conn, "keyed", options};
  std::map<std::string, std::vector<std::string>> by_key;
  std::map<std::string, std::set<std::uint32_t>> partitions_of_key;
  std::size_t received = 0;
  while (received < per_key * keys.size() + 2) {
    auto records = consumer.poll(std::chrono::seconds{10});
    REQUIRE(!records.empty());
    for (auto& r : records) {
      ++received;
      auto key = r.record.key ? "[" + *r.record.key + "]" : std::string{"null"};
      by_key[key].push_back(r.record.value);
      partitions_of_key[key].insert(r.partition);
    }
  }
  for (const auto& k : keys) {
    auto& values = by_key["[" + k + "]"];
    REQUIRE(values.size() == per_key);
    for (int i = 0; i < per_key; ++i)
      CHECK(values[i] == k + "-" + std::to_string(i));
    CHECK(partitions_of_key["[" + k + "]"].size() == 1);  // a key sticks to its partition
  }
  CHECK(by_key["null"] == std::vector<std::string>{"keyless"});
  CHECK(by_key["[]"] == std::vector<std::string>{"empty-key"});  // empty key is not a null key
  CHECK(consumer.poll(std::chrono::milliseconds{200}).empty());

  auto described = conn.describe_topic("keyed");
  std::int64_t total = 0;
  for (const auto& p : described.partitions)
    total += p.high_watermark;
  // Each partition's offsets 0 and 1 are Raft's configuration and first no-op.
  CHECK(total == static_cast<std::int64_t>(received + 2 * described.partitions.size()));
}

TEST_CASE("malformed requests end their connection with invalidRequest, misrouted ones get error responses") {
  temp_dir dir;
  broker_process broker(dir.path() / "data", dir.path());
  {
    client::connection conn{broker.address()};
    conn.create_topic("t", 1, 1);
  }
  caf::actor_system_config cfg;
  configure_client_system(cfg);
  caf::actor_system system{cfg};
  caf::scoped_actor self{system};
  auto [host, port] = client::parse_broker(broker.address());
  auto open = [&] {
    auto session = client::open_session(system, host, port, caf::actor_cast<caf::actor>(self));
    REQUIRE(session);
    return *session;
  };

  // The code of the response, or of the error the connection failed with.
  auto ask_on = [&](const caf::actor& session, std::vector<char> request) {
    schema::ErrorCode code = schema::ErrorCode::INTERNAL;
    self->request(session, std::chrono::seconds{10}, request_atom::value, std::move(request))
      .receive(
        [&](std::vector<char>& r) {
          wire::message_reader reader(r);
          code = reader.root<schema::Response>().getError().getCode();
        },
        [&](caf::error& e) { code = decode_error(e).code; });
    return code;
  };

  // A payload that is no Request: the broker says goodbye (invalidRequest)
  // and closes that connection; it keeps serving new ones.
  CHECK(ask_on(open(), {}) == schema::ErrorCode::INVALID_REQUEST);
  CHECK(ask_on(open(), std::vector<char>(24, '\x55')) == schema::ErrorCode::INVALID_REQUEST);
  CHECK(ask_on(open(), std::vector<char>(13, '\x01')) == schema::ErrorCode::INVALID_REQUEST);

  // Well-formed requests the broker refuses: error responses, and the
  // connection keeps serving.
  auto session = open();
  auto ask = [&](std::vector<char> request) { return ask_on(session, std::move(request)); };

  capnp::MallocMessageBuilder bad_batch;
  auto p = bad_batch.initRoot<schema::Request>().initProduce();
  p.setTopic("t");
  p.setAcks(schema::Acks::ALL);
  std::vector<char> garbage(128, 'g');
  p.setBatch(kj::arrayPtr(reinterpret_cast<const kj::byte*>(garbage.data()), garbage.size()));
  // (Its garbage header claims a 1.7 GB batch: refused by size or as corrupt.)
  const auto bad = ask(wire::to_bytes(bad_batch));
  CHECK((bad == schema::ErrorCode::CORRUPT_BATCH || bad == schema::ErrorCode::RECORD_TOO_LARGE));

  capnp::MallocMessageBuilder no_partition;
  auto f = no_partition.initRoot<schema::Request>().initFetch();
  f.setTopic("t");
  f.setPartition(7);
  CHECK(ask(wire::to_bytes(no_partition)) == schema::ErrorCode::UNKNOWN_PARTITION);

  capnp::MallocMessageBuilder out_of_range;
  auto o = out_of_range.initRoot<schema::Request>().initFetch();
  o.setTopic("t");
  o.setOffset(5);
  CHECK(ask(wire::to_bytes(out_of_range)) == schema::ErrorCode::OFFSET_OUT_OF_RANGE);

  capnp::MallocMessageBuilder metadata;
  metadata.initRoot<schema::Request>().initMetadata();
  CHECK(ask(wire::to_bytes(metadata)) == schema::ErrorCode::NONE);
}

TEST_CASE("batches a producer compresses with lz4 or zstd are stored as they are and read back") {
  temp_dir dir;
  auto data = dir.path() / "data";
  broker_process broker(data, dir.path());
  {
    client::connection conn{broker.address()};
    conn.create_topic("packed", 1, 1);
    for (auto codec : {storage::codec::lz4, storage::codec::zstd}) {
      client::producer_options options;
      options.compression = codec;
      client::producer producer(conn, options);
      for (int i = 0; i < 2000; ++i)
        producer.send("packed", std::nullopt, std::string(storage::to_string(codec)) + "-" + std::to_string(i) +
                                                std::string(300, 'z'));
      REQUIRE(producer.flush().acknowledged == 2000);
    }
    client::consumer_options options;
    options.start = client::start_position::earliest;
    client::consumer consumer(conn, "packed", options);
    std::vector<std::string> values;
    while (values.size() < 4000) {
      auto got = consumer.poll(std::chrono::seconds{10});
      REQUIRE(!got.empty());
      for (auto& r : got) values.push_back(r.record.value);
    }
    for (int i = 0; i < 2000; ++i) {
      CHECK(values[static_cast<std::size_t>(i)] == "lz4-" + std::to_string(i) + std::string(300, 'z'));
      CHECK(values[static_cast<std::size_t>(2000 + i)] == "zstd-" + std::to_string(i) + std::string(300, 'z'));
    }
  }
  REQUIRE(broker.stop());
  // On disk: the codecs the producer chose, and far fewer bytes than the values.
  const auto log = read_partition_log(data, "packed", 0);
  std::set<unsigned> codecs;
  CHECK(storage::for_each_batch(log, [&](std::span<const char> batch) {
          const auto h = storage::decode_batch_header(batch);
          if (!h.is_control()) codecs.insert(h.attributes & storage::batch_codec_mask);
        }).is_ok());
  CHECK(codecs == std::set<unsigned>{1, 2});
  CHECK(log.size() < 4000 * 300 / 4);
}
