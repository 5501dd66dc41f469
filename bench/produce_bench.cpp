// End-to-end produce benchmark against running brokers (single node or a
// Raft group): throughput with many batches in flight, then one-record-at-
// a-time latency. The companion script bench/run_replication_benchmark.sh
// starts the brokers, measures their CPU time, and compares one node with
// three in the same run.
//
//   produce_bench --broker HOST:PORT [--broker ...] --topic T [--records N]
//                 [--record-bytes B] [--batch-bytes B] [--in-flight K]
//                 [--latency-samples M] [--acks all|1]
//
// With several brokers it first finds the one that accepts writes (the
// leader). Output: one "key=value" line per figure, for the script to read.

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "client/blocking.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using herald::client::connection;
using herald::client::producer;
using herald::client::producer_options;

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

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> brokers;
  std::string topic = "bench";
  std::uint64_t records = 1'000'000;
  std::size_t record_bytes = 1024;
  std::size_t batch_bytes = 256u << 10;
  std::uint32_t in_flight = 16;
  std::uint32_t latency_samples = 2000;
  std::string acks = "all";
  CLI::App app{"produce_bench: produce throughput and latency against running brokers"};
  app.add_option("--broker", brokers, "HOST:PORT of a broker (repeat for every replica)")->required();
  app.add_option("--topic", topic, "Existing topic")->capture_default_str();
  app.add_option("--records", records, "Records for the throughput phase")->capture_default_str();
  app.add_option("--record-bytes", record_bytes, "Value size")->capture_default_str();
  app.add_option("--batch-bytes", batch_bytes, "Producer batch size")->capture_default_str();
  app.add_option("--in-flight", in_flight, "Batches in flight per partition")->capture_default_str();
  app.add_option("--latency-samples", latency_samples, "One-at-a-time produces to time")->capture_default_str();
  app.add_option("--acks", acks, "all or 1")->check(CLI::IsMember({"all", "1"}))->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto leader = find_leader(brokers, topic);
  if (!leader) {
    std::cerr << "produce_bench: no broker accepted writes to " << topic << "\n";
    return 1;
  }
  std::cout << "leader=" << *leader << "\n";
  connection conn{*leader};
  const std::string value(record_bytes, 'x');

  producer_options options;
  options.acks = acks == "all" ? herald::schema::Acks::ALL : herald::schema::Acks::LEADER;
  options.batch_bytes = batch_bytes;
  options.linger_ms = 1;
  options.max_in_flight_per_partition = in_flight;
  {
    producer p(conn, options);
    const auto start = clock_type::now();
    for (std::uint64_t i = 0; i < records; ++i) p.send(topic, std::nullopt, value);
    const auto outcome = p.flush();
    const double s = seconds_since(start);
    if (outcome.failed != 0) {
      std::cerr << "produce_bench: " << outcome.failed << " records failed: " << outcome.first_error << "\n";
      return 1;
    }
    std::cout << "records=" << records << "\nseconds=" << s << "\nrecords_per_s=" << records / s
              << "\nmb_per_s=" << records * record_bytes / s / 1e6 << "\n";
  }

  // One record at a time: each send waits for the previous acknowledgement.
  options.linger_ms = 0;
  options.max_in_flight_per_partition = 1;
  producer one(conn, options);
  std::vector<double> micros;
  micros.reserve(latency_samples);
  for (std::uint32_t i = 0; i < latency_samples; ++i) {
    const auto start = clock_type::now();
    one.send(topic, std::nullopt, value);
    const auto outcome = one.flush();
    if (outcome.acknowledged != i + 1) {
      std::cerr << "produce_bench: latency sample " << i << " failed: " << outcome.first_error << "\n";
      return 1;
    }
    micros.push_back(seconds_since(start) * 1e6);
  }
  std::sort(micros.begin(), micros.end());
  auto pct = [&](double q) { return micros[static_cast<std::size_t>(q * static_cast<double>(micros.size() - 1))]; };
  std::cout << "latency_p50_us=" << pct(0.50) << "\nlatency_p99_us=" << pct(0.99) << "\n";
  return 0;
}
