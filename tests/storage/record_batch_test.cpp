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

// A sealed batch around raw payload bytes.
std::vector<char> wrap_bytes(std::span<const char> bytes, std::uint32_t record_count, std::uint32_t last_offset_delta) {
  batch_header h;
  h.length = static_cast<std::uint32_t>(batch_header_size + bytes.size());
  h.record_count = record_count;
  h.last_offset_delta = last_offset_delta;
  std::vector<char> batch(h.length);
  encode_batch_header(h, batch);
  std::memcpy(batch.data() + batch_header_size, bytes.data(), bytes.size());
  seal_batch(batch);
  return batch;
}

// Cap'n Proto pointer words (encoding spec), for payloads no builder makes.
std::uint64_t struct_ptr(std::uint32_t offset, std::uint16_t data_words, std::uint16_t ptrs) {
  return std::uint64_t{offset << 2} | (std::uint64_t{data_words} << 32) | (std::uint64_t{ptrs} << 48);
}
std::uint64_t list_ptr(std::uint32_t offset, std::uint32_t elem_size, std::uint32_t count) {
  return std::uint64_t{(offset << 2) | 1} | (std::uint64_t{elem_size | (count << 3)} << 32);
}

// A flat single-segment RecordBatchPayload of `n` records (offset deltas 0,
// 1, ...) whose values all point at one blob of `blob_words` words: legal
// for a Cap'n Proto reader, and n times larger decoded than sent.
std::vector<char> aliased_values(std::uint32_t n, std::uint32_t blob_words) {
  const std::uint32_t blob = 3 + 5 * n;
  std::vector<std::uint64_t> w(1 + blob + blob_words, 0);  // segment table word, then the segment
  w[0] = std::uint64_t{blob + blob_words} << 32;          // one segment of that many words
  std::uint64_t* seg = w.data() + 1;
  seg[0] = struct_ptr(0, 0, 1);      // root: RecordBatchPayload at word 1
  seg[1] = list_ptr(0, 7, 5 * n);    // records: inline composite list at word 2
  seg[2] = struct_ptr(n, 2, 3);      // its tag: n elements of 2 data words, 3 pointers
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t rec = 3 + 5 * i;
    seg[rec] = i;                    // offsetDelta
    const std::uint32_t value_ptr = rec + 3;
    seg[value_ptr] = list_ptr(blob - (value_ptr + 1), 2, blob_words * 8);  // bytes
  }
  for (std::uint32_t i = 0; i < blob_words; ++i) seg[blob + i] = 0x6161616161616161ull;
  std::vector<char> bytes(w.size() * 8);
  std::memcpy(bytes.data(), w.data(), bytes.size());  // the format is little-endian, as is the host
  return bytes;
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
  SUBCASE("an uncompressed payload labelled compressed") {
    for (std::uint16_t c : {1, 2}) {
      auto bad = resealed(make_batch(1), [c](batch_header& h) { h.attributes = c; });
      REQUIRE(validate_batch(bad).is_ok());
      CHECK(validate_batch_deep(bad).code == errc::invalid_batch);
      CHECK(for_each_record(bad, 0, [](record&&) {}).code == errc::invalid_batch);
    }
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

TEST_CASE("payloads whose pointers overlap cannot amplify decoding") {
  // Found by tests/fuzz/batch_fuzz.cpp as a 728-byte input that took seconds.
  // One record reading its own value: fine.
  const auto one = wrap_bytes(aliased_values(1, 8192), 1, 0);
  REQUIRE(validate_batch_deep(one).is_ok());
  const auto recs = decode_all(one);
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].value == std::string(8192 * 8, 'a'));

  // 1000 records sharing one 64 KiB value: 105 KB that would decode to
  // 64 MB, and used to be accepted.
  const auto bomb = wrap_bytes(aliased_values(1000, 8192), 1000, 999);
  REQUIRE(validate_batch(bomb).is_ok());
  CHECK(validate_batch_deep(bomb).code == errc::invalid_batch);
  std::size_t decoded = 0;
  CHECK(for_each_record(bomb, 0, [&](record&& r) { decoded += r.value.size(); }).code == errc::invalid_batch);
  CHECK(decoded <= 2 * bomb.size());
}

TEST_CASE("for_each_record refuses records outside the header") {
  std::size_t calls = 0;
  auto count = [&](record&&) { ++calls; };
  SUBCASE("more records than the header says") {
    auto bad = resealed(make_batch(3), [](batch_header& h) {
      h.record_count = 2;
      h.last_offset_delta = 2;
    });
    CHECK(for_each_record(bad, 0, count).code == errc::invalid_batch);
    CHECK(calls == 0);
  }
  SUBCASE("an offset past last_offset_delta") {
    auto bad = resealed(make_batch(3), [](batch_header& h) {
      h.record_count = 3;
      h.last_offset_delta = 1;
    });
    REQUIRE_FALSE(validate_batch(bad).is_ok());  // record_count - 1 > last_offset_delta
    CHECK(for_each_record(bad, 0, count).code == errc::invalid_batch);
    CHECK(calls == 2);
  }
  SUBCASE("offsets out of order") {
    CHECK(for_each_record(with_deltas({0, 2, 1}, 2), 0, count).code == errc::invalid_batch);
    CHECK(calls == 2);
  }
}

TEST_CASE("a batch whose offsets would wrap past 2^64 does not decode") {
  auto batch = make_batch(3);
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  stamp_batch(batch, max - 2, 0);  // last offset is exactly 2^64 - 1: fine
  CHECK(validate_batch_deep(batch).is_ok());
  CHECK(decode_all(batch).back().offset == max);
  stamp_batch(batch, max - 1, 0);
  REQUIRE(validate_batch(batch).is_ok());  // base_offset is outside the CRC
  CHECK(validate_batch_deep(batch).code == errc::invalid_batch);
  std::size_t calls = 0;
  CHECK(for_each_record(batch, 0, [&](record&&) { ++calls; }).code == errc::invalid_batch);
  CHECK(calls == 0);
}
