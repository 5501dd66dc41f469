#include <doctest/doctest.h>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstring>
#include <random>

#include "schema/record.capnp.h"
#include "storage/record_batch.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using herald::storage::test::make_batch;

namespace {

std::vector<record> decode_all(std::span<const char> batch, std::uint64_t min_offset = 0) {
  std::vector<record> out;
  const status s = for_each_record(batch, min_offset, [&](record&& r) { out.push_back(std::move(r)); });
  REQUIRE_MESSAGE(s.is_ok(), s.message);
  return out;
}

// A sealed batch around a hand-made payload, for payloads batch_builder
// would never produce.
std::vector<char> wrap_payload(capnp::MessageBuilder& message, std::uint32_t record_count,
                               std::uint32_t last_offset_delta) {
  const auto flat = capnp::messageToFlatArray(message);
  const auto bytes = flat.asChars();
  batch_header h;
  h.length = static_cast<std::uint32_t>(batch_header_size + bytes.size());
  h.record_count = record_count;
  h.last_offset_delta = last_offset_delta;
  std::vector<char> batch(h.length);
  encode_batch_header(h, batch);
  std::memcpy(batch.data() + batch_header_size, bytes.begin(), bytes.size());
  seal_batch(batch);
  return batch;
}

std::vector<char> with_deltas(std::initializer_list<std::uint32_t> deltas, std::uint32_t last_offset_delta) {
  capnp::MallocMessageBuilder message;
  auto records = message.initRoot<herald::schema::RecordBatchPayload>().initRecords(
      static_cast<unsigned>(deltas.size()));
  unsigned i = 0;
  for (auto d : deltas) records[i++].setOffsetDelta(d);
  return wrap_payload(message, static_cast<std::uint32_t>(deltas.size()), last_offset_delta);
}

template <class Edit>
std::vector<char> resealed(std::vector<char> batch, Edit edit) {
  batch_header h = decode_batch_header(batch);
  edit(h);
  encode_batch_header(h, batch);
  seal_batch(batch);
  return batch;
}

} // namespace

TEST_CASE("batch_builder output decodes back to the same records") {
  batch_builder b;
  CHECK(b.empty());
  const std::vector<record_header> hdrs{{"trace", "abc"}, {"", ""}, {"bin", std::string("\0\1\2", 3)}};
  b.add(5000, std::nullopt, "no key");
  b.add(4990, std::string_view(""), "empty key", hdrs);
  b.add(5020, std::string_view("k"), std::string("\0value\0", 7));
  b.add(5010, std::string_view("k2"), "");
  b.set_producer(77, 3, 1000);
  CHECK(b.record_count() == 4);
  const std::size_t estimate = b.estimated_size();

  auto batch = b.build();
  CHECK(b.empty());
  CHECK(batch.size() <= estimate);
  CHECK(batch.size() % 8 == 0);
  REQUIRE(validate_batch_deep(batch).is_ok());

  const batch_header h = decode_batch_header(batch);
  CHECK(h.base_offset == 0);
  CHECK(h.term == 0);
  CHECK(h.record_count == 4);
  CHECK(h.last_offset_delta == 3);
  CHECK(h.first_timestamp == 5000);
  CHECK(h.max_timestamp == 5020);
  CHECK(h.producer_id == 77);
  CHECK(h.producer_epoch == 3);
  CHECK(h.base_sequence == 1000);

  stamp_batch(batch, 100, 9);
  const auto recs = decode_all(batch);
  REQUIRE(recs.size() == 4);
  CHECK(recs[0].offset == 100);
  CHECK(recs[0].timestamp == 5000);
  CHECK_FALSE(recs[0].key.has_value());
  CHECK(recs[0].value == "no key");
  CHECK(recs[0].headers.empty());

  CHECK(recs[1].offset == 101);
  CHECK(recs[1].timestamp == 4990);
  REQUIRE(recs[1].key.has_value());
  CHECK(recs[1].key->empty());
  REQUIRE(recs[1].headers.size() == 3);
  for (std::size_t i = 0; i < hdrs.size(); ++i) {
    CHECK(recs[1].headers[i].key == hdrs[i].key);
    CHECK(recs[1].headers[i].value == hdrs[i].value);
  }

  CHECK(recs[2].offset == 102);
  CHECK(recs[2].key == std::optional<std::string>("k"));
  CHECK(recs[2].value == std::string("\0value\0", 7));
  CHECK(recs[3].offset == 103);
  CHECK(recs[3].value.empty());

  SUBCASE("min_offset skips earlier records") {
    const auto tail = decode_all(batch, 102);
    REQUIRE(tail.size() == 2);
    CHECK(tail[0].offset == 102);
    CHECK(tail[1].offset == 103);
    CHECK(decode_all(batch, 104).empty());
  }

  SUBCASE("a payload that is not 8-byte aligned is still read") {
    std::vector<char> shifted(batch.size() + 1);
    std::memcpy(shifted.data() + 1, batch.data(), batch.size());
    const std::span<const char> odd(shifted.data() + 1, batch.size());
    CHECK(validate_batch_deep(odd).is_ok());
    CHECK(decode_all(odd).size() == 4);
  }

  SUBCASE("the builder is reusable after build") {
    b.add(1, std::nullopt, "again");
    auto second = b.build();
    CHECK(decode_batch_header(second).producer_id == 77);
    CHECK(decode_all(second).size() == 1);
  }
}

TEST_CASE("estimated_size bounds the built size for large and many records") {
  batch_builder b;
  for (int i = 0; i < 500; ++i) {
    const std::vector<record_header> hdrs(static_cast<std::size_t>(i % 3), record_header{"h", std::string(i % 17, 'x')});
    b.add(i, std::string(static_cast<std::size_t>(i % 13), 'k'), std::string(static_cast<std::size_t>(i * 7 % 301), 'v'),
          hdrs);
  }
  const auto estimate = b.estimated_size();
  const auto batch = b.build();
  CHECK(batch.size() <= estimate);
  CHECK(validate_batch_deep(batch).is_ok());
}

TEST_CASE("validate_batch_deep checks the payload against the header") {
  SUBCASE("record count mismatch") {
    auto bad = resealed(make_batch(2), [](batch_header& h) {
      h.record_count = 3;
      h.last_offset_delta = 2;
    });
    REQUIRE(validate_batch(bad).is_ok());
    CHECK(validate_batch_deep(bad).code == errc::invalid_batch);
  }
  SUBCASE("last offset delta mismatch") {
    auto bad = resealed(make_batch(2), [](batch_header& h) { h.last_offset_delta = 5; });
    REQUIRE(validate_batch(bad).is_ok());
    CHECK(validate_batch_deep(bad).code == errc::invalid_batch);
  }
  SUBCASE("offset deltas must increase strictly") {
    CHECK(validate_batch_deep(with_deltas({0, 1, 2}, 2)).is_ok());
    CHECK(validate_batch_deep(with_deltas({0, 3, 7}, 7)).is_ok());  // gaps are fine
    CHECK(validate_batch_deep(with_deltas({0, 2, 1}, 2)).code == errc::invalid_batch);
    CHECK(validate_batch_deep(with_deltas({0, 1, 1}, 2)).code == errc::invalid_batch);
    CHECK(validate_batch_deep(with_deltas({0, 1, 2}, 3)).code == errc::invalid_batch);
  }
  SUBCASE("compressed payloads are not accepted yet") {
    auto bad = resealed(make_batch(1), [](batch_header& h) { h.attributes = 1; });
    CHECK(validate_batch_deep(bad).code == errc::invalid_batch);
    CHECK(for_each_record(bad, 0, [](record&&) {}).code == errc::invalid_batch);
  }
  SUBCASE("trailing bytes after the message") {
    auto bad = make_batch(1);
    bad.resize(bad.size() + 8, 0);
    bad = resealed(bad, [&](batch_header& h) { h.length = static_cast<std::uint32_t>(bad.size()); });
    REQUIRE(validate_batch(bad).is_ok());
    CHECK(validate_batch_deep(bad).code == errc::invalid_batch);
  }
  SUBCASE("a header-only batch") {
    std::vector<char> bad(batch_header_size);
    batch_header h;
    h.length = batch_header_size;
    h.record_count = 1;
    encode_batch_header(h, bad);
    seal_batch(bad);
    REQUIRE(validate_batch(bad).is_ok());
    CHECK(validate_batch_deep(bad).code == errc::invalid_batch);
    CHECK(for_each_record(bad, 0, [](record&&) {}).code == errc::invalid_batch);
  }
  SUBCASE("garbage payload") {
    std::vector<char> bad(batch_header_size + 256);
    std::mt19937 rng(1);
    for (auto& c : bad) c = static_cast<char>(rng());
    batch_header h;
    h.length = static_cast<std::uint32_t>(bad.size());
    h.record_count = 1;
    encode_batch_header(h, bad);
    seal_batch(bad);
    REQUIRE(validate_batch(bad).is_ok());
    CHECK(validate_batch_deep(bad).code == errc::invalid_batch);
  }
}

TEST_CASE("mutated payloads never throw or crash the decoders") {
  batch_builder b;
  const std::vector<record_header> hdrs{{"a", "b"}, {"c", "d"}};
  for (int i = 0; i < 6; ++i) b.add(i, std::string("key") + char('0' + i), std::string(10 + i, 'x'), hdrs);
  const auto good = b.build();
  std::mt19937 rng(42);
  std::size_t rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    auto bad = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const std::size_t at = batch_header_size + rng() % (bad.size() - batch_header_size);
      bad[at] = static_cast<char>(rng());
    }
    seal_batch(bad);
    status deep;
    status each;
    CHECK_NOTHROW(deep = validate_batch_deep(bad));
    CHECK_NOTHROW(each = for_each_record(bad, 0, [](record&&) {}));
    if (deep) {
      CHECK(each.is_ok());  // a deep-validated batch always decodes
    } else {
      CHECK(deep.code == errc::invalid_batch);
      ++rejected;
    }
  }
  CHECK(rejected > 0);
}

TEST_CASE("for_each_batch splits batches laid end to end") {
  std::vector<char> all;
  std::vector<std::size_t> sizes;
  for (std::uint32_t n = 1; n <= 4; ++n) {
    auto batch = make_batch(n);
    sizes.push_back(batch.size());
    all.insert(all.end(), batch.begin(), batch.end());
  }
  std::vector<std::size_t> seen;
  REQUIRE(for_each_batch(all, [&](std::span<const char> b) { seen.push_back(b.size()); }).is_ok());
  CHECK(seen == sizes);

  CHECK(for_each_batch({}, [](std::span<const char>) { FAIL("no batch expected"); }).is_ok());

  SUBCASE("a truncated tail is corrupt") {
    all.resize(all.size() - 8);
    std::size_t calls = 0;
    CHECK(for_each_batch(all, [&](std::span<const char>) { ++calls; }).code == errc::corrupt);
    CHECK(calls == 3);
  }
  SUBCASE("a damaged byte is corrupt") {
    all[sizes[0] + 100] ^= 1;
    std::size_t calls = 0;
    CHECK(for_each_batch(all, [&](std::span<const char>) { ++calls; }).code == errc::corrupt);
    CHECK(calls == 1);
  }
  SUBCASE("a short header is corrupt") {
    std::vector<char> tiny(10, 0);
    CHECK(for_each_batch(tiny, [](std::span<const char>) {}).code == errc::corrupt);
  }
}
