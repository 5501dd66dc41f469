// storage_append: append throughput of partition_log with fsync, against raw
// pwrite + fdatasync of the same bytes in the same directory.
//
// Per batch size (default 16, 32, 64 KiB of 1 KiB records) and per sync
// interval (1 = fsync=always: append + sync per batch, one batch in flight;
// N = group commit: N appends then one sync), four loops write identical bytes:
//   storage         partition_log::append x N, then sync()   (fresh log)
//   raw_fresh       pwrite x N at the end of a fresh file, then fdatasync
//   raw_fallocated  the same into a file fallocate()d to its final size first
//   raw_overwrite   (--overwrite-baseline) into a file written with zeros and
//                   synced first: no metadata left to flush, the floor
// One Google Benchmark per (batch size, sync interval); each iteration runs
// one sync interval in every variant, in rotating order, timing each variant
// on its own, so all variants share the same moments of this noisy machine
// and each repetition gives a paired ratio storage / raw. Its --benchmark_*
// flags work; defaults here: 5 repetitions of >= 0.5 s, randomly interleaved.
// At the end a table gives median [min..max] over the repetitions of MB/s,
// records/s and the ratios (target >= 0.8).

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <set>

#include "bench/bench_common.hpp"

namespace hb = herald::bench;
namespace st = herald::storage;

namespace {

enum variant { storage, raw_fresh, raw_fallocated, raw_overwrite, n_variants };
const char* const variant_names[] = {"storage", "raw_fresh", "raw_fallocated", "raw_overwrite"};

struct config {
  std::size_t batch_nominal;  // 16 KiB etc.
  int group;                  // appends per sync
};

struct batch_info {
  std::vector<char> bytes;
  std::uint32_t records = 0;
};

struct globals {
  std::unique_ptr<hb::scratch_dir> dir;
  std::map<std::size_t, batch_info> batches;  // by nominal size
  std::uint64_t segment_bytes = 128ull << 20;
  bool overwrite = false;
  int counter = 0;
} g;

std::string name_of(const config& c) {
  return "append_sync/batch:" + std::to_string(c.batch_nominal >> 10) + "KiB/sync_every:" + std::to_string(c.group);
}

// Removes what a run wrote and lets the file system settle (journal commit,
// online discard of the freed blocks) before the next timed loop starts.
void clean_up(const std::vector<hb::fs::path>& paths) {
  std::error_code ec;
  for (const auto& p : paths) hb::fs::remove_all(p, ec);
  const int fd = ::open(g.dir->path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
}

// One benchmark per (batch size, sync interval). Each iteration does one
// sync interval's worth of work in every variant, in rotating order, timing
// each variant separately: the variants share the same moments of the noisy
// machine and the ratios are paired per repetition.
void bm_append(benchmark::State& state, config c) {
  const batch_info& b = g.batches.at(c.batch_nominal);
  const int n = g.overwrite ? 4 : 3;
  const int id = g.counter++;
  const auto log_dir = g.dir->path() / ("log-" + std::to_string(id));
  const auto fresh_path = g.dir->path() / ("raw-fresh-" + std::to_string(id) + ".dat");
  const auto fall_path = g.dir->path() / ("raw-fallocated-" + std::to_string(id) + ".dat");
  const auto over_path = g.dir->path() / ("raw-overwrite-" + std::to_string(id) + ".dat");
  const std::uint64_t per_iter = static_cast<std::uint64_t>(c.group) * b.bytes.size();
  const std::uint64_t total = static_cast<std::uint64_t>(state.max_iterations) * per_iter;

  st::log_config cfg;
  cfg.segment_bytes = g.segment_bytes;
  auto opened = st::partition_log::open(log_dir, cfg);
  auto& log = hb::check(opened, "open log");
  auto open_raw = [&](const hb::fs::path& p) {
    const int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    hb::check_errno(fd >= 0, "open " + p.string());
    return fd;
  };
  int fds[n_variants] = {-1, open_raw(fresh_path), open_raw(fall_path), -1};
  hb::check_errno(::fallocate(fds[raw_fallocated], 0, 0, static_cast<off_t>(total)) == 0, "fallocate");
  if (g.overwrite) {
    fds[raw_overwrite] = open_raw(over_path);
    hb::check_errno(::fallocate(fds[raw_overwrite], 0, 0, static_cast<off_t>(total)) == 0, "fallocate");
    hb::prewrite_zeros(fds[raw_overwrite], total);
  }
  for (int v = raw_fresh; v < n; ++v) ::fsync(fds[v]);
  hb::sync_dir(g.dir->path());

  double seconds[n_variants] = {};
  std::uint64_t off[n_variants] = {};
  std::uint64_t iter = 0;
  std::string error;
  for (auto _ : state) {
    if (hb::stopped()) error = "interrupted";
    for (int k = 0; k < n && error.empty(); ++k) {
      const int v = static_cast<int>((iter + static_cast<std::uint64_t>(k)) % static_cast<std::uint64_t>(n));
      const auto t0 = hb::bench_clock::now();
      if (v == storage) {
        for (int i = 0; i < c.group && error.empty(); ++i) {
          if (auto r = log->append(b.bytes, 1); !r) error = "append: " + r.error().message;
        }
        if (auto s = log->sync(); !s && error.empty()) error = "sync: " + s.message;
      } else {
        for (int i = 0; i < c.group; ++i) {
          hb::pwrite_all(fds[v], b.bytes.data(), b.bytes.size(), off[v]);
          off[v] += b.bytes.size();
        }
        hb::fdatasync_or_die(fds[v]);
      }
      seconds[v] += std::chrono::duration<double>(hb::bench_clock::now() - t0).count();
    }
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
    ++iter;
  }

  const double bytes = static_cast<double>(iter * per_iter);
  const double recs = static_cast<double>(iter * static_cast<std::uint64_t>(c.group) * b.records);
  if (iter > 0) {
    state.counters["storage_MBps"] = bytes / seconds[storage] / 1e6;
    state.counters["storage_krec_s"] = recs / seconds[storage] / 1e3;
    for (int v = raw_fresh; v < n; ++v) {
      state.counters[std::string(variant_names[v]) + "_MBps"] = bytes / seconds[v] / 1e6;
      state.counters[std::string("ratio_vs_") + (variant_names[v] + 4)] = seconds[v] / seconds[storage];
    }
  }
  log.reset();
  for (int v = raw_fresh; v < n; ++v) ::close(fds[v]);
  clean_up({log_dir, fresh_path, fall_path, over_path});
}

double stat_min(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }
double stat_max(const std::vector<double>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }

// Console output as usual, plus the comparison table at the end: median
// [min..max] over the repetitions of each counter.
class reporter : public benchmark::ConsoleReporter {
public:
  explicit reporter(std::vector<config> configs) : benchmark::ConsoleReporter(OO_Tabular), configs_(std::move(configs)) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    benchmark::ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.error_occurred) continue;
      auto& s = samples_[r.run_name.function_name];
      if (r.run_type == Run::RT_Aggregate) {
        for (const auto& [k, cnt] : r.counters) s.aggregates[r.aggregate_name][k] = cnt.value;
      } else {
        for (const auto& [k, cnt] : r.counters) s.reps[k].push_back(cnt.value);
      }
    }
  }

  void Finalize() override {
    benchmark::ConsoleReporter::Finalize();
    std::printf("\n== append throughput, median [min..max] over repetitions; MB = 10^6 bytes; ratio = storage / raw "
                "(target >= 0.8), paired per repetition ==\n");
    std::printf("%-22s %-6s %-19s %-18s %-19s %-19s %-18s %-18s\n", "batch (bytes, recs)", "sync/", "storage MB/s",
                "storage k rec/s", "raw_fresh MB/s", "raw_falloc MB/s", "ratio vs fresh", "ratio vs falloc");
    for (const auto& c : configs_) {
      auto it = samples_.find(name_of(c));
      if (it == samples_.end()) continue;
      auto get = [&](const std::string& k) -> std::string {
        const auto& s = it->second;
        auto r = s.reps.find(k);
        const int prec = k.starts_with("ratio") ? 2 : k.ends_with("krec_s") ? 1 : 0;
        if (r != s.reps.end() && !r->second.empty()) {
          auto sp = hb::spread_of(r->second);
          return hb::fmt(sp, prec) + (k.starts_with("ratio") && sp.median < 0.8 ? "!" : "");
        }
        // Only aggregates were displayed (--benchmark_display_aggregates_only).
        auto a = [&](const char* agg) {
          auto m = s.aggregates.find(agg);
          if (m == s.aggregates.end()) return std::nan("");
          auto v = m->second.find(k);
          return v == m->second.end() ? std::nan("") : v->second;
        };
        if (std::isnan(a("median"))) return "-";
        return hb::fmt(hb::spread{a("median"), a("min"), a("max")}, prec) +
               (k.starts_with("ratio") && a("median") < 0.8 ? "!" : "");
      };
      const auto& b = g.batches.at(c.batch_nominal);
      char label[64];
      std::snprintf(label, sizeof(label), "%zu KiB (%zu, %u)", c.batch_nominal >> 10, b.bytes.size(), b.records);
      char sync[16];
      std::snprintf(sync, sizeof(sync), "%d", c.group);
      std::printf("%-22s %-6s %-19s %-18s %-19s %-19s %-18s %-18s\n", label, sync, get("storage_MBps").c_str(),
                  get("storage_krec_s").c_str(), get("raw_fresh_MBps").c_str(), get("raw_fallocated_MBps").c_str(),
                  get("ratio_vs_fresh").c_str(), get("ratio_vs_fallocated").c_str());
      if (g.overwrite) {
        std::printf("%-22s %-6s raw_overwrite MB/s %s, ratio vs overwrite %s\n", "", "", get("raw_overwrite_MBps").c_str(),
                    get("ratio_vs_overwrite").c_str());
      }
    }
    std::printf("(! = ratio below 0.8)\n");
    hb::print_load_at_end();
    std::fflush(stdout);
  }

private:
  struct sample_set {
    std::map<std::string, std::vector<double>> reps;
    std::map<std::string, std::map<std::string, double>> aggregates;
  };
  std::vector<config> configs_;
  std::map<std::string, sample_set> samples_;
};

std::vector<std::uint64_t> parse_list(const std::string& name, const std::string& v) {
  std::vector<std::uint64_t> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(hb::flags::parse_size(name, item));
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  hb::install_stop_handler();

  // Google Benchmark flags: these defaults, overridden by any given.
  std::vector<std::pair<std::string, std::string>> bm_flags = {
      {"benchmark_repetitions", "5"},
      {"benchmark_enable_random_interleaving", "true"},
      {"benchmark_min_time", "0.5"},
  };
  std::vector<std::string> mine;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.starts_with("--benchmark_")) {
      const auto eq = a.find('=');
      const auto name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      const auto value = eq == std::string::npos ? std::string("true") : a.substr(eq + 1);
      bool found = false;
      for (auto& [n, v] : bm_flags) {
        if (n == name) v = value, found = true;
      }
      if (!found) bm_flags.emplace_back(name, value);
    } else {
      mine.push_back(a);
    }
  }
  std::vector<std::string> bm_args{argv[0]};
  for (const auto& [n, v] : bm_flags) bm_args.push_back("--" + n + "=" + v);
  std::vector<char*> bm_argv;
  for (auto& a : bm_args) bm_argv.push_back(a.data());
  int bm_argc = static_cast<int>(bm_argv.size());
  benchmark::Initialize(&bm_argc, bm_argv.data());
  if (benchmark::ReportUnrecognizedArguments(bm_argc, bm_argv.data())) return 2;

  std::vector<char*> my_argv{argv[0]};
  for (auto& a : mine) my_argv.push_back(a.data());
  hb::flags f(static_cast<int>(my_argv.size()), my_argv.data(),
              "storage_append: partition_log append+sync throughput vs raw pwrite+fdatasync of the same bytes.\n"
              "Also takes Google Benchmark's --benchmark_* flags (--benchmark_filter=REGEX, "
              "--benchmark_min_time=SECONDS, --benchmark_repetitions=N, --benchmark_out=FILE ...).");
  const auto dir_flag = f.str("dir", "", "base directory for scratch files (default: $TMPDIR or /tmp unless tmpfs)");
  const bool keep = f.boolean("keep", false, "keep the scratch directory");
  const auto record_bytes = f.size("record-bytes", 1024, "value bytes per record");
  const auto sizes = parse_list("batches", f.str("batches", "16K,32K,64K", "batch sizes for fsync after every batch"));
  const auto groups = parse_list("groups", f.str("groups", "4,16", "batches per sync for the group-commit runs"));
  const auto group_batch = f.size("group-batch", 16 << 10, "batch size for the group-commit runs");
  g.segment_bytes = f.size("segment-bytes", 128ull << 20, "log_config::segment_bytes");
  g.overwrite = f.boolean("overwrite-baseline", false, "also run raw_overwrite (a pre-written file)");
  f.done();

  g.dir = std::make_unique<hb::scratch_dir>(dir_flag, "append", keep);
  f.set_resolved("dir", g.dir->base().string());
  std::string repro = f.command_line();
  for (const auto& [n, v] : bm_flags) repro += " --" + n + "=" + v;
  {
    // print_context with the Google Benchmark flags included.
    struct utsname u {};
    ::uname(&u);
    std::printf("reproduce: %s\n", repro.c_str());
    std::printf("when:      %s, %s %s, %ld cores, load %s\n", hb::utc_now().c_str(), u.sysname, u.release,
                ::sysconf(_SC_NPROCESSORS_ONLN), hb::load_average().c_str());
    std::printf("scratch:   %s (%s)\n", g.dir->path().c_str(), hb::mount_of(g.dir->path()).c_str());
  }

  std::vector<config> configs;
  auto add = [&](std::size_t nominal, int group) {
    if (!g.batches.count(nominal)) {
      batch_info b;
      b.bytes = hb::make_batch(nominal, record_bytes, &b.records);
      g.batches[nominal] = std::move(b);
    }
    configs.push_back({nominal, group});
  };
  for (auto s : sizes) add(s, 1);
  for (auto n : groups) add(group_batch, static_cast<int>(n));
  for (const auto& [nominal, b] : g.batches) {
    std::printf("batch %zu KiB: %u records of %llu value bytes = %zu bytes on disk\n", nominal >> 10, b.records,
                static_cast<unsigned long long>(record_bytes), b.bytes.size());
  }
  std::fflush(stdout);

  for (const auto& c : configs) {
    benchmark::RegisterBenchmark(name_of(c).c_str(), [c](benchmark::State& s) { bm_append(s, c); })
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond)
        ->ComputeStatistics("min", stat_min)
        ->ComputeStatistics("max", stat_max);
  }

  reporter rep(configs);
  benchmark::RunSpecifiedBenchmarks(&rep);
  benchmark::Shutdown();
  g.dir.reset();
  return hb::stopped() ? 130 : 0;
}
