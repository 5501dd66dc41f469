#pragma once
// Shared helpers for the storage tests: a scratch directory per test and
// batch factories.

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "storage/batch_header.hpp"
#include "storage/partition_log.hpp"
#include "storage/record_batch.hpp"
#include "tests/support/process.hpp"

#include <doctest/doctest.h>

namespace herald::storage::test {

using herald::test::temp_dir;

// A sealed batch of `count` records whose values are `value_size` bytes and
// whose timestamps are timestamp, timestamp + 1, ...
inline std::vector<char> make_batch(std::uint32_t count, std::int64_t timestamp = 1000, std::size_t value_size = 20,
                                    char fill = 'v') {
  batch_builder b;
  for (std::uint32_t i = 0; i < count; ++i) {
    b.add(timestamp + i, "key-" + std::to_string(i), std::string(value_size, fill));
  }
  return b.build();
}

inline std::vector<char> read_file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file_bytes(const std::filesystem::path& p, const std::vector<char>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void append_file_bytes(const std::filesystem::path& p, const std::vector<char>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::app);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::filesystem::path segment_log(const std::filesystem::path& dir, std::uint64_t base) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu.log", static_cast<unsigned long long>(base));
  return dir / name;
}

// Base offsets of the segment files in `dir`, ascending.
inline std::vector<std::uint64_t> segment_bases(const std::filesystem::path& dir) {
  std::vector<std::uint64_t> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".log") out.push_back(std::stoull(e.path().stem().string()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::filesystem::path segment_index(const std::filesystem::path& dir, std::uint64_t base) {
  auto p = segment_log(dir, base);
  p.replace_extension(".index");
  return p;
}

// What a partition log should hold: every appended batch as it must be read
// back (stamped with its offset and term).
struct stored_batch {
  std::uint64_t base = 0;
  std::uint64_t last = 0;
  std::int64_t max_timestamp = 0;
  std::vector<char> bytes;
};

class log_model {
public:
  // Appends `batch` to `log` and records what it should now hold.
  append_result append(partition_log& log, const std::vector<char>& batch, std::uint64_t term) {
    auto r = log.append(batch, term);
    if (!r) throw std::runtime_error("append failed: " + r.error().message);
    stored_batch b{r->base_offset, r->last_offset, decode_batch_header(batch).max_timestamp, batch};
    stamp_batch(b.bytes, r->base_offset, term);
    batches.push_back(std::move(b));
    return *r;
  }

  // Index of the batch holding `offset`.
  std::size_t batch_of(std::uint64_t offset) const {
    for (std::size_t i = 0; i < batches.size(); ++i) {
      if (batches[i].last >= offset) return i;
    }
    return batches.size();
  }

  // The bytes a read(offset, max_bytes, upto) must return.
  std::vector<char> expected_read(std::uint64_t offset, std::uint32_t max_bytes, std::uint64_t upto) const {
    std::vector<char> out;
    if (upto <= offset) return out;
    for (std::size_t i = batch_of(offset); i < batches.size(); ++i) {
      const auto& b = batches[i];
      if (b.last >= upto) break;
      if (!out.empty() && out.size() + b.bytes.size() > max_bytes) break;
      out.insert(out.end(), b.bytes.begin(), b.bytes.end());
    }
    return out;
  }

  std::uint64_t end() const { return batches.empty() ? 0 : batches.back().last + 1; }

  std::vector<stored_batch> batches;
};

inline constexpr std::uint32_t unlimited = std::numeric_limits<std::uint32_t>::max();
inline constexpr std::uint64_t no_upto = std::numeric_limits<std::uint64_t>::max();

// Tiny segments and a dense index, so a few batches cross several of each.
inline log_config small_segments() {
  log_config cfg;
  cfg.segment_bytes = 1024;
  cfg.index_interval_bytes = 200;
  return cfg;
}

inline std::unique_ptr<partition_log> open_log(const std::filesystem::path& dir, const log_config& cfg) {
  auto log = partition_log::open(dir, cfg);
  REQUIRE_MESSAGE(log.has_value(), log.error().message);
  return std::move(*log);
}

// The whole log, and each batch on its own, read back as the model says.
inline void check_contents(const partition_log& log, const log_model& model) {
  REQUIRE(log.log_end_offset() == model.end());
  auto all = log.read(log.log_start_offset(), unlimited, no_upto);
  REQUIRE_MESSAGE(all.has_value(), all.error().message);
  CHECK(all->bytes == model.expected_read(0, unlimited, no_upto));
  for (const auto& b : model.batches) {
    auto one = log.read(b.base, 1, no_upto);
    REQUIRE_MESSAGE(one.has_value(), one.error().message);
    CHECK(one->bytes == b.bytes);
    auto last = log.read(b.last, 1, no_upto);
    REQUIRE_MESSAGE(last.has_value(), last.error().message);
    CHECK(last->bytes == b.bytes);
  }
}

} // namespace herald::storage::test
