#include <doctest/doctest.h>

#include <cstring>

#include "storage/batch_header.hpp"
#include "storage/crc32c.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using herald::storage::test::make_batch;

namespace {

// Rewrites the header through `edit` and recomputes the CRC, so that only the
// edited rule can fail.
template <class Edit>
std::vector<char> resealed(std::vector<char> batch, Edit edit) {
  batch_header h = decode_batch_header(batch);
  edit(h);
  encode_batch_header(h, batch);
  seal_batch(batch);
  return batch;
}

bool in_uncovered_field(std::size_t i) {
  return i < 8 || (i >= 16 && i < 24);  // base_offset and term: stamped after sealing
}

} // namespace

TEST_CASE("batch header encodes and decodes every field") {
  batch_header h;
  h.base_offset = 0x0102030405060708ull;
  h.length = 4096;
  h.term = 0x1112131415161718ull;
  h.crc = 0xdeadbeef;
  h.attributes = 2;
  h.last_offset_delta = 41;
  h.record_count = 42;
  h.first_timestamp = -5;
  h.max_timestamp = 1700000000123;
  h.producer_id = -1;
  h.producer_epoch = -2;
  h.base_sequence = 123456;

  std::vector<char> buf(batch_header_size, 'x');
  encode_batch_header(h, buf);
  const batch_header d = decode_batch_header(buf);
  CHECK(d.base_offset == h.base_offset);
  CHECK(d.length == h.length);
  CHECK(d.magic == batch_magic);
  CHECK(d.term == h.term);
  CHECK(d.crc == h.crc);
  CHECK(d.attributes == h.attributes);
  CHECK(d.last_offset_delta == h.last_offset_delta);
  CHECK(d.record_count == h.record_count);
  CHECK(d.first_timestamp == h.first_timestamp);
  CHECK(d.max_timestamp == h.max_timestamp);
  CHECK(d.producer_id == h.producer_id);
  CHECK(d.producer_epoch == h.producer_epoch);
  CHECK(d.base_sequence == h.base_sequence);
  CHECK(d.last_offset() == h.base_offset + 41);
  CHECK(d.next_offset() == h.base_offset + 42);

  SUBCASE("layout is little-endian at the documented offsets") {
    CHECK(static_cast<unsigned char>(buf[0]) == 0x08);
    CHECK(static_cast<unsigned char>(buf[7]) == 0x01);
    CHECK(std::memcmp(buf.data() + 12, "HRB1", 4) == 0);
    CHECK(static_cast<unsigned char>(buf[16]) == 0x18);
    CHECK(static_cast<unsigned char>(buf[24]) == 0xef);
    CHECK(buf[30] == 0);
    CHECK(buf[31] == 0);
    CHECK(static_cast<unsigned char>(buf[40]) == 0xfb);  // -5
    CHECK(buf[66] == 0);
    CHECK(buf[67] == 0);
  }
}

TEST_CASE("a too-short buffer decodes to a header that fails validation") {
  std::vector<char> small(batch_header_size - 1, 0);
  CHECK(decode_batch_header(small).length == 0);
  CHECK(validate_batch(small).code == errc::invalid_batch);
  CHECK(validate_batch({}).code == errc::invalid_batch);
}

TEST_CASE("sealed batches validate and the crc covers bytes 28 to length") {
  auto batch = make_batch(3);
  REQUIRE(validate_batch(batch).is_ok());
  const batch_header h = decode_batch_header(batch);
  CHECK(h.length == batch.size());
  CHECK(h.length % 8 == 0);
  CHECK(h.crc == crc32c(batch.data() + batch_crc_start, batch.size() - batch_crc_start));

  SUBCASE("stamping base offset and term keeps it valid") {
    stamp_batch(batch, 123456789, 77);
    CHECK(validate_batch(batch).is_ok());
    const batch_header s = decode_batch_header(batch);
    CHECK(s.base_offset == 123456789);
    CHECK(s.term == 77);
  }
}

TEST_CASE("validate_batch rejects a flipped bit anywhere the crc or checks cover") {
  const auto batch = make_batch(2);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto bad = batch;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      const status s = validate_batch(bad);
      if (in_uncovered_field(i)) {
        CHECK_MESSAGE(s.is_ok(), "byte ", i);
      } else {
        CHECK_MESSAGE(s.code == errc::invalid_batch, "byte ", i, " bit ", bit);
        CHECK_FALSE(s.message.empty());
      }
    }
  }
}

TEST_CASE("validate_batch names each broken header rule") {
  const auto good = make_batch(2);

  SUBCASE("bad magic") {
    auto bad = resealed(good, [](batch_header& h) { h.magic = 0x12345678; });
    const auto s = validate_batch(bad);
    CHECK(s.code == errc::invalid_batch);
    CHECK(s.message.find("magic") != std::string::npos);
  }
  SUBCASE("length larger than the buffer") {
    auto bad = resealed(good, [](batch_header& h) { h.length += 8; });
    CHECK(validate_batch(bad).code == errc::invalid_batch);
  }
  SUBCASE("buffer longer than length") {
    auto bad = good;
    bad.resize(bad.size() + 8, 0);
    CHECK(validate_batch(bad).code == errc::invalid_batch);
  }
  SUBCASE("buffer shorter than length") {
    auto bad = good;
    bad.resize(bad.size() - 8);
    CHECK(validate_batch(bad).code == errc::invalid_batch);
  }
  SUBCASE("length not a multiple of 8") {
    auto bad = good;
    bad.resize(bad.size() + 4, 0);
    bad = resealed(bad, [&](batch_header& h) { h.length = static_cast<std::uint32_t>(bad.size()); });
    const auto s = validate_batch(bad);
    CHECK(s.code == errc::invalid_batch);
    CHECK(s.message.find("multiple of 8") != std::string::npos);
  }
  SUBCASE("zero records") {
    auto bad = resealed(good, [](batch_header& h) { h.record_count = 0; });
    CHECK(validate_batch(bad).code == errc::invalid_batch);
  }
  SUBCASE("last_offset_delta below record_count - 1") {
    auto bad = resealed(good, [](batch_header& h) { h.last_offset_delta = 0; });
    CHECK(validate_batch(bad).code == errc::invalid_batch);
    auto gaps = resealed(good, [](batch_header& h) { h.last_offset_delta = 10; });
    CHECK(validate_batch(gaps).is_ok());  // gaps are legal in the header
  }
  SUBCASE("reserved bytes") {
    for (std::size_t at : {30u, 31u, 66u, 67u}) {
      auto bad = good;
      bad[at] = 1;
      seal_batch(bad);
      CHECK_MESSAGE(validate_batch(bad).code == errc::invalid_batch, "byte ", at);
    }
  }
  SUBCASE("codec and attribute bits") {
    CHECK(validate_batch(resealed(good, [](batch_header& h) { h.attributes = 1; })).is_ok());
    CHECK(validate_batch(resealed(good, [](batch_header& h) { h.attributes = 2; })).is_ok());
    CHECK(validate_batch(resealed(good, [](batch_header& h) { h.attributes = 3; })).code == errc::invalid_batch);
    CHECK(validate_batch(resealed(good, [](batch_header& h) { h.attributes = 8; })).code == errc::invalid_batch);
  }
}
