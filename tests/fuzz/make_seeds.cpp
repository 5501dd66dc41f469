// Writes the seed inputs of the fuzz targets:
//   fuzz_make_seeds OUTDIR    -> OUTDIR/batch/seed-*, OUTDIR/segment/seed-*
// Seeds are valid inputs the fuzzers mutate from: batches with each codec
// (null and empty keys, headers, a gap in offsets), a fetch response of
// several batches, and segments of several batches. tests/fuzz/run.sh merges
// them into the checked-in corpus (tests/fuzz/corpus/).

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "schema/record.capnp.h"
#include "storage/batch_header.hpp"
#include "storage/compression.hpp"
#include "storage/record_batch.hpp"

using namespace herald::storage;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::vector<char>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", p.c_str());
    std::exit(1);
  }
}

std::vector<char> sample(codec c, int records, std::size_t value_size) {
  batch_builder b;
  b.set_compression(c);
  const std::vector<record_header> hdrs{{"trace", "t-1"}, {"", std::string("\0\1", 2)}};
  for (int i = 0; i < records; ++i) {
    std::optional<std::string> key;
    if (i % 3 == 1) key = "";
    if (i % 3 == 2) key = "key-" + std::to_string(i);
    b.add(1700000000000 + i, key, std::string(value_size + static_cast<std::size_t>(i), static_cast<char>('a' + i % 4)),
          i % 2 == 0 ? std::span<const record_header>(hdrs) : std::span<const record_header>());
  }
  if (records > 2) b.set_producer(42, 1, 7);
  return b.build();
}

// Offsets 0, 5 and 9: a payload batch_builder never makes but the format allows.
std::vector<char> with_gaps() {
  capnp::MallocMessageBuilder message;
  auto recs = message.initRoot<herald::schema::RecordBatchPayload>().initRecords(3);
  const std::uint32_t deltas[] = {0, 5, 9};
  for (unsigned i = 0; i < 3; ++i) {
    recs[i].setOffsetDelta(deltas[i]);
    recs[i].setTimestampDelta(i);
    const std::string v = "gap-" + std::to_string(i);
    recs[i].setValue(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(v.data()), v.size()));
  }
  const auto flat = capnp::messageToFlatArray(message);
  const auto bytes = flat.asChars();
  batch_header h;
  h.length = static_cast<std::uint32_t>(batch_header_size + bytes.size());
  h.record_count = 3;
  h.last_offset_delta = 9;
  std::vector<char> batch(h.length);
  encode_batch_header(h, batch);
  std::memcpy(batch.data() + batch_header_size, bytes.begin(), bytes.size());
  seal_batch(batch);
  return batch;
}

// Batches stamped with contiguous offsets from `base`, laid end to end.
std::vector<char> laid_out(std::vector<std::vector<char>> batches, std::uint64_t base) {
  std::vector<char> out;
  for (auto& b : batches) {
    stamp_batch(b, base, 3);
    base = decode_batch_header(b).next_offset();
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  const fs::path out(argv[1]);
  fs::create_directories(out / "batch");
  fs::create_directories(out / "segment");

  const auto plain1 = sample(codec::none, 1, 8);
  const auto plain = sample(codec::none, 6, 20);
  const auto lz4 = sample(codec::lz4, 6, 40);
  const auto zstd = sample(codec::zstd, 6, 40);
  const auto gaps = with_gaps();
  write(out / "batch" / "seed-plain-1", plain1);
  write(out / "batch" / "seed-plain-6", plain);
  write(out / "batch" / "seed-lz4-6", lz4);
  write(out / "batch" / "seed-zstd-6", zstd);
  write(out / "batch" / "seed-gaps", gaps);
  write(out / "batch" / "seed-fetch", laid_out({plain, lz4, zstd}, 100));

  write(out / "segment" / "seed-empty", {});
  write(out / "segment" / "seed-mixed", laid_out({plain1, plain, lz4, zstd, gaps, plain1}, 0));
  auto torn = laid_out({plain, lz4, zstd}, 0);
  torn.resize(torn.size() - 13);
  write(out / "segment" / "seed-torn", torn);
  // Starts at offset 1000: the fuzz target names the segment after it.
  write(out / "segment" / "seed-base-1000", laid_out({lz4, plain1, zstd}, 1000));
  std::printf("seeds written to %s\n", out.c_str());
  return 0;
}
