// End-to-end produce benchmark: throughput with many batches in flight, then
// one-record-at-a-time latency.
//
// Against running brokers (a single node or a Raft group; the companion
// script bench/run_replication_benchmark.sh starts them, measures their CPU
// time, and compares one node with three in the same run):
//
//   produce_bench --broker HOST:PORT [--broker ...] --topic T [--records N]
//                 [--record-bytes B] [--batch-bytes B] [--in-flight K]
//                 [--latency-samples M] [--acks all|1]
//
// With several brokers it first finds the one that accepts writes (the
// leader). Output: one "key=value" line per figure, for the script to read.
//
// TLS on and off in the same run (issue 11):
//
//   produce_bench --tls-compare [--mtls] [--reps R] [--records N] [--dir D]
//                 [--broker-arg=--fsync=never ...]
//
// makes a test CA in a scratch directory (deploy/make-test-ca.sh), starts one
// heraldd without TLS and one with --tls-cert/--tls-key (and, with --mtls, a
// third with --tls-client-auth=required, the client presenting a
// certificate), each on its own data directory under the same scratch
// directory, and runs R repetitions, each measuring every mode in turn
// (plain, tls[, mtls], the order rotating) so that all see the same noise.
// A repetition per mode: --connect-samples fresh connections, each timed to
// its first answer; a throughput phase on a fresh topic; then the latency
// phase. It prints each repetition, then median [min..max] over them, and
// the ratios to plain paired per repetition, with broker and client CPU time
// per record (utime+stime) so the cost of TLS can be placed.

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_common.hpp"
#include "client/blocking.hpp"

extern char** environ;

namespace {

using clock_type = std::chrono::steady_clock;
using herald::client::cluster_options;
using herald::client::connection;
using herald::client::producer;
using herald::client::producer_options;
namespace fs = std::filesystem;
namespace hb = herald::bench;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// The broker that acknowledges a probe record; retries while an election runs.
std::optional<std::string> find_leader(const std::vector<std::string>& brokers, const std::string& topic) {
  const auto deadline = clock_type::now() + std::chrono::seconds{30};
  while (clock_type::now() < deadline) {
    for (const auto& b : brokers) {
      try {
        connection conn{b};
        producer p(conn, producer_options{});
        p.send(topic, std::nullopt, "probe");
        if (p.flush().acknowledged == 1) return b;
      } catch (const std::exception&) {
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  return std::nullopt;
}

struct settings {
  std::uint64_t records = 1'000'000;
  std::size_t record_bytes = 1024;
  std::size_t batch_bytes = 256u << 10;
  std::uint32_t in_flight = 16;
  std::uint32_t latency_samples = 2000;
  std::string acks = "all";
};

struct throughput_result {
  double seconds = 0;
  double records_per_s = 0;
  double mb_per_s = 0;
};

// `records` records of record_bytes as fast as the producer takes them, many
// batches in flight. Throws on a failed record.
throughput_result run_throughput(connection& conn, const std::string& topic, const settings& s) {
  const std::string value(s.record_bytes, 'x');
  producer_options options;
  options.acks = s.acks == "all" ? herald::schema::Acks::ALL : herald::schema::Acks::LEADER;
  options.batch_bytes = s.batch_bytes;
  options.linger_ms = 1;
  options.max_in_flight_per_partition = s.in_flight;
  producer p(conn, options);
  const auto start = clock_type::now();
  for (std::uint64_t i = 0; i < s.records; ++i) p.send(topic, std::nullopt, value);
  const auto outcome = p.flush();
  const double secs = seconds_since(start);
  if (outcome.failed != 0) {
    throw std::runtime_error(std::to_string(outcome.failed) + " records failed: " + outcome.first_error);
  }
  const double n = static_cast<double>(s.records);
  return {secs, n / secs, n * static_cast<double>(s.record_bytes) / secs / 1e6};
}

// One record at a time: each send waits for the previous acknowledgement.
// Returns the samples in microseconds, ascending.
std::vector<double> run_latency(connection& conn, const std::string& topic, const settings& s) {
  const std::string value(s.record_bytes, 'x');
  producer_options options;
  options.acks = s.acks == "all" ? herald::schema::Acks::ALL : herald::schema::Acks::LEADER;
  options.batch_bytes = s.batch_bytes;
  options.linger_ms = 0;
  options.max_in_flight_per_partition = 1;
  producer one(conn, options);
  std::vector<double> micros;
  micros.reserve(s.latency_samples);
  for (std::uint32_t i = 0; i < s.latency_samples; ++i) {
    const auto start = clock_type::now();
    one.send(topic, std::nullopt, value);
    const auto outcome = one.flush();
    if (outcome.acknowledged != i + 1) {
      throw std::runtime_error("latency sample " + std::to_string(i) + " failed: " + outcome.first_error);
    }
    micros.push_back(seconds_since(start) * 1e6);
  }
  std::sort(micros.begin(), micros.end());
  return micros;
}

// ------------------------------------------------------------ --tls-compare

// A heraldd child: output to a log file, SIGKILLed and reaped when destroyed
// (every exit path, so no broker outlives the benchmark).
class broker_child {
public:
  broker_child(const std::string& heraldd, const fs::path& dir, const std::vector<std::string>& extra) {
    fs::create_directories(dir);
    const fs::path port_file = dir / "port";
    std::vector<std::string> args{heraldd, "--data-dir=" + (dir / "data").string(), "--listen=127.0.0.1:0",
                                  "--port-file=" + port_file.string(), "--log-level=warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string log = (dir / "log").string();
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const int rc = posix_spawn(&pid_, heraldd.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) hb::die("cannot start " + heraldd + ": " + std::strerror(rc));
    const auto deadline = clock_type::now() + std::chrono::seconds{30};
    while (clock_type::now() < deadline) {
      std::ifstream in(port_file);
      if (in >> address_ && !address_.empty()) return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        hb::die("heraldd exited at start; its log: " + log);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    hb::die("heraldd wrote no port file within 30 s; its log: " + log);
  }
  ~broker_child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  broker_child(const broker_child&) = delete;
  broker_child& operator=(const broker_child&) = delete;

  const std::string& address() const { return address_; }
  // utime + stime so far, in seconds.
  double cpu_seconds() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string line;
    std::getline(in, line);
    // Fields after the ")" that closes the command name: state is field 3,
    // utime and stime fields 14 and 15.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i >= 14) ticks += std::stod(field);
    }
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }

private:
  pid_t pid_ = -1;
  std::string address_;
};

double self_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct mode {
  std::string name;
  std::unique_ptr<broker_child> broker;
  cluster_options options;
  std::unique_ptr<connection> conn;  // kept across repetitions
  // One entry per repetition.
  std::vector<double> connect_ms, records_per_s, mb_per_s, p50, p99, p999, broker_cpu_us, client_cpu_us;
};

// Times `samples` fresh connections, each to its first answer (a topic
// list): the TCP and TLS handshakes and the hello. Returns the median in ms.
double time_connects(const mode& m, std::uint32_t samples) {
  std::vector<double> ms;
  for (std::uint32_t i = 0; i < samples && !hb::stopped(); ++i) {
    const auto start = clock_type::now();
    connection c{m.broker->address(), m.options, connection::routing::pinned};
    c.list_topics();
    ms.push_back(seconds_since(start) * 1e3);
  }
  return hb::spread_of(ms).median;
}

int tls_compare(const settings& s, bool mtls, std::uint32_t reps, std::uint32_t connect_samples,
                const std::string& dir_flag, bool keep, std::string heraldd, std::string ca_script,
                const std::vector<std::string>& broker_args, const std::string& reproduce) {
  hb::install_stop_handler();
  if (heraldd.empty()) heraldd = (fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "apps" / "heraldd").string();
  if (ca_script.empty()) ca_script = std::string(HERALD_SOURCE_DIR) + "/deploy/make-test-ca.sh";
  hb::scratch_dir dir(dir_flag, "tls", keep);
  struct utsname u {};
  ::uname(&u);
  std::printf("reproduce: %s\n", reproduce.c_str());
  std::printf("when:      %s, %s %s, %ld cores, load %s\n", hb::utc_now().c_str(), u.sysname, u.release,
              ::sysconf(_SC_NPROCESSORS_ONLN), hb::load_average().c_str());
  std::printf("scratch:   %s (%s)\n", dir.path().c_str(), hb::mount_of(dir.path()).c_str());
  std::fflush(stdout);

  const fs::path ca = dir.path() / "ca";
  const std::string make_ca = "bash '" + ca_script + "' '" + ca.string() + "' alice 2>/dev/null";
  if (std::system(make_ca.c_str()) != 0) hb::die("making the test CA failed: " + make_ca);
  auto pem = [&](const std::string& f) { return (ca / f).string(); };

  std::vector<mode> modes;
  auto add = [&](const std::string& name, std::vector<std::string> flags) {
    flags.insert(flags.end(), broker_args.begin(), broker_args.end());
    mode m;
    m.name = name;
    m.broker = std::make_unique<broker_child>(heraldd, dir.path() / name, flags);
    m.options.connect_timeout_ms = 10'000;
    modes.push_back(std::move(m));
  };
  add("plain", {});
  add("tls", {"--tls-cert=" + pem("broker.crt"), "--tls-key=" + pem("broker.key")});
  modes.back().options.tls = true;
  modes.back().options.tls_options.ca_file = pem("ca.crt");
  if (mtls) {
    // A client certificate turns the authorizer on (--authorizer auto): alice
    // is a super-user so no ACL check refuses her.
    add("mtls", {"--tls-cert=" + pem("broker.crt"), "--tls-key=" + pem("broker.key"), "--tls-ca=" + pem("ca.crt"),
                 "--tls-client-auth=required", "--super-users=User:alice"});
    auto& o = modes.back().options;
    o.tls = true;
    o.tls_options = {pem("ca.crt"), pem("client-alice.crt"), pem("client-alice.key"), ""};
  }
  for (auto& m : modes) {
    m.conn = std::make_unique<connection>(m.broker->address(), m.options, connection::routing::pinned);
    std::printf("%-5s broker %s\n", m.name.c_str(), m.broker->address().c_str());
  }

  std::printf("\n%-3s %-5s %9s %11s %8s %9s %9s %9s %12s %12s\n", "rep", "mode", "conn ms", "records/s", "MB/s",
              "p50 us", "p99 us", "p999 us", "broker us/r", "client us/r");
  for (std::uint32_t rep = 0; rep < reps && !hb::stopped(); ++rep) {
    // The order rotates each repetition, so no mode always runs right after
    // another's writes (page cache, write-back).
    for (std::size_t k = 0; k < modes.size(); ++k) {
      auto& m = modes[(k + rep) % modes.size()];
      if (hb::stopped()) break;
      m.connect_ms.push_back(time_connects(m, connect_samples));
      // A fresh topic per repetition (the last one deleted) keeps the disk
      // used bounded and every repetition starting from an empty log.
      const std::string topic = "bench-" + std::to_string(rep);
      if (rep > 0) m.conn->delete_topic("bench-" + std::to_string(rep - 1));
      m.conn->create_topic(topic, 1, 1);
      const double b0 = m.broker->cpu_seconds(), c0 = self_cpu_seconds();
      const auto t = run_throughput(*m.conn, topic, s);
      const auto lat = hb::summarize(run_latency(*m.conn, topic, s));
      const double n = static_cast<double>(s.records + s.latency_samples);
      m.broker_cpu_us.push_back((m.broker->cpu_seconds() - b0) / n * 1e6);
      m.client_cpu_us.push_back((self_cpu_seconds() - c0) / n * 1e6);
      m.records_per_s.push_back(t.records_per_s);
      m.mb_per_s.push_back(t.mb_per_s);
      m.p50.push_back(lat.p50);
      m.p99.push_back(lat.p99);
      m.p999.push_back(lat.p999);
      std::printf("%-3u %-5s %9.2f %11.0f %8.1f %9.0f %9.0f %9.0f %12.2f %12.2f\n", rep + 1, m.name.c_str(),
                  m.connect_ms.back(), t.records_per_s, t.mb_per_s, lat.p50, lat.p99, lat.p999,
                  m.broker_cpu_us.back(), m.client_cpu_us.back());
      std::fflush(stdout);
    }
  }
  if (modes.front().records_per_s.empty()) return 1;

  std::printf("\nmedian [min..max] over %zu repetitions (%llu records of %zu B, acks=%s, %u in flight, %u latency samples)\n",
              modes.front().records_per_s.size(), static_cast<unsigned long long>(s.records), s.record_bytes,
              s.acks.c_str(), s.in_flight, s.latency_samples);
  std::printf("%-5s %-24s %-22s %-22s %-22s %-22s %-20s %-20s %-20s\n", "mode", "records/s", "MB/s", "p50 us",
              "p99 us", "p999 us", "connect ms", "broker cpu us/rec", "client cpu us/rec");
  for (const auto& m : modes) {
    std::printf("%-5s %-24s %-22s %-22s %-22s %-22s %-20s %-20s %-20s\n", m.name.c_str(),
                hb::fmt(hb::spread_of(m.records_per_s), 0).c_str(), hb::fmt(hb::spread_of(m.mb_per_s)).c_str(),
                hb::fmt(hb::spread_of(m.p50), 0).c_str(), hb::fmt(hb::spread_of(m.p99), 0).c_str(),
                hb::fmt(hb::spread_of(m.p999), 0).c_str(), hb::fmt(hb::spread_of(m.connect_ms), 2).c_str(),
                hb::fmt(hb::spread_of(m.broker_cpu_us), 2).c_str(), hb::fmt(hb::spread_of(m.client_cpu_us), 2).c_str());
  }
  // Ratios paired per repetition: each against the plain run next to it.
  auto ratio = [](const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> r;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) r.push_back(a[i] / b[i]);
    return hb::fmt(hb::spread_of(r), 2);
  };
  const auto& plain = modes.front();
  for (std::size_t i = 1; i < modes.size(); ++i) {
    const auto& m = modes[i];
    std::printf("%s/plain: records/s %s, p50 %s, p99 %s, p999 %s, connect %s, broker cpu/rec %s, client cpu/rec %s\n",
                m.name.c_str(), ratio(m.records_per_s, plain.records_per_s).c_str(), ratio(m.p50, plain.p50).c_str(),
                ratio(m.p99, plain.p99).c_str(), ratio(m.p999, plain.p999).c_str(),
                ratio(m.connect_ms, plain.connect_ms).c_str(), ratio(m.broker_cpu_us, plain.broker_cpu_us).c_str(),
                ratio(m.client_cpu_us, plain.client_cpu_us).c_str());
  }
  hb::print_load_at_end();
  // Connections close before their brokers are killed.
  for (auto& m : modes) m.conn.reset();
  return hb::stopped() ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> brokers;
  std::string topic = "bench";
  settings s;
  bool compare = false, mtls = false, keep = false;
  std::uint32_t reps = 3, connect_samples = 10;
  std::string dir, heraldd, ca_script;
  std::vector<std::string> broker_args;
  CLI::App app{"produce_bench: produce throughput and latency against running brokers, or TLS on and off"};
  app.add_option("--broker", brokers, "HOST:PORT of a broker (repeat for every replica)");
  app.add_option("--topic", topic, "Existing topic")->capture_default_str();
  auto* records = app.add_option("--records", s.records, "Records for the throughput phase (--tls-compare: 200000 "
                                                         "per repetition and mode)")->capture_default_str();
  app.add_option("--record-bytes", s.record_bytes, "Value size")->capture_default_str();
  app.add_option("--batch-bytes", s.batch_bytes, "Producer batch size")->capture_default_str();
  app.add_option("--in-flight", s.in_flight, "Batches in flight per partition")->capture_default_str();
  app.add_option("--latency-samples", s.latency_samples, "One-at-a-time produces to time")->capture_default_str();
  app.add_option("--acks", s.acks, "all or 1")->check(CLI::IsMember({"all", "1"}))->capture_default_str();
  app.add_flag("--tls-compare", compare, "Start a plain and a TLS heraldd and measure both, interleaved");
  app.add_flag("--mtls", mtls, "--tls-compare: a third broker requiring client certificates");
  app.add_option("--reps", reps, "--tls-compare: repetitions (each measures every mode)")->capture_default_str();
  app.add_option("--connect-samples", connect_samples, "--tls-compare: fresh connections timed per repetition")
      ->capture_default_str();
  app.add_option("--dir", dir, "--tls-compare: base of the scratch directory (default $TMPDIR or /tmp)");
  app.add_flag("--keep", keep, "--tls-compare: keep the scratch directory (brokers' logs)");
  app.add_option("--heraldd", heraldd, "--tls-compare: the heraldd binary (default: ../apps/heraldd from here)");
  app.add_option("--ca-script", ca_script, "--tls-compare: make-test-ca.sh (default: the source tree's)");
  app.add_option("--broker-arg", broker_args, "--tls-compare: extra heraldd flag for every broker (repeat)");
  CLI11_PARSE(app, argc, argv);

  if (compare) {
    if (records->count() == 0) s.records = 200'000;
    std::string reproduce = argv[0];
    reproduce += " --tls-compare" + std::string(mtls ? " --mtls" : "") + " --reps=" + std::to_string(reps) +
                 " --records=" + std::to_string(s.records) + " --record-bytes=" + std::to_string(s.record_bytes) +
                 " --batch-bytes=" + std::to_string(s.batch_bytes) + " --in-flight=" + std::to_string(s.in_flight) +
                 " --latency-samples=" + std::to_string(s.latency_samples) + " --acks=" + s.acks +
                 " --connect-samples=" + std::to_string(connect_samples);
    for (const auto& a : broker_args) reproduce += " --broker-arg=" + a;
    try {
      return tls_compare(s, mtls, reps, connect_samples, dir, keep, heraldd, ca_script, broker_args, reproduce);
    } catch (const std::exception& e) {
      std::cerr << "produce_bench: " << e.what() << "\n";
      return 1;
    }
  }
  if (brokers.empty()) {
    std::cerr << "produce_bench: --broker is required (or --tls-compare)\n";
    return 2;
  }

  auto leader = find_leader(brokers, topic);
  if (!leader) {
    std::cerr << "produce_bench: no broker accepted writes to " << topic << "\n";
    return 1;
  }
  std::cout << "leader=" << *leader << "\n";
  connection conn{*leader};
  try {
    const auto t = run_throughput(conn, topic, s);
    std::cout << "records=" << s.records << "\nseconds=" << t.seconds << "\nrecords_per_s=" << t.records_per_s
              << "\nmb_per_s=" << t.mb_per_s << "\n";
    auto micros = run_latency(conn, topic, s);
    auto pct = [&](double q) { return micros[static_cast<std::size_t>(q * static_cast<double>(micros.size() - 1))]; };
    std::cout << "latency_p50_us=" << pct(0.50) << "\nlatency_p99_us=" << pct(0.99) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "produce_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
