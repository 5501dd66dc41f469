// schema/raft_batch: the coalesced Raft messages between two brokers. The
// bytes come from the network, so the decoder is tested on hostile input:
// every truncation, every single-byte corruption, lying counts and lengths.

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "schema/raft_batch.hpp"

using namespace herald::wire;

namespace {

std::vector<char> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

std::vector<char> sample_batch() {
  raft_batch_builder b;
  const auto p1 = bytes_of("payload one");
  const auto p2 = bytes_of(std::string(300, 'x'));
  const auto p3 = bytes_of("3");
  REQUIRE(b.add("orders", 0, p1));
  REQUIRE(b.add("orders", 7, p2));
  REQUIRE(b.add("a-much-longer-topic-name", 4000000000u, p3));
  return b.take();
}

}  // namespace

TEST_CASE("a raft batch round-trips its items in order") {
  const auto batch = sample_batch();
  std::string why;
  auto items = decode_raft_batch(batch, &why);
  REQUIRE_MESSAGE(items, why);
  REQUIRE(items->size() == 3);
  CHECK((*items)[0].topic == "orders");
  CHECK((*items)[0].partition == 0);
  CHECK(std::string((*items)[0].payload.begin(), (*items)[0].payload.end()) == "payload one");
  CHECK((*items)[1].partition == 7);
  CHECK((*items)[1].payload.size() == 300);
  CHECK((*items)[2].topic == "a-much-longer-topic-name");
  CHECK((*items)[2].partition == 4000000000u);
  // The documented layout: magic, count, then the first item's fields.
  CHECK(std::string(batch.begin(), batch.begin() + 4) == "HRB1");
  CHECK(batch[4] == 3);
  CHECK(batch[8] == 6);  // topic_len of "orders", little-endian
  CHECK(std::string(batch.begin() + 10, batch.begin() + 16) == "orders");
}

TEST_CASE("the builder refuses what the decoder would, and empties on take") {
  raft_batch_builder b;
  const auto p = bytes_of("p");
  CHECK_FALSE(b.add("", 0, p));
  CHECK_FALSE(b.add("t", 0, {}));
  CHECK_FALSE(b.add(std::string(max_topic_bytes + 1, 't'), 0, p));
  CHECK(b.empty());
  CHECK(b.take().empty());
  REQUIRE(b.add("t", 1, p));
  CHECK(b.count() == 1);
  CHECK(b.size_bytes() == raft_batch_header_bytes + raft_batch_item_overhead + 2);
  CHECK(b.take().size() == raft_batch_header_bytes + raft_batch_item_overhead + 2);
  CHECK(b.empty());
  REQUIRE(b.add("u", 2, p));  // reusable after take
  const auto again = b.take();
  auto items = decode_raft_batch(again);  // views into `again`
  REQUIRE(items);
  CHECK((*items)[0].topic == "u");
}

TEST_CASE("every truncation of a batch is refused") {
  const auto batch = sample_batch();
  for (std::size_t n = 0; n < batch.size(); ++n) {
    std::string why;
    CHECK_MESSAGE(!decode_raft_batch(std::span<const char>(batch.data(), n), &why), "prefix of ", n, " bytes");
    CHECK(!why.empty());
  }
}

TEST_CASE("trailing bytes, bad magic, empty and lying counts are refused") {
  auto batch = sample_batch();
  std::string why;
  auto longer = batch;
  longer.push_back('\0');
  CHECK_FALSE(decode_raft_batch(longer, &why));
  CHECK(why.find("trailing") != std::string::npos);

  auto bad_magic = batch;
  bad_magic[3] = '2';
  CHECK_FALSE(decode_raft_batch(bad_magic, &why));
  CHECK(why.find("magic") != std::string::npos);

  auto zero = batch;
  zero[4] = zero[5] = zero[6] = zero[7] = 0;
  CHECK_FALSE(decode_raft_batch(zero));

  // A count of 4 billion in a small buffer: refused before any allocation.
  auto huge = batch;
  huge[4] = huge[5] = huge[6] = huge[7] = static_cast<char>(0xff);
  CHECK_FALSE(decode_raft_batch(huge, &why));
  CHECK(why.find("count") != std::string::npos);

  auto fewer = batch;  // says 2 items, holds 3: the third is trailing
  fewer[4] = 2;
  CHECK_FALSE(decode_raft_batch(fewer));
  auto more = batch;  // says 4, holds 3
  more[4] = 4;
  CHECK_FALSE(decode_raft_batch(more));

  auto long_payload = batch;  // first payload_len = 2^32-1
  const std::size_t len_at = 8 + 2 + 6 + 4;
  for (int i = 0; i < 4; ++i) long_payload[len_at + i] = static_cast<char>(0xff);
  CHECK_FALSE(decode_raft_batch(long_payload));
  auto zero_topic = batch;
  zero_topic[8] = zero_topic[9] = 0;
  CHECK_FALSE(decode_raft_batch(zero_topic));
}

TEST_CASE("random corruption never crashes the decoder nor yields views outside the buffer") {
  const auto batch = sample_batch();
  std::mt19937_64 rng(7);
  int decoded = 0;
  for (int round = 0; round < 20000; ++round) {
    auto b = batch;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] = static_cast<char>(rng() & 0xff);
    if (rng() % 3 == 0) b.resize(rng() % (b.size() + 1));
    auto items = decode_raft_batch(b);
    if (!items) continue;
    ++decoded;
    for (const auto& it : *items) {
      CHECK(it.topic.data() >= b.data());
      CHECK(it.topic.data() + it.topic.size() <= b.data() + b.size());
      CHECK(it.payload.data() + it.payload.size() <= b.data() + b.size());
      CHECK(!it.topic.empty());
      CHECK(!it.payload.empty());
    }
  }
  CHECK(decoded > 0);  // flips inside payloads still decode: they are opaque here
}
