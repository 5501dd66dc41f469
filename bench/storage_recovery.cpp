// storage_recovery: start-up time of partition_log::open() on a large log of
// many segments, against the time to just list the directory and open the
// files (and to also read the active segment once, the I/O that validating it
// cannot avoid). Reports what open() read (/proc/self/io: rchar, syscalls and,
// with a cold cache, bytes from disk) and how many batches it validated.
//
// Two logs shapes, built once (appends without fsync, one sync at the end):
//   full active   --log-bytes of --segment-bytes segments, the last (active)
//                 one full
//   small active  the same plus a new active segment of --small-active bytes
// Each measured after a clean close and after a crash (a child process opens
// the log and _exit()s without closing it, so the active segment is left as a
// running broker leaves it, e.g. preallocated), each warm and (unless
// --cold=false) with this log's files dropped from the page cache first
// (posix_fadvise DONTNEED on our files only, nothing system-wide).

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_common.hpp"

namespace hb = herald::bench;
namespace st = herald::storage;

namespace {

struct measurement {
  std::vector<double> list_open_ms, read_active_ms, open_ms;
  std::uint64_t rchar = 0, syscr = 0, disk_read = 0;
  st::recovery_report report;
};

struct shape {
  std::size_t segments = 0;
  std::uint64_t active_bytes = 0;  // file size: the data, after a clean close
  std::uint64_t active_batches = 0;
  std::uint64_t aux_bytes = 0;  // every other file (indexes, log start, ...)
  std::uint64_t total_bytes = 0;
  hb::fs::path active;
};

shape describe(const hb::fs::path& dir) {
  shape s;
  std::vector<hb::fs::path> logs;
  for (const auto& e : hb::fs::directory_iterator(dir)) {
    if (e.path().extension() == ".log") {
      logs.push_back(e.path());
      s.total_bytes += e.file_size();
    } else if (e.is_regular_file()) {
      s.aux_bytes += e.file_size();
    }
  }
  std::sort(logs.begin(), logs.end());
  s.segments = logs.size();
  if (!logs.empty()) {
    s.active = logs.back();
    s.active_bytes = hb::fs::file_size(s.active);
  }
  return s;
}

// The floor for any open(): list the directory, open and fstat every file.
double list_and_open(const hb::fs::path& dir, const hb::fs::path* read_whole, std::uint64_t read_bytes = 0) {
  std::vector<char> buf;
  const auto t0 = hb::bench_clock::now();
  std::vector<int> fds;
  for (const auto& e : hb::fs::directory_iterator(dir)) {
    const int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    hb::check_errno(fd >= 0, "open " + e.path().string());
    struct stat stt {};
    ::fstat(fd, &stt);
    fds.push_back(fd);
  }
  if (read_whole) {
    buf.resize(1 << 20);
    const int fd = ::open(read_whole->c_str(), O_RDONLY | O_CLOEXEC);
    hb::check_errno(fd >= 0, "open " + read_whole->string());
    for (std::uint64_t off = 0, n; off < read_bytes && (n = hb::pread_full(fd, buf.data(), buf.size(), off)) > 0;) off += n;
    ::close(fd);
  }
  const double ms = hb::micros_since(t0) / 1e3;
  for (int fd : fds) ::close(fd);
  return ms;
}

// Leaves the log as a crashed broker would: opened (recovered, active
// segment preallocated if storage does that) and never closed.
void crash_open(const hb::fs::path& dir, const st::log_config& cfg) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  hb::check_errno(pid >= 0, "fork");
  if (pid == 0) {
    auto opened = st::partition_log::open(dir, cfg);
    ::_exit(opened ? 0 : 1);
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) hb::die("crash_open child failed");
}

measurement measure(const hb::fs::path& dir, const st::log_config& cfg, std::uint64_t runs, bool cold, bool crash,
                    const shape& s) {
  measurement m;
  // /proc/self/io reads count themselves; measure that overhead once.
  const auto c0 = hb::read_io_counters();
  const auto c1 = hb::read_io_counters();
  const std::uint64_t self_rchar = c1.rchar - c0.rchar, self_syscr = c1.syscr - c0.syscr;
  for (std::uint64_t r = 0; r < runs && !hb::stopped(); ++r) {
    if (cold) hb::drop_dir_cache(dir);
    m.list_open_ms.push_back(list_and_open(dir, nullptr));
    if (cold) hb::drop_dir_cache(dir);
    m.read_active_ms.push_back(list_and_open(dir, &s.active, s.active_bytes));
    if (crash) crash_open(dir, cfg);
    if (cold) hb::drop_dir_cache(dir);
    const auto io0 = hb::read_io_counters();
    const auto t0 = hb::bench_clock::now();
    auto opened = st::partition_log::open(dir, cfg);
    const double ms = hb::micros_since(t0) / 1e3;
    const auto io1 = hb::read_io_counters();
    auto& log = hb::check(opened, "open log");
    m.open_ms.push_back(ms);
    m.rchar = io1.rchar - io0.rchar - self_rchar;
    m.syscr = io1.syscr - io0.syscr - self_syscr;
    m.disk_read = io1.read_bytes - io0.read_bytes;
    m.report = log->recovery();
    if (m.report.truncated_bytes) hb::die("recovery truncated a clean log: " + m.report.detail);
    if (m.report.batches_validated != s.active_batches) {
      std::printf("note: open() validated %llu batches, the active segment holds %llu\n",
                  static_cast<unsigned long long>(m.report.batches_validated),
                  static_cast<unsigned long long>(s.active_batches));
    }
  }
  return m;
}

void report(const char* title, const hb::fs::path& dir, const st::log_config& cfg, std::uint64_t runs, bool cold,
            std::uint64_t batch_bytes) {
  shape s = describe(dir);
  s.active_batches = s.active_bytes / batch_bytes;
  std::printf("\n== %s: %zu segments, %llu bytes of logs; active segment %llu bytes (%llu batches); index files "
              "%llu bytes ==\n",
              title, s.segments, static_cast<unsigned long long>(s.total_bytes),
              static_cast<unsigned long long>(s.active_bytes), static_cast<unsigned long long>(s.active_batches),
              static_cast<unsigned long long>(s.aux_bytes));
  struct column {
    const char* name;
    bool cold, crash;
    measurement m;
  };
  std::vector<column> cols{{"clean close, warm", false, false, {}}, {"after crash, warm", false, true, {}}};
  if (cold) {
    cols.push_back({"clean close, cold", true, false, {}});
    cols.push_back({"after crash, cold", true, true, {}});
  }
  for (auto& c : cols) c.m = measure(dir, cfg, runs, c.cold, c.crash, s);
  std::printf("%-36s", "ms, median [min..max]");
  for (const auto& c : cols) std::printf(" %-22s", c.name);
  std::printf("\n");
  auto row = [&](const char* label, std::vector<double> measurement::*v) {
    std::printf("%-36s", label);
    for (const auto& c : cols) std::printf(" %-22s", hb::fmt(hb::spread_of(c.m.*v), 2).c_str());
    std::printf("\n");
  };
  row("list dir + open/fstat every file", &measurement::list_open_ms);
  row("  + read active segment's data", &measurement::read_active_ms);
  row("partition_log::open()", &measurement::open_ms);
  auto count_row = [&](const char* label, std::uint64_t measurement::*v) {
    std::printf("%-36s", label);
    for (const auto& c : cols) std::printf(" %-22llu", static_cast<unsigned long long>(c.m.*v));
    std::printf("\n");
  };
  count_row("open(): bytes read (rchar)", &measurement::rchar);
  count_row("open(): read syscalls", &measurement::syscr);
  count_row("open(): bytes from disk", &measurement::disk_read);
  std::printf("(active segment data %llu + index files %llu = %llu bytes; open() validated %llu batches)\n",
              static_cast<unsigned long long>(s.active_bytes), static_cast<unsigned long long>(s.aux_bytes),
              static_cast<unsigned long long>(s.active_bytes + s.aux_bytes),
              static_cast<unsigned long long>(cols.front().m.report.batches_validated));
  double worst = 0;
  for (const auto& c : cols) worst = std::max(worst, hb::spread_of(c.m.open_ms).max);
  std::printf("target open() < 1000 ms: %s (worst %.1f ms)\n", worst < 1000 ? "met" : "NOT met", worst);
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  hb::install_stop_handler();
  hb::flags f(argc, argv, "storage_recovery: partition_log::open() time on a large log vs listing and opening its files.");
  const auto dir_flag = f.str("dir", "", "base directory for scratch files (default: $TMPDIR or /tmp unless tmpfs)");
  const bool keep = f.boolean("keep", false, "keep the scratch directory");
  const auto log_bytes = f.size("log-bytes", 1ull << 30, "size of the log, rounded to whole segments (the active one full)");
  const auto batch_bytes = f.size("batch", 16 << 10, "nominal batch size");
  const auto record_bytes = f.size("record-bytes", 1024, "value bytes per record");
  const auto segment_bytes = f.size("segment-bytes", 128ull << 20, "log_config::segment_bytes");
  const auto small_active = f.size("small-active", 1 << 20, "active segment size for the second shape");
  const auto runs = f.size("runs", 5, "open() measurements per shape and cache state");
  const bool cold = f.boolean("cold", true, "also measure with the log's files dropped from the page cache");
  f.done();

  hb::scratch_dir dir(dir_flag, "recovery", keep);
  f.set_resolved("dir", dir.base().string());
  hb::print_context(f, dir);

  std::uint32_t records = 0;
  const auto batch = hb::make_batch(batch_bytes, record_bytes, &records);
  st::log_config cfg;
  cfg.segment_bytes = segment_bytes;
  const auto log_dir = dir.path() / "log";

  // A segment rolls when the next batch would take it past segment_bytes.
  const std::uint64_t per_segment = std::max<std::uint64_t>(1, segment_bytes / batch.size());
  const std::uint64_t segments = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::llround(static_cast<double>(log_bytes) / static_cast<double>(per_segment * batch.size()))));
  {
    auto opened = st::partition_log::open(log_dir, cfg);
    auto& log = hb::check(opened, "open log");
    const auto t0 = hb::bench_clock::now();
    for (std::uint64_t i = 0; i < segments * per_segment && !hb::stopped(); ++i) {
      auto r = log->append(batch, 1);
      if (!r) hb::die("append: " + r.error().message);
    }
    hb::check(log->sync(), "sync");
    std::printf("built %llu segments of %llu batches of %zu bytes (%u records) in %.1f s\n",
                static_cast<unsigned long long>(log->segment_count()), static_cast<unsigned long long>(per_segment),
                batch.size(), records, hb::micros_since(t0) / 1e6);
    if (log->segment_count() != segments) std::printf("note: expected %llu segments\n", static_cast<unsigned long long>(segments));
  }
  if (hb::stopped()) return 130;
  report("full active segment", log_dir, cfg, runs, cold, batch.size());

  {
    auto opened = st::partition_log::open(log_dir, cfg);
    auto& log = hb::check(opened, "open log");
    const std::uint64_t before = log->segment_count();
    for (std::uint64_t b = 0; b < small_active && !hb::stopped(); b += batch.size()) {
      auto r = log->append(batch, 1);
      if (!r) hb::die("append: " + r.error().message);
    }
    hb::check(log->sync(), "sync");
    if (log->segment_count() != before + 1) std::printf("note: the small-active append did not roll exactly once\n");
  }
  if (hb::stopped()) return 130;
  report("small active segment", log_dir, cfg, runs, cold, batch.size());
  hb::print_load_at_end();
  return 0;
}
