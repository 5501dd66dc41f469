// storage_append_latency: latency of one durable append with one batch in
// flight (partition_log::append + sync() of one 16 KiB batch), p50/p99/p999,
// against raw pwrite + fdatasync of the same bytes at the end of a fresh file
// and into a fallocate()d file in the same directory.
//
// The three loops are interleaved operation by operation (rotating which goes
// first), so all of them see the same background noise. Repeated --runs times
// on fresh files; the summary is median [min..max] over the runs.

#include <fcntl.h>
#include <unistd.h>

#include <array>

#include "bench/bench_common.hpp"

namespace hb = herald::bench;
namespace st = herald::storage;

namespace {

struct run_result {
  hb::latency storage, append_only, sync_only, fresh, fallocated;
};

void settle(const hb::fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
}

run_result one_run(const hb::fs::path& dir, const std::vector<char>& batch, std::uint64_t ops, std::uint64_t warmup,
                   std::uint64_t segment_bytes, double max_seconds) {
  st::log_config cfg;
  cfg.segment_bytes = segment_bytes;
  const auto log_dir = dir / "log";
  auto opened = st::partition_log::open(log_dir, cfg);
  auto& log = hb::check(opened, "open log");

  const auto fresh_path = dir / "raw-fresh.dat";
  const auto fall_path = dir / "raw-fallocated.dat";
  const int fresh = ::open(fresh_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  hb::check_errno(fresh >= 0, "open " + fresh_path.string());
  const int fall = ::open(fall_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  hb::check_errno(fall >= 0, "open " + fall_path.string());
  hb::check_errno(::fallocate(fall, 0, 0, static_cast<off_t>((ops + warmup) * batch.size())) == 0, "fallocate");
  ::fsync(fall);
  hb::sync_dir(dir);

  std::vector<double> t_storage, t_append, t_sync, t_fresh, t_fall;
  for (auto* v : {&t_storage, &t_append, &t_sync, &t_fresh, &t_fall}) v->reserve(ops);
  std::uint64_t off_fresh = 0, off_fall = 0;

  const auto started = hb::bench_clock::now();
  for (std::uint64_t i = 0; i < ops + warmup && !hb::stopped(); ++i) {
    const bool record = i >= warmup;
    if (i % 64 == 0 && hb::micros_since(started) > max_seconds * 1e6) {
      std::printf("time cap: stopped after %llu timed ops per loop (--max-seconds=%g)\n",
                  static_cast<unsigned long long>(t_storage.size()), max_seconds);
      break;
    }
    for (std::uint64_t k = 0; k < 3; ++k) {
      switch ((i + k) % 3) {
        case 0: {
          const auto t0 = hb::bench_clock::now();
          auto r = log->append(batch, 1);
          if (!r) hb::die("append: " + r.error().message);
          const auto t1 = hb::bench_clock::now();
          hb::check(log->sync(), "sync");
          const auto t2 = hb::bench_clock::now();
          if (record) {
            t_append.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
            t_sync.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
            t_storage.push_back(std::chrono::duration<double, std::micro>(t2 - t0).count());
          }
          break;
        }
        case 1: {
          const auto t0 = hb::bench_clock::now();
          hb::pwrite_all(fresh, batch.data(), batch.size(), off_fresh);
          hb::fdatasync_or_die(fresh);
          if (record) t_fresh.push_back(hb::micros_since(t0));
          off_fresh += batch.size();
          break;
        }
        default: {
          const auto t0 = hb::bench_clock::now();
          hb::pwrite_all(fall, batch.data(), batch.size(), off_fall);
          hb::fdatasync_or_die(fall);
          if (record) t_fall.push_back(hb::micros_since(t0));
          off_fall += batch.size();
          break;
        }
      }
    }
  }
  ::close(fresh);
  ::close(fall);
  log.reset();
  std::error_code ec;
  hb::fs::remove_all(log_dir, ec);
  hb::fs::remove(fresh_path, ec);
  hb::fs::remove(fall_path, ec);
  settle(dir);
  return {hb::summarize(t_storage), hb::summarize(t_append), hb::summarize(t_sync), hb::summarize(t_fresh),
          hb::summarize(t_fall)};
}

} // namespace

int main(int argc, char** argv) {
  hb::install_stop_handler();
  hb::flags f(argc, argv,
              "storage_append_latency: append+sync latency of one batch in flight vs raw pwrite+fdatasync.");
  const auto dir_flag = f.str("dir", "", "base directory for scratch files (default: $TMPDIR or /tmp unless tmpfs)");
  const bool keep = f.boolean("keep", false, "keep the scratch directory");
  const auto batch_bytes = f.size("batch", 16 << 10, "nominal batch size");
  const auto record_bytes = f.size("record-bytes", 1024, "value bytes per record");
  const auto ops = f.size("ops", 5000, "timed operations per loop per run");
  const auto warmup = f.size("warmup", 200, "untimed operations per loop first");
  const auto runs = f.size("runs", 3, "runs, each on fresh files");
  const auto segment_bytes = f.size("segment-bytes", 128ull << 20, "log_config::segment_bytes");
  const double max_seconds = f.real("max-seconds", 15, "time cap per run (a busy machine makes fsync slow)");
  f.done();

  hb::scratch_dir dir(dir_flag, "latency", keep);
  f.set_resolved("dir", dir.base().string());
  hb::print_context(f, dir);

  std::uint32_t records = 0;
  const auto batch = hb::make_batch(batch_bytes, record_bytes, &records);
  std::printf("batch: %u records of %llu value bytes = %zu bytes; %llu ops per loop per run, loops interleaved\n\n",
              records, static_cast<unsigned long long>(record_bytes), batch.size(), static_cast<unsigned long long>(ops));

  std::vector<run_result> results;
  for (std::uint64_t r = 0; r < runs && !hb::stopped(); ++r) {
    results.push_back(one_run(dir.path(), batch, ops, warmup, segment_bytes, max_seconds));
    const auto& x = results.back();
    std::printf("run %llu (us): storage p50 %.0f p99 %.0f p999 %.0f | raw_fresh p50 %.0f p99 %.0f p999 %.0f | "
                "raw_fallocated p50 %.0f p99 %.0f p999 %.0f\n",
                static_cast<unsigned long long>(r + 1), x.storage.p50, x.storage.p99, x.storage.p999, x.fresh.p50,
                x.fresh.p99, x.fresh.p999, x.fallocated.p50, x.fallocated.p99, x.fallocated.p999);
    std::fflush(stdout);
  }
  if (hb::stopped()) return 130;

  auto col = [&](auto member, auto field) {
    std::vector<double> v;
    for (const auto& r : results) v.push_back(r.*member.*field);
    return hb::spread_of(v);
  };
  using R = run_result;
  using L = hb::latency;
  std::printf("\n== latency in us, median [min..max] over %zu runs ==\n", results.size());
  std::printf("%-34s %-20s %-20s %-20s %-20s\n", "", "p50", "p99", "p999", "max");
  const std::array<std::pair<const char*, hb::latency R::*>, 5> rows{{
      {"storage append+sync", &R::storage},
      {"  of which append()", &R::append_only},
      {"  of which sync()", &R::sync_only},
      {"raw_fresh pwrite+fdatasync", &R::fresh},
      {"raw_fallocated pwrite+fdatasync", &R::fallocated},
  }};
  for (const auto& [label, m] : rows) {
    std::printf("%-34s %-20s %-20s %-20s %-20s\n", label, hb::fmt(col(m, &L::p50), 0).c_str(),
                hb::fmt(col(m, &L::p99), 0).c_str(), hb::fmt(col(m, &L::p999), 0).c_str(),
                hb::fmt(col(m, &L::max), 0).c_str());
  }
  const auto sp50 = col(&R::storage, &L::p50).median, sp99 = col(&R::storage, &L::p99).median;
  std::printf("ratio storage/raw_fresh: p50 %.2f, p99 %.2f; storage/raw_fallocated: p50 %.2f, p99 %.2f\n",
              sp50 / col(&R::fresh, &L::p50).median, sp99 / col(&R::fresh, &L::p99).median,
              sp50 / col(&R::fallocated, &L::p50).median, sp99 / col(&R::fallocated, &L::p99).median);
  hb::print_load_at_end();
  return 0;
}
