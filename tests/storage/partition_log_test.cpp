#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>

#include <limits>
#include <map>

#include "storage/partition_log.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using namespace herald::storage::test;

namespace {

// Batches of 1 to 4 records with values of varied size, so batch sizes and
// offsets per batch both vary.
void fill(partition_log& log, log_model& model, int batches, std::uint64_t term = 1) {
  for (int i = 0; i < batches; ++i) {
    const auto n = static_cast<std::uint32_t>(1 + i % 4);
    const auto ts = static_cast<std::int64_t>(10'000 + 10 * model.batches.size());
    model.append(log, make_batch(n, ts, 10 + static_cast<std::size_t>(i * 13 % 90)), term);
  }
}

// Every offset, through several byte budgets and upper bounds.
void check_reads(const partition_log& log, const log_model& model) {
  const std::uint64_t end = model.end();
  REQUIRE(log.log_end_offset() == end);
  for (std::uint64_t o = 0; o < end; ++o) {
    for (std::uint32_t max_bytes : {1u, 300u, 700u, unlimited}) {
      for (std::uint64_t upto : {end, o + 1, o + 5, o}) {
        auto r = log.read(o, max_bytes, upto);
        REQUIRE_MESSAGE(r.has_value(), r.error().message);
        const auto expected = model.expected_read(o, max_bytes, upto);
        CHECK_MESSAGE(r->bytes == expected, "offset ", o, " max_bytes ", max_bytes, " upto ", upto);
        if (!expected.empty()) {
          const auto first = decode_batch_header(r->bytes);
          CHECK(first.base_offset <= o);
          CHECK(first.last_offset() >= o);
          // next_offset is the offset after the last returned batch.
          std::uint64_t next = 0;
          REQUIRE(for_each_batch(r->bytes, [&](std::span<const char> b) {
                    next = decode_batch_header(b).next_offset();
                  }).is_ok());
          CHECK(r->next_offset == next);
        } else {
          CHECK(r->next_offset == o);
        }
      }
    }
  }
  auto at_end = log.read(end, unlimited, no_upto);
  REQUIRE(at_end.has_value());
  CHECK(at_end->bytes.empty());
  CHECK(at_end->next_offset == end);
}

} // namespace

TEST_CASE("an empty directory opens as an empty log at offset 0") {
  temp_dir dir;
  auto log = open_log(dir.path() / "p0", log_config{});
  CHECK(log->log_start_offset() == 0);
  CHECK(log->log_end_offset() == 0);
  CHECK(log->durable_end_offset() == 0);
  CHECK(log->size_bytes() == 0);
  CHECK(log->segment_count() == 1);
  CHECK(log->recovery().truncated_bytes == 0);
  CHECK(log->recovery().detail.empty());
  auto r = log->read(0, unlimited, no_upto);
  REQUIRE(r.has_value());
  CHECK(r->bytes.empty());
  CHECK(r->next_offset == 0);
  CHECK(log->read(1, unlimited, no_upto).error().code == errc::offset_out_of_range);
  CHECK(*log->offset_for_timestamp(0) == 0);
}

TEST_CASE("append assigns consecutive offsets and stamps offset and term") {
  temp_dir dir;
  auto log = open_log(dir.path(), log_config{});
  log_model model;
  const auto a = model.append(*log, make_batch(1), 3);
  const auto b = model.append(*log, make_batch(5), 3);
  const auto c = model.append(*log, make_batch(2), 4);
  CHECK(a.base_offset == 0);
  CHECK(a.last_offset == 0);
  CHECK(b.base_offset == 1);
  CHECK(b.last_offset == 5);
  CHECK(c.base_offset == 6);
  CHECK(c.last_offset == 7);
  CHECK(log->log_end_offset() == 8);
  CHECK(log->size_bytes() ==
        model.batches[0].bytes.size() + model.batches[1].bytes.size() + model.batches[2].bytes.size());

  auto r = log->read(0, unlimited, no_upto);
  REQUIRE(r.has_value());
  std::vector<batch_header> headers;
  REQUIRE(for_each_batch(r->bytes, [&](std::span<const char> x) { headers.push_back(decode_batch_header(x)); })
              .is_ok());
  REQUIRE(headers.size() == 3);
  CHECK(headers[1].base_offset == 1);
  CHECK(headers[1].term == 3);
  CHECK(headers[2].term == 4);
  // The records come back with their absolute offsets.
  std::vector<std::uint64_t> offsets;
  REQUIRE(for_each_record(std::span<const char>(r->bytes).subspan(model.batches[0].bytes.size(),
                                                                   model.batches[1].bytes.size()),
                          0, [&](record&& rec) { offsets.push_back(rec.offset); })
              .is_ok());
  CHECK(offsets == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
}

TEST_CASE("reads at every offset across several segment rolls") {
  temp_dir dir;
  const auto cfg = small_segments();
  auto log = open_log(dir.path(), cfg);
  log_model model;
  fill(*log, model, 60);
  REQUIRE(log->segment_count() >= 4);
  check_reads(*log, model);

  // Segments hold whole batches and stay within segment_bytes. Closed ones
  // were cut to their batches; the active one is preallocated.
  std::map<std::uint64_t, std::uint64_t> file_sizes;  // by base offset
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    if (e.path().extension() == ".log") file_sizes[std::stoull(e.path().stem().string())] = e.file_size();
  }
  REQUIRE(file_sizes.size() == log->segment_count());
  std::uint64_t closed_total = 0;
  for (auto it = file_sizes.begin(); std::next(it) != file_sizes.end(); ++it) {
    CHECK(it->second <= cfg.segment_bytes);
    closed_total += it->second;
  }
  CHECK(file_sizes.rbegin()->second == cfg.segment_bytes);
  CHECK(closed_total < log->size_bytes());
  CHECK(log->size_bytes() - closed_total <= cfg.segment_bytes);

  // Closed segments got their indexes written at the roll, active one not yet.
  std::size_t indexes = 0;
  std::size_t time_indexes = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    if (e.path().extension() == ".index") ++indexes;
    if (e.path().extension() == ".timeindex") ++time_indexes;
  }
  CHECK(indexes == log->segment_count() - 1);
  CHECK(time_indexes == log->segment_count() - 1);

  SUBCASE("reopen preserves everything and appends continue") {
    const auto segments = log->segment_count();
    const auto size = log->size_bytes();
    log.reset();
    log = open_log(dir.path(), cfg);
    CHECK(log->recovery().truncated_bytes == 0);
    CHECK(log->recovery().detail.empty());
    CHECK(log->recovery().segments == segments);
    CHECK(log->recovery().batches_validated > 0);
    CHECK(log->segment_count() == segments);
    CHECK(log->size_bytes() == size);
    CHECK(log->durable_end_offset() == model.end());
    check_reads(*log, model);

    fill(*log, model, 10, 2);
    check_reads(*log, model);
  }
}

TEST_CASE("a batch larger than segment_bytes gets a fresh segment of its own") {
  temp_dir dir;
  log_config cfg;
  cfg.segment_bytes = 256;
  auto log = open_log(dir.path(), cfg);
  log_model model;
  model.append(*log, make_batch(1, 1, 8), 1);  // fits
  REQUIRE(log->segment_count() == 1);
  model.append(*log, make_batch(2, 1, 600), 1);  // too big for any segment
  CHECK(log->segment_count() == 2);
  model.append(*log, make_batch(1, 1, 8), 1);  // the big one's segment is full
  CHECK(log->segment_count() == 3);
  CHECK(std::filesystem::file_size(segment_log(dir.path(), 1)) == model.batches[1].bytes.size());
  CHECK(std::filesystem::exists(segment_log(dir.path(), 3)));
  check_reads(*log, model);
}

TEST_CASE("durable_end_offset follows sync") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  fill(*log, model, 3);
  CHECK(log->durable_end_offset() == 0);
  REQUIRE(log->sync().is_ok());
  CHECK(log->durable_end_offset() == log->log_end_offset());
  fill(*log, model, 20);  // rolls segments
  CHECK(log->durable_end_offset() < log->log_end_offset());
  REQUIRE(log->sync().is_ok());
  CHECK(log->durable_end_offset() == log->log_end_offset());
  REQUIRE(log->sync().is_ok());  // nothing new: still fine
}

TEST_CASE("append refuses oversized and invalid batches and leaves the log unchanged") {
  temp_dir dir;
  log_config cfg;
  cfg.max_batch_bytes = 512;
  auto log = open_log(dir.path(), cfg);
  log_model model;
  model.append(*log, make_batch(2), 1);
  const auto end = log->log_end_offset();
  const auto size = log->size_bytes();
  const auto file_size = std::filesystem::file_size(segment_log(dir.path(), 0));

  auto big = make_batch(1, 1, 600);
  REQUIRE(big.size() > 512);
  CHECK(log->append(big, 1).error().code == errc::batch_too_large);

  auto flipped = make_batch(2);
  flipped[100] ^= 0x10;
  CHECK(log->append(flipped, 1).error().code == errc::invalid_batch);

  auto bad_count = make_batch(2);
  batch_header h = decode_batch_header(bad_count);
  h.record_count = 3;
  h.last_offset_delta = 2;
  encode_batch_header(h, bad_count);
  seal_batch(bad_count);
  CHECK(log->append(bad_count, 1).error().code == errc::invalid_batch);

  CHECK(log->append(std::vector<char>(10, 0), 1).error().code == errc::invalid_batch);

  CHECK(log->log_end_offset() == end);
  CHECK(log->size_bytes() == size);
  CHECK(std::filesystem::file_size(segment_log(dir.path(), 0)) == file_size);
  model.append(*log, make_batch(1), 1);
  check_reads(*log, model);
}

TEST_CASE("read rejects offsets outside the log") {
  temp_dir dir;
  auto log = open_log(dir.path(), log_config{});
  log_model model;
  fill(*log, model, 3);
  CHECK(log->read(model.end() + 1, unlimited, no_upto).error().code == errc::offset_out_of_range);
  auto r = log->read(2, unlimited, 2);
  REQUIRE(r.has_value());
  CHECK(r->bytes.empty());
  CHECK(r->next_offset == 2);
}

TEST_CASE("offset_for_timestamp finds the first batch reaching a timestamp") {
  temp_dir dir;
  auto log = open_log(dir.path(), small_segments());
  log_model model;
  // Batch i holds timestamps [1000 + 100 i, 1000 + 100 i + n - 1].
  for (int i = 0; i < 30; ++i) {
    model.append(*log, make_batch(static_cast<std::uint32_t>(1 + i % 3), 1000 + 100 * i, 40), 1);
  }
  REQUIRE(log->segment_count() > 1);
  CHECK(*log->offset_for_timestamp(-1) == 0);
  CHECK(*log->offset_for_timestamp(1000) == 0);
  for (std::size_t i = 1; i < model.batches.size(); ++i) {
    const auto& prev = model.batches[i - 1];
    CHECK(*log->offset_for_timestamp(prev.max_timestamp + 1) == model.batches[i].base);
    CHECK(*log->offset_for_timestamp(1000 + 100 * static_cast<std::int64_t>(i)) == model.batches[i].base);
  }
  CHECK(*log->offset_for_timestamp(model.batches.back().max_timestamp) == model.batches.back().base);
  CHECK(*log->offset_for_timestamp(model.batches.back().max_timestamp + 1) == log->log_end_offset());
}

TEST_CASE("a failed write is cut back and later appends succeed") {
  temp_dir dir;
  auto log = open_log(dir.path(), log_config{});
  log_model model;
  fill(*log, model, 3);
  const auto seg = segment_log(dir.path(), 0);
  const auto size_before = log->size_bytes();  // the data; the file is preallocated
  const auto batch = make_batch(3, 5000, 200);

  // RLIMIT_FSIZE makes the kernel write part of the batch and then fail with
  // EFBIG: a real partial write, without a full disk. It applies to the
  // write's offset, inside the preallocated size too.
  struct sigaction ignore {};
  struct sigaction old_action {};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(::sigaction(SIGXFSZ, &ignore, &old_action) == 0);
  rlimit old_limit{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  rlimit limit = old_limit;
  limit.rlim_cur = size_before + batch.size() / 2;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  auto failed = log->append(batch, 1);
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  REQUIRE(::sigaction(SIGXFSZ, &old_action, nullptr) == 0);

  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().code == errc::io_error);
  CHECK(std::filesystem::file_size(seg) == size_before);
  CHECK(log->log_end_offset() == model.end());
  check_reads(*log, model);

  const auto ok = model.append(*log, batch, 1);
  CHECK(ok.base_offset == model.batches[model.batches.size() - 2].last + 1);
  REQUIRE(log->sync().is_ok());
  check_reads(*log, model);

  log.reset();
  log = open_log(dir.path(), log_config{});
  CHECK(log->recovery().truncated_bytes == 0);
  check_reads(*log, model);
}
