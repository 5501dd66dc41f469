// The zero-copy read path: read_ranges() names the same bytes read()
// returns, as file ranges a socket can take with sendfile(2).

#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "tests/storage/test_util.hpp"

namespace herald::storage::test {
namespace {

log_config four_kib_segments() {
  log_config cfg;
  cfg.segment_bytes = 4096;
  cfg.index_interval_bytes = 512;
  return cfg;
}

// The bytes the ranges name, read with pread.
std::vector<char> bytes_of(const read_ranges_result& r) {
  std::vector<char> out;
  for (const auto& range : r.ranges) {
    const auto at = out.size();
    out.resize(at + range.length);
    REQUIRE(::pread(range.fd, out.data() + at, range.length, static_cast<off_t>(range.position)) ==
            static_cast<ssize_t>(range.length));
  }
  return out;
}

std::unique_ptr<partition_log> filled_log(const std::filesystem::path& dir, int batches) {
  auto log = partition_log::open(dir, four_kib_segments());
  REQUIRE(log.has_value());
  for (int i = 0; i < batches; ++i)
    REQUIRE((*log)->append(make_batch(static_cast<std::uint32_t>(1 + i % 4), 1000 + i, 100), 3).has_value());
  REQUIRE((*log)->sync().is_ok());
  return std::move(*log);
}

} // namespace

TEST_CASE("read_ranges names exactly the bytes read returns across segments") {
  temp_dir dir;
  auto log = filled_log(dir.path(), 60);
  REQUIRE(log->segment_count() > 3);
  const auto end = log->log_end_offset();
  for (std::uint64_t offset = 0; offset <= end; offset += 7) {
    for (std::uint32_t max_bytes : {1u, 700u, 5000u, 1u << 20}) {
      for (std::uint64_t upto : {end, offset + 30}) {
        CAPTURE(offset);
        CAPTURE(max_bytes);
        CAPTURE(upto);
        auto copied = log->read(offset, max_bytes, upto);
        auto ranges = log->read_ranges(offset, max_bytes, upto);
        REQUIRE(copied.has_value());
        REQUIRE(ranges.has_value());
        CHECK(bytes_of(*ranges) == copied->bytes);
        CHECK(ranges->bytes == copied->bytes.size());
        CHECK(ranges->next_offset == copied->next_offset);
        CHECK(ranges->ranges.size() <= log->segment_count());
      }
    }
  }
}

TEST_CASE("read_ranges output goes through sendfile unchanged") {
  temp_dir dir;
  auto log = filled_log(dir.path(), 40);
  auto ranges = log->read_ranges(0, 1u << 20, log->log_end_offset());
  REQUIRE(ranges.has_value());
  REQUIRE(ranges->ranges.size() > 1);

  const auto sink_path = dir.path() / "sink";
  const int sink = ::open(sink_path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  REQUIRE(sink >= 0);
  for (const auto& r : ranges->ranges) {
    off_t position = static_cast<off_t>(r.position);
    std::uint64_t left = r.length;
    while (left > 0) {
      const auto sent = ::sendfile(sink, r.fd, &position, left);
      REQUIRE(sent > 0);
      left -= static_cast<std::uint64_t>(sent);
    }
  }
  ::close(sink);
  auto copied = log->read(0, 1u << 20, log->log_end_offset());
  REQUIRE(copied.has_value());
  CHECK(read_file_bytes(sink_path) == copied->bytes);
  // What arrived is whole, valid batches.
  std::size_t batches = 0;
  CHECK(for_each_batch(copied->bytes, [&](std::span<const char>) { ++batches; }).is_ok());
  CHECK(batches > 0);
}

TEST_CASE("read_ranges refuses offsets outside the log and stops at a damaged header") {
  temp_dir dir;
  {
    auto log = filled_log(dir.path(), 20);
    CHECK(log->read_ranges(log->log_end_offset() + 1, 100, log->log_end_offset() + 5).error().code ==
          errc::offset_out_of_range);
    auto empty = log->read_ranges(log->log_end_offset(), 100, log->log_end_offset() + 5);
    REQUIRE(empty.has_value());
    CHECK(empty->ranges.empty());
  }
  // Damage the magic of the second batch of the first segment (a closed,
  // trusted one): ranges stop before it, and a read starting at it fails.
  auto path = segment_log(dir.path(), 0);
  auto bytes = read_file_bytes(path);
  const auto first = decode_batch_header(bytes);
  bytes[first.length + 12] ^= 0x5a;
  write_file_bytes(path, bytes);
  auto reopened = partition_log::open(dir.path(), four_kib_segments());
  REQUIRE(reopened.has_value());
  auto& log = **reopened;
  auto ranges = log.read_ranges(0, 1u << 20, log.log_end_offset());
  REQUIRE(ranges.has_value());
  CHECK(ranges->bytes == first.length);
  // Damage in a closed segment: the log says so (issue 9 item 4).
  CHECK(log.read_ranges(first.next_offset(), 1u << 20, log.log_end_offset()).error().code == errc::damaged);
}

} // namespace herald::storage::test
