#pragma once
// Helpers shared by the bench/ programs: --name=value flags that print the
// command line to reproduce a run, a scratch directory on a real disk that is
// removed afterwards, record batches, percentiles, and the context (load,
// file system) every program prints next to its figures.
//
// Benchmarks only use the public storage API (partition_log.hpp,
// record_batch.hpp) so they keep measuring whatever storage/ does today.

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "storage/partition_log.hpp"
#include "storage/record_batch.hpp"
#include "storage/status.hpp"

namespace herald::bench {

namespace fs = std::filesystem;

[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "fatal: %s\n", what.c_str());
  std::exit(2);
}

inline void check(const storage::status& s, const char* what) {
  if (!s) die(std::string(what) + ": " + storage::to_string(s.code) + ": " + s.message);
}

template <class T>
T& check(storage::result<T>& r, const char* what) {
  if (!r) die(std::string(what) + ": " + storage::to_string(r.error().code) + ": " + r.error().message);
  return *r;
}

inline void check_errno(bool ok, const std::string& what) {
  if (!ok) die(what + ": " + std::strerror(errno));
}

// ---------------------------------------------------------------- signals

// Ctrl-C stops the measuring loops so that the scratch directory is still
// removed; a second Ctrl-C kills the program.
inline std::atomic<bool>& stop_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}
inline bool stopped() { return stop_flag().load(std::memory_order_relaxed); }
inline void on_stop_signal(int sig) {
  stop_flag().store(true);
  ::signal(sig, SIG_DFL);
}
inline void install_stop_handler() {
  ::signal(SIGINT, on_stop_signal);
  ::signal(SIGTERM, on_stop_signal);
}

// ---------------------------------------------------------------- flags

// "--name=value" flags (also "--name value" and a bare "--flag" for
// booleans). Sizes accept K, M, G suffixes (powers of 1024). Every flag read
// is remembered with its resolved value, so command_line() reproduces the run
// exactly even when defaults change.
class flags {
public:
  flags(int argc, char** argv, std::string summary) : summary_(std::move(summary)) {
    argv0_ = argc > 0 ? argv[0] : "bench";
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        help_ = true;
        continue;
      }
      if (!a.starts_with("--")) die("unexpected argument '" + a + "' (flags are --name=value; --help lists them)");
      a = a.substr(2);
      const auto eq = a.find('=');
      if (eq != std::string::npos) {
        given_[a.substr(0, eq)] = a.substr(eq + 1);
      } else if (i + 1 < argc && !std::string_view(argv[i + 1]).starts_with("--")) {
        given_[a] = argv[++i];
      } else {
        given_[a] = "true";
      }
    }
  }

  std::string str(const std::string& name, const std::string& def, const std::string& help) {
    auto v = take(name, def, help);
    resolved_.emplace_back(name, v);
    return v;
  }

  std::uint64_t size(const std::string& name, std::uint64_t def, const std::string& help) {
    const auto v = take(name, std::to_string(def), help);
    const auto n = parse_size(name, v);
    resolved_.emplace_back(name, v);
    return n;
  }

  double real(const std::string& name, double def, const std::string& help) {
    std::ostringstream d;
    d << def;
    const auto v = take(name, d.str(), help);
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0') die("--" + name + "=" + v + ": not a number");
    resolved_.emplace_back(name, v);
    return x;
  }

  bool boolean(const std::string& name, bool def, const std::string& help) {
    const auto v = take(name, def ? "true" : "false", help);
    bool b;
    if (v == "true" || v == "1" || v == "yes") {
      b = true;
    } else if (v == "false" || v == "0" || v == "no") {
      b = false;
    } else {
      die("--" + name + "=" + v + ": expected true or false");
    }
    resolved_.emplace_back(name, b ? "true" : "false");
    return b;
  }

  // Call once every flag has been read: handles --help and unknown flags.
  void done() {
    if (help_) {
      std::printf("%s\n\nflags:\n", summary_.c_str());
      for (const auto& [name, def, help] : docs_) std::printf("  --%s=%s\n      %s\n", name.c_str(), def.c_str(), help.c_str());
      std::exit(0);
    }
    for (const auto& [name, value] : given_) {
      if (!used_.count(name)) die("unknown flag --" + name + " (--help lists them)");
    }
  }

  // Replaces a resolved value (e.g. the scratch base directory once chosen).
  void set_resolved(const std::string& name, const std::string& value) {
    for (auto& [n, v] : resolved_) {
      if (n == name) v = value;
    }
  }

  std::string command_line() const {
    std::string s = argv0_;
    for (const auto& [n, v] : resolved_) s += " --" + n + "=" + quote(v);
    return s;
  }

  static std::uint64_t parse_size(const std::string& name, const std::string& v) {
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || x < 0) die("--" + name + "=" + v + ": not a size");
    std::uint64_t mult = 1;
    const std::string suffix = end;
    if (suffix == "K" || suffix == "k" || suffix == "KiB") mult = 1ull << 10;
    else if (suffix == "M" || suffix == "MiB") mult = 1ull << 20;
    else if (suffix == "G" || suffix == "GiB") mult = 1ull << 30;
    else if (!suffix.empty()) die("--" + name + "=" + v + ": unknown size suffix");
    return static_cast<std::uint64_t>(x * static_cast<double>(mult));
  }

private:
  std::string take(const std::string& name, const std::string& def, const std::string& help) {
    docs_.emplace_back(name, def, help);
    used_[name] = true;
    auto it = given_.find(name);
    return it == given_.end() ? def : it->second;
  }
  static std::string quote(const std::string& v) {
    if (!v.empty() && v.find_first_of(" \t'\"$\\") == std::string::npos) return v;
    std::string q = "'";
    for (char c : v) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  }

  std::string summary_;
  std::string argv0_;
  bool help_ = false;
  std::map<std::string, std::string> given_;
  std::map<std::string, bool> used_;
  std::vector<std::tuple<std::string, std::string, std::string>> docs_;
  std::vector<std::pair<std::string, std::string>> resolved_;
};

// ---------------------------------------------------------------- file systems

inline std::string fs_type_name(const fs::path& p) {
  struct statfs s {};
  if (::statfs(p.c_str(), &s) != 0) return "unknown";
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0xEF53: return "ext2/3/4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x858458F6: return "ramfs";
    case 0x794C7630: return "overlayfs";
    case 0x2FC12FC1: return "zfs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "fs 0x%lx", static_cast<unsigned long>(s.f_type));
      return buf;
    }
  }
}

inline bool is_memory_fs(const fs::path& p) {
  struct statfs s {};
  if (::statfs(p.c_str(), &s) != 0) return false;
  const auto t = static_cast<unsigned long>(s.f_type);
  return t == 0x01021994 || t == 0x858458F6;
}

// "ext4 /dev/vda on /" from /proc/self/mounts: the longest mount point that
// contains `p`.
inline std::string mount_of(const fs::path& p) {
  std::error_code ec;
  const std::string path = fs::canonical(p, ec).string();
  std::ifstream in("/proc/self/mounts");
  std::string dev, mnt, type, best;
  std::size_t best_len = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    ls >> dev >> mnt >> type;
    const bool inside = path == mnt || (path.starts_with(mnt) && (mnt == "/" || path[mnt.size()] == '/'));
    if (inside && mnt.size() >= best_len) {
      best_len = mnt.size();
      best = type + " " + dev + " on " + mnt;
    }
  }
  return best.empty() ? fs_type_name(p) : best;
}

inline void sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  check_errno(fd >= 0, "open " + dir.string());
  check_errno(::fsync(fd) == 0, "fsync " + dir.string());
  ::close(fd);
}

// A fresh directory `herald-bench-<name>-XXXXXX` under the base (--dir, else
// $TMPDIR, else /tmp; a memory file system is refused as a default and
// replaced by the current directory), removed with everything in it on
// destruction unless `keep`.
class scratch_dir {
public:
  scratch_dir(const std::string& base_flag, const std::string& name, bool keep) : keep_(keep) {
    fs::path base;
    if (!base_flag.empty()) {
      base = base_flag;
      std::error_code ec;
      fs::create_directories(base, ec);
      if (ec) die("create " + base.string() + ": " + ec.message());
      if (is_memory_fs(base)) {
        std::fprintf(stderr, "WARNING: %s is on %s: figures will not reflect a disk\n", base.c_str(),
                     fs_type_name(base).c_str());
      }
    } else {
      const char* t = std::getenv("TMPDIR");
      base = t && *t ? t : "/tmp";
      if (is_memory_fs(base)) {
        std::fprintf(stderr, "note: %s is %s; using the current directory instead\n", base.c_str(),
                     fs_type_name(base).c_str());
        base = fs::current_path();
      }
    }
    base_ = fs::absolute(base);
    std::string tmpl = (base_ / ("herald-bench-" + name + "-XXXXXX")).string();
    check_errno(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp " + tmpl);
    path_ = tmpl;
  }
  ~scratch_dir() {
    if (keep_) {
      std::printf("kept %s\n", path_.c_str());
      return;
    }
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  const fs::path& path() const { return path_; }
  const fs::path& base() const { return base_; }

private:
  fs::path base_;
  fs::path path_;
  bool keep_;
};

// ---------------------------------------------------------------- context

inline std::string load_average() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  in >> a >> b >> c;
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%.2f %.2f %.2f", a, b, c);
  return buf;
}

inline double load1() {
  std::ifstream in("/proc/loadavg");
  double a = 0;
  in >> a;
  return a;
}

inline std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The header every program prints: what ran where, and how busy the machine
// was (a shared machine: compare figures from the same run only).
inline void print_context(const flags& f, const scratch_dir& dir) {
  struct utsname u {};
  ::uname(&u);
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  std::printf("reproduce: %s\n", f.command_line().c_str());
  std::printf("when:      %s, %s %s, %ld cores, load %s%s\n", utc_now().c_str(), u.sysname, u.release, cores,
              load_average().c_str(), load1() > static_cast<double>(cores) ? " (BUSY: expect noise)" : "");
  std::printf("scratch:   %s (%s)\n", dir.path().c_str(), mount_of(dir.path()).c_str());
  std::fflush(stdout);
}

inline void print_load_at_end() {
  std::printf("load at end: %s\n", load_average().c_str());
}

// ---------------------------------------------------------------- /proc/self/io

struct io_counters {
  std::uint64_t rchar = 0;       // bytes asked of read-like syscalls (page cache or not)
  std::uint64_t syscr = 0;       // read-like syscalls
  std::uint64_t read_bytes = 0;  // bytes fetched from the block layer
  std::uint64_t wchar = 0;
  std::uint64_t syscw = 0;
};

inline io_counters read_io_counters() {
  io_counters c;
  std::ifstream in("/proc/self/io");
  std::string key;
  std::uint64_t v;
  while (in >> key >> v) {
    if (key == "rchar:") c.rchar = v;
    else if (key == "syscr:") c.syscr = v;
    else if (key == "read_bytes:") c.read_bytes = v;
    else if (key == "wchar:") c.wchar = v;
    else if (key == "syscw:") c.syscw = v;
  }
  return c;
}

// ---------------------------------------------------------------- batches

// One sealed batch of `batch_bytes / record_bytes` records (at least one),
// each with a 12-byte key and a `record_bytes` value of random bytes. The
// batch is a little larger than batch_bytes (headers, Cap'n Proto framing):
// callers report the real size.
inline std::vector<char> make_batch(std::size_t batch_bytes, std::size_t record_bytes, std::uint32_t* records = nullptr) {
  const std::size_t n = std::max<std::size_t>(1, batch_bytes / record_bytes);
  std::mt19937_64 rng(42);
  storage::batch_builder b;
  const auto now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string value(record_bytes, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    for (auto& c : value) c = static_cast<char>(rng());
    char key[32];
    std::snprintf(key, sizeof(key), "key-%08zu", i);
    b.add(now + static_cast<std::int64_t>(i), std::string_view(key), value);
  }
  if (records) *records = static_cast<std::uint32_t>(n);
  return b.build();
}

// ---------------------------------------------------------------- timing and statistics

using bench_clock = std::chrono::steady_clock;

inline double micros_since(bench_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(bench_clock::now() - t0).count();
}

// Nearest-rank percentile of an ascending vector.
inline double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

struct spread {
  double median = 0, min = 0, max = 0;
};

inline spread spread_of(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  const double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {med, v.front(), v.back()};
}

// "123.4 [120.1..130.2]" with `prec` decimals; just the value for one sample.
inline std::string fmt(const spread& s, int prec = 1) {
  char buf[96];
  if (s.min == s.max) {
    std::snprintf(buf, sizeof(buf), "%.*f", prec, s.median);
  } else {
    std::snprintf(buf, sizeof(buf), "%.*f [%.*f..%.*f]", prec, s.median, prec, s.min, prec, s.max);
  }
  return buf;
}

inline std::string fmt(double x, int prec = 1) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.*f", prec, x);
  return buf;
}

// Latency samples in microseconds -> the percentiles the programs report.
struct latency {
  double p50 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
};

inline latency summarize(std::vector<double> us) {
  latency l;
  if (us.empty()) return l;
  std::sort(us.begin(), us.end());
  l.p50 = percentile(us, 0.50);
  l.p99 = percentile(us, 0.99);
  l.p999 = percentile(us, 0.999);
  l.max = us.back();
  double sum = 0;
  for (double x : us) sum += x;
  l.mean = sum / static_cast<double>(us.size());
  return l;
}

// ---------------------------------------------------------------- raw file I/O (baselines)

inline void pwrite_all(int fd, const char* p, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR) continue;
    check_errno(w > 0, "pwrite");
    p += w;
    n -= static_cast<std::size_t>(w);
    off += static_cast<std::uint64_t>(w);
  }
}

inline std::size_t pread_full(int fd, char* p, std::size_t n, std::uint64_t off) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, p + got, n - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    check_errno(r >= 0, "pread");
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

inline void fdatasync_or_die(int fd) {
  while (::fdatasync(fd) != 0) {
    check_errno(errno == EINTR, "fdatasync");
  }
}

// Writes zeros over [0, bytes) and syncs: blocks allocated and initialized,
// so later overwrites need no metadata change at all.
inline void prewrite_zeros(int fd, std::uint64_t bytes) {
  std::vector<char> zeros(1 << 20, '\0');
  for (std::uint64_t off = 0; off < bytes;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), bytes - off));
    pwrite_all(fd, zeros.data(), n, off);
    off += n;
  }
  fdatasync_or_die(fd);
}

// Drops the page cache of a clean file (ours only; nothing system-wide).
inline void drop_file_cache(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  check_errno(fd >= 0, "open " + p.string());
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

inline void drop_dir_cache(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) drop_file_cache(e.path());
  }
}

} // namespace herald::bench
