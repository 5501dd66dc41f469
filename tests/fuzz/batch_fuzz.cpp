// Fuzz target: record batch decoding (storage/record_batch.hpp,
// storage/compression.hpp) over arbitrary bytes.
//
// The input is used three ways:
//  1. as one batch, as it is (the CRC almost always fails, which is the
//     point: the header checks must hold for any bytes), aligned and not;
//  2. as a whole fetch response, split with for_each_batch();
//  3. as a batch whose length, magic and CRC are repaired (length cut to a
//     multiple of 8), so that the payload decoders and the decompressors,
//     which sit behind the CRC, see arbitrary bytes too.
// Invariants: nothing crashes, throws or leaks; every error is invalid_batch
// (corrupt for for_each_batch); for_each_record never yields more than
// record_count records, nor offsets that do not increase or fall outside
// [base, base + last_offset_delta]; a batch that deep-validates decodes to
// exactly record_count records, the last at the last offset; and rebuilding
// those records with batch_builder, with any codec, gives a batch that
// deep-validates and decodes to the same records.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "storage/batch_header.hpp"
#include "storage/compression.hpp"
#include "storage/record_batch.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace herald::storage;

namespace {

bool same(const record& a, const record& b) {
  if (a.offset != b.offset || a.timestamp != b.timestamp || a.key != b.key || a.value != b.value ||
      a.headers.size() != b.headers.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.headers.size(); ++i) {
    if (a.headers[i].key != b.headers[i].key || a.headers[i].value != b.headers[i].value) return false;
  }
  return true;
}

std::vector<record> decode(std::span<const char> batch, status& s) {
  std::vector<record> out;
  s = for_each_record(batch, 0, [&](record&& r) { out.push_back(std::move(r)); });
  return out;
}

// Rebuilds `records` (from a batch with header `h`) with codec `c` and checks
// the result reads back the same.
void check_rebuild(const batch_header& h, const std::vector<record>& records, codec c) {
  batch_builder b;
  b.set_compression(c);
  b.set_producer(h.producer_id, h.producer_epoch, h.base_sequence);
  for (const auto& r : records) b.add(r.timestamp, r.key, r.value, r.headers);
  const std::size_t estimate = b.estimated_size();
  auto rebuilt = b.build();
  HERALD_FUZZ_CHECK(rebuilt.size() <= estimate, "built %zu bytes, estimated %zu", rebuilt.size(), estimate);
  const status deep = validate_batch_deep(rebuilt);
  HERALD_FUZZ_CHECK(deep.is_ok(), "rebuilt batch (%s) fails: %s", to_string(c), deep.message.c_str());
  stamp_batch(rebuilt, h.base_offset, h.term);
  status s;
  const auto again = decode(rebuilt, s);
  HERALD_FUZZ_CHECK(s.is_ok(), "rebuilt batch (%s) does not decode: %s", to_string(c), s.message.c_str());
  HERALD_FUZZ_CHECK(again.size() == records.size(), "rebuilt batch has %zu records, not %zu", again.size(),
                    records.size());
  // batch_builder numbers records 0, 1, 2, ...; the original may have gaps,
  // so offsets are compared only when it had none.
  const bool dense = h.last_offset_delta + std::uint64_t{1} == records.size();
  for (std::size_t i = 0; i < records.size(); ++i) {
    record want = records[i];
    if (!dense) want.offset = again[i].offset;
    HERALD_FUZZ_CHECK(same(want, again[i]), "rebuilt record %zu differs", i);
  }
}

// The checks for one batch that validate_batch() may or may not accept.
void check_batch(std::span<const char> batch, bool rebuild) {
  const status shallow = validate_batch(batch);
  HERALD_FUZZ_CHECK(shallow.is_ok() || shallow.code == errc::invalid_batch, "validate_batch gave %s",
                    to_string(shallow.code));
  const status deep = validate_batch_deep(batch);
  HERALD_FUZZ_CHECK(deep.is_ok() || deep.code == errc::invalid_batch, "validate_batch_deep gave %s",
                    to_string(deep.code));
  HERALD_FUZZ_CHECK(shallow.is_ok() || !deep.is_ok(), "deep accepts what shallow refuses: %s",
                    shallow.message.c_str());
  status each;
  const auto records = decode(batch, each);
  HERALD_FUZZ_CHECK(each.is_ok() || each.code == errc::invalid_batch, "for_each_record gave %s",
                    to_string(each.code));
  // Even without validation, no record comes from outside the batch.
  const batch_header h = decode_batch_header(batch);
  HERALD_FUZZ_CHECK(records.size() <= h.record_count, "%zu records decoded, header says %u", records.size(),
                    h.record_count);
  for (std::size_t i = 0; i < records.size(); ++i) {
    HERALD_FUZZ_CHECK(records[i].offset - h.base_offset <= h.last_offset_delta, "record %zu outside the batch", i);
    HERALD_FUZZ_CHECK(i == 0 || records[i].offset > records[i - 1].offset, "record %zu offset does not increase", i);
  }
  if (!deep) return;

  HERALD_FUZZ_CHECK(each.is_ok(), "deep-validated batch does not decode: %s", each.message.c_str());
  HERALD_FUZZ_CHECK(records.size() == h.record_count, "%zu records decoded, header says %u", records.size(),
                    h.record_count);
  // A batch the cleaner rewrote may hold no records, or end before its last
  // offset; the rest of the checks are for batches as producers build them.
  if (h.is_compacted()) return;
  HERALD_FUZZ_CHECK(records.back().offset == h.last_offset(), "last record is not at the last offset");

  // min_offset skips exactly the records below it.
  const std::uint64_t mid = records[records.size() / 2].offset;
  std::size_t tail = 0;
  const status part = for_each_record(batch, mid, [&](record&& r) {
    HERALD_FUZZ_CHECK(r.offset >= mid, "record below min_offset passed");
    ++tail;
  });
  HERALD_FUZZ_CHECK(part.is_ok() && tail == records.size() - records.size() / 2, "min_offset decode differs");

  if (rebuild) {
    for (const codec c : {codec::none, codec::lz4, codec::zstd}) check_rebuild(h, records, c);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const char> in(reinterpret_cast<const char*>(data), size);

  // 1. As it is, aligned (libFuzzer's buffer is malloc'ed) and not.
  check_batch(in, false);
  std::vector<char> shifted(size + 1);
  if (size > 0) std::memcpy(shifted.data() + 1, data, size);
  check_batch(std::span<const char>(shifted).subspan(1), false);

  // 2. As a fetch response.
  std::size_t seen = 0;
  const status split = for_each_batch(in, [&](std::span<const char> batch) {
    HERALD_FUZZ_CHECK(validate_batch(batch).is_ok(), "for_each_batch passed an invalid batch");
    ++seen;
    check_batch(batch, false);
  });
  HERALD_FUZZ_CHECK(split.is_ok() || split.code == errc::corrupt, "for_each_batch gave %s", to_string(split.code));
  HERALD_FUZZ_CHECK(split.is_ok() || size > 0, "empty input is not an error");

  // 3. Repaired so that the payload is reached.
  if (size >= batch_header_size) {
    std::vector<char> batch(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(size & ~std::size_t{7}));
    batch_header h = decode_batch_header(batch);
    h.length = static_cast<std::uint32_t>(batch.size());
    h.magic = batch_magic;
    encode_batch_header(h, batch);  // also zeroes the reserved fields
    seal_batch(batch);
    check_batch(batch, true);
  }
  return 0;
}
