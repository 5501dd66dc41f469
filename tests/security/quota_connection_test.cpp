// What a client connection charges to quotas (actors/connection_quota): a
// produce its request bytes, a fetch its response bytes, nothing else.

#include <doctest/doctest.h>

#include <capnp/message.h>

#include "actors/connection_quota.hpp"
#include "schema/wire.hpp"

using namespace herald;
using namespace std::chrono_literals;

namespace {

std::vector<char> produce_request(std::size_t batch_bytes) {
  capnp::MallocMessageBuilder builder;
  auto p = builder.initRoot<schema::Request>().initProduce();
  p.setTopic("t");
  p.initBatch(static_cast<unsigned>(batch_bytes));
  return wire::to_bytes(builder);
}

std::vector<char> fetch_request() {
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::Request>().initFetch().setTopic("t");
  return wire::to_bytes(builder);
}

std::vector<char> metadata_request() {
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::Request>().initMetadata();
  return wire::to_bytes(builder);
}

security::quota_registry::clock::time_point at(std::chrono::milliseconds t) {
  return security::quota_registry::clock::time_point{} + 1h + t;
}

} // namespace

TEST_CASE("connection quota: produce and fetch requests are charged, others are not") {
  CHECK(actors::quota_kind_of(produce_request(100)) == security::quota_kind::produce);
  CHECK(actors::quota_kind_of(fetch_request()) == security::quota_kind::fetch);
  CHECK_FALSE(actors::quota_kind_of(metadata_request()).has_value());
  // Garbage is not charged (and the session refuses it).
  const std::vector<char> junk(13, '\x7f');
  CHECK_FALSE(actors::quota_kind_of(junk).has_value());
  CHECK_FALSE(actors::quota_kind_of({}).has_value());
}

TEST_CASE("connection quota: a produce pays its request bytes, a fetch its response bytes") {
  security::quota_config c;
  c.defaults = {1000, 1000}; // 1000 B/s, 1 s burst each
  security::quota_registry q{c};
  using security::quota_kind;
  // A 3000-byte produce with a tiny response: 2000 over -> 2 s.
  CHECK(actors::quota_throttle_ms(&q, "User:p", quota_kind::produce, 3000, 10, at(0ms)) == 2000);
  // A tiny fetch request whose response is 3000 bytes: the same.
  CHECK(actors::quota_throttle_ms(&q, "User:f", quota_kind::fetch, 10, 3000, at(0ms)) == 2000);
  // Not charged: no kind, or no registry.
  CHECK(actors::quota_throttle_ms(&q, "User:p", std::nullopt, 1 << 20, 1 << 20, at(0ms)) == 0);
  CHECK(actors::quota_throttle_ms(nullptr, "User:p", quota_kind::produce, 1 << 20, 0, at(0ms)) == 0);
}
