// storage_read: read-by-offset latency on a large log with a warm page cache:
// partition_log::read(random offset, 64 KiB, upto = log end) against raw
// pread of 64 KiB at random positions of the same segment files.
//
// The log (default 1 GiB of 16 KiB batches of 1 KiB records, 128 MiB
// segments) is built once with no fsync but one sync() at the end. The two
// loops are interleaved read by read; repeated --runs times; the summary is
// median [min..max] over the runs.

#include <fcntl.h>
#include <unistd.h>

#include "bench/bench_common.hpp"

namespace hb = herald::bench;
namespace st = herald::storage;

namespace {

struct raw_file {
  int fd;
  std::uint64_t size;
};

struct run_result {
  hb::latency storage, raw;
  double storage_mean_bytes = 0;
};

} // namespace

int main(int argc, char** argv) {
  hb::install_stop_handler();
  hb::flags f(argc, argv, "storage_read: partition_log::read latency at random offsets vs raw pread, warm cache.");
  const auto dir_flag = f.str("dir", "", "base directory for scratch files (default: $TMPDIR or /tmp unless tmpfs)");
  const bool keep = f.boolean("keep", false, "keep the scratch directory");
  const auto log_bytes = f.size("log-bytes", 1ull << 30, "size of the log to build");
  const auto batch_bytes = f.size("batch", 16 << 10, "nominal batch size");
  const auto record_bytes = f.size("record-bytes", 1024, "value bytes per record");
  const auto segment_bytes = f.size("segment-bytes", 128ull << 20, "log_config::segment_bytes");
  const auto read_bytes = f.size("read-bytes", 64 << 10, "max_bytes per read (and raw pread size)");
  const auto reads = f.size("reads", 20000, "timed reads per loop per run");
  const auto runs = f.size("runs", 3, "runs over the same log");
  const auto seed = f.size("seed", 1, "random seed");
  f.done();

  hb::scratch_dir dir(dir_flag, "read", keep);
  f.set_resolved("dir", dir.base().string());
  hb::print_context(f, dir);

  std::uint32_t records = 0;
  const auto batch = hb::make_batch(batch_bytes, record_bytes, &records);
  st::log_config cfg;
  cfg.segment_bytes = segment_bytes;
  const auto log_dir = dir.path() / "log";
  auto opened = st::partition_log::open(log_dir, cfg);
  auto& log = hb::check(opened, "open log");

  // Build: appends without fsync, one sync at the end.
  const auto t0 = hb::bench_clock::now();
  while (log->size_bytes() < log_bytes && !hb::stopped()) {
    auto r = log->append(batch, 1);
    if (!r) hb::die("append: " + r.error().message);
  }
  const double append_s = hb::micros_since(t0) / 1e6;
  const auto t1 = hb::bench_clock::now();
  hb::check(log->sync(), "sync");
  const double sync_s = hb::micros_since(t1) / 1e6;
  if (hb::stopped()) return 130;
  std::printf("built: %llu bytes, %llu offsets, %zu segments; batch %zu bytes (%u records); appends %.2f s "
              "(%.0f MB/s, no fsync), final sync %.2f s\n",
              static_cast<unsigned long long>(log->size_bytes()), static_cast<unsigned long long>(log->log_end_offset()),
              log->segment_count(), batch.size(), records, append_s, static_cast<double>(log->size_bytes()) / 1e6 / append_s,
              sync_s);

  // Close the log (a clean close leaves each file holding exactly its data),
  // note the segment files and their sizes for the raw loop, and reopen it.
  // Reading them all once also makes sure the page cache is warm.
  log.reset();
  std::vector<raw_file> files;
  std::uint64_t total = 0;
  {
    std::vector<hb::fs::path> paths;
    for (const auto& e : hb::fs::directory_iterator(log_dir)) {
      if (e.path().extension() == ".log") paths.push_back(e.path());
    }
    std::sort(paths.begin(), paths.end());
    std::vector<char> buf(1 << 20);
    for (const auto& p : paths) {
      const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      hb::check_errno(fd >= 0, "open " + p.string());
      const std::uint64_t size = hb::fs::file_size(p);
      for (std::uint64_t off = 0, n; off < size && (n = hb::pread_full(fd, buf.data(), buf.size(), off)) > 0;) off += n;
      files.push_back({fd, size});
      total += size;
    }
  }
  auto reopened = st::partition_log::open(log_dir, cfg);
  auto& rlog = hb::check(reopened, "reopen log");

  std::mt19937_64 rng(seed);
  const std::uint64_t start = rlog->log_start_offset(), end = rlog->log_end_offset();
  std::vector<char> buf(read_bytes);
  std::vector<run_result> results;
  std::printf("\n");
  for (std::uint64_t r = 0; r < runs && !hb::stopped(); ++r) {
    std::vector<double> t_storage, t_raw;
    t_storage.reserve(reads);
    t_raw.reserve(reads);
    double got = 0;
    for (std::uint64_t i = 0; i < reads && !hb::stopped(); ++i) {
      const std::uint64_t offset = start + rng() % (end - start);
      std::uint64_t pos = rng() % total;
      std::size_t k = 0;
      while (pos >= files[k].size) pos -= files[k++].size;
      const std::uint64_t len = std::min<std::uint64_t>(read_bytes, files[k].size);
      pos = std::min(pos, files[k].size - len);

      auto storage_read = [&] {
        const auto s0 = hb::bench_clock::now();
        auto res = rlog->read(offset, static_cast<std::uint32_t>(read_bytes), end);
        const double us = hb::micros_since(s0);
        if (!res) hb::die("read: " + res.error().message);
        if (res->bytes.empty()) hb::die("read returned nothing at offset " + std::to_string(offset));
        got += static_cast<double>(res->bytes.size());
        t_storage.push_back(us);
      };
      auto raw_read = [&] {
        const auto s0 = hb::bench_clock::now();
        if (hb::pread_full(files[k].fd, buf.data(), len, pos) != len) hb::die("short pread");
        t_raw.push_back(hb::micros_since(s0));
      };
      if (i % 2) {
        storage_read();
        raw_read();
      } else {
        raw_read();
        storage_read();
      }
    }
    results.push_back({hb::summarize(t_storage), hb::summarize(t_raw), got / static_cast<double>(t_storage.size())});
    const auto& x = results.back();
    std::printf("run %llu (us): storage read p50 %.1f p99 %.1f p999 %.1f (%.0f bytes/read) | raw pread p50 %.1f p99 "
                "%.1f p999 %.1f (%llu bytes)\n",
                static_cast<unsigned long long>(r + 1), x.storage.p50, x.storage.p99, x.storage.p999,
                x.storage_mean_bytes, x.raw.p50, x.raw.p99, x.raw.p999, static_cast<unsigned long long>(read_bytes));
    std::fflush(stdout);
  }
  // Syscalls per read, counted apart from the timed loops (which interleave).
  double storage_syscalls = 0;
  {
    const std::uint64_t n = 1000;
    const auto io0 = hb::read_io_counters();
    for (std::uint64_t i = 0; i < n; ++i) {
      auto res = rlog->read(start + rng() % (end - start), static_cast<std::uint32_t>(read_bytes), end);
      if (!res) hb::die("read: " + res.error().message);
    }
    const auto io1 = hb::read_io_counters();
    storage_syscalls = static_cast<double>(io1.syscr - io0.syscr - 1) / static_cast<double>(n);
  }
  for (const auto& fl : files) ::close(fl.fd);
  if (hb::stopped()) return 130;

  auto col = [&](hb::latency run_result::*m, double hb::latency::*field) {
    std::vector<double> v;
    for (const auto& r : results) v.push_back(r.*m.*field);
    return hb::spread_of(v);
  };
  std::printf("\n== read latency in us, warm cache, median [min..max] over %zu runs of %llu reads ==\n", results.size(),
              static_cast<unsigned long long>(reads));
  std::printf("%-40s %-20s %-20s %-20s\n", "", "p50", "p99", "p999");
  std::printf("%-40s %-20s %-20s %-20s\n", "storage read(offset, max_bytes, end)", hb::fmt(col(&run_result::storage, &hb::latency::p50)).c_str(),
              hb::fmt(col(&run_result::storage, &hb::latency::p99)).c_str(),
              hb::fmt(col(&run_result::storage, &hb::latency::p999)).c_str());
  std::printf("%-40s %-20s %-20s %-20s\n", "raw pread", hb::fmt(col(&run_result::raw, &hb::latency::p50)).c_str(),
              hb::fmt(col(&run_result::raw, &hb::latency::p99)).c_str(),
              hb::fmt(col(&run_result::raw, &hb::latency::p999)).c_str());
  std::printf("storage returns whole batches: %.0f bytes per read on average (raw reads %llu); %.1f read "
              "syscalls per storage read (raw: 1)\n",
              results.front().storage_mean_bytes, static_cast<unsigned long long>(read_bytes), storage_syscalls);
  std::printf("ratio storage/raw: p50 %.2f, p99 %.2f\n",
              col(&run_result::storage, &hb::latency::p50).median / col(&run_result::raw, &hb::latency::p50).median,
              col(&run_result::storage, &hb::latency::p99).median / col(&run_result::raw, &hb::latency::p99).median);
  hb::print_load_at_end();
  return 0;
}
