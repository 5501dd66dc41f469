// A cluster on ZooKeeper, end to end: R3 produce throughput on a 12-partition
// topic across brokers, then failover time over repeated leader kills.
//
//   cluster_failover [--brokers N] [--records R] [--record-bytes B] [--kills K] [--freeze]
//
// Starts a real ZooKeeper and N heraldd processes (tests/support/zk_cluster,
// temp dirs, free ports; fsync=always on the test's disk), creates the topic
// at R3, and:
//   1. throughput: R keyed records (keys spread over every partition), acks=all,
//      one batch in flight per partition, through a client started from one
//      broker that routes each partition to its leader;
//   2. failover, K times: a client already connected sends one acks=all
//      record to partition 0 (warm), the broker leading partition 0 is killed
//      with SIGKILL, and the time from the kill to the acknowledgement of the
//      next record to partition 0 (sent at once; the client refreshes
//      metadata and retries) is measured. The broker is restarted and the
//      partition given time to have all three replicas again before the next kill.
//      With --freeze the leader is paused (SIGSTOP) instead, a frozen broker
//      whose sockets stay open: the client notices only by its own liveness
//      (client/wire_conversation.hpp); it is resumed (SIGCONT) afterwards.
// Prints a table and p50/max. Never run by CTest: figures, not pass/fail.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "client/blocking.hpp"
#include "tests/support/process.hpp"
#include "tests/support/zk_cluster.hpp"

using namespace herald;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

std::string all_addresses(test::zk_cluster& c) {
  std::string out;
  for (int id = 1; id <= c.size(); ++id)
    if (c.running(id)) out += (out.empty() ? "" : ",") + c.address(id);
  return out;
}

bool all_led(test::zk_cluster& c, const std::string& topic, std::uint32_t partitions) {
  auto l = c.leaders(topic, partitions);
  return std::none_of(l.begin(), l.end(), [](auto x) { return x <= 0; });
}

}  // namespace

namespace {
int run(int argc, char** argv);
}

// An exception escaping main would skip zk_cluster's destructor and leave the
// brokers and ZooKeeper running: catch it so they are stopped.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "cluster_failover: " << e.what() << "\n";
    return 1;
  }
}

namespace {

int run(int argc, char** argv) {
  int brokers = 3;
  std::uint64_t records = 100'000;
  std::size_t record_bytes = 1024;
  int kills = 10;
  bool freeze = false;
  const std::uint32_t partitions = 12;
  CLI::App app{"Herald on ZooKeeper: R3 produce throughput and leader failover time"};
  app.add_option("--brokers", brokers, "Brokers to start (at least 3)")->check(CLI::Range(3, 9))->capture_default_str();
  app.add_option("--records", records, "Records for the throughput phase")->capture_default_str();
  app.add_option("--record-bytes", record_bytes, "Value size")->check(CLI::Range(1, 1 << 20))->capture_default_str();
  app.add_option("--kills", kills, "Leader kills to time")->check(CLI::Range(1, 100))->capture_default_str();
  app.add_flag("--freeze", freeze, "Pause the leader (SIGSTOP) instead of killing it; resume it afterwards");
  CLI11_PARSE(app, argc, argv);
  if (auto why = test::zookeeper_server::unavailable_reason(); !why.empty()) {
    std::cerr << "cluster_failover: " << why << " (run deploy/install-deps.sh)\n";
    return 1;
  }

  std::cerr << "starting ZooKeeper and " << brokers << " brokers...\n";
  test::zk_cluster c(brokers);
  std::vector<cluster::broker_id> ids;
  for (int i = 1; i <= brokers; ++i) ids.push_back(i);
  if (!c.wait_registered(ids)) {
    std::cerr << "cluster_failover: brokers did not register\n";
    return 1;
  }
  const std::string topic = "bench";
  // clusterUnavailable is retriable: a broker answers it until its first
  // view of the cluster arrives.
  std::string create_error;
  if (!test::eventually(
        [&] {
          try {
            client::connection admin{c.address(1)};
            admin.create_topic(topic, partitions, 3);
            return true;
          } catch (const client::error& e) {
            create_error = e.what();
            return e.code() == schema::ErrorCode::TOPIC_ALREADY_EXISTS;
          }
        },
        30s)) {
    std::cerr << "cluster_failover: cannot create the topic: " << create_error << "\n";
    return 1;
  }
  if (!test::eventually([&] { return all_led(c, topic, partitions); }, 60s)) {
    std::cerr << "cluster_failover: not every partition got a leader\n";
    return 1;
  }

  // 1. Throughput.
  {
    std::cerr << "throughput: " << records << " records of " << record_bytes << " B, acks=all...\n";
    client::connection conn{c.address(1)};
    client::producer_options o;
    o.acks = schema::Acks::ALL;
    client::producer p(conn, o);
    std::vector<std::string> keys;
    for (std::uint32_t i = 0; i < partitions; ++i) keys.push_back(test::key_for_partition(i, partitions));
    const std::string value(record_bytes, 'x');
    const auto start = clock_type::now();
    for (std::uint64_t i = 0; i < records; ++i) p.send(topic, keys[i % partitions], value);
    const auto out = p.flush();
    const double s = std::chrono::duration<double>(clock_type::now() - start).count();
    std::printf("| R3 produce, %u partitions, %d brokers | %llu records acknowledged, %llu failed | %.0f records/s | %.1f MiB/s |\n",
                partitions, brokers, static_cast<unsigned long long>(out.acknowledged),
                static_cast<unsigned long long>(out.failed), static_cast<double>(out.acknowledged) / s,
                static_cast<double>(out.acknowledged * record_bytes) / s / (1 << 20));
  }

  // 2. Failover.
  std::vector<double> times;
  const auto key0 = test::key_for_partition(0, partitions);
  for (int k = 1; k <= kills; ++k) {
    if (!test::eventually([&] { return all_led(c, topic, partitions); }, 60s)) {
      std::cerr << "kill " << k << ": partitions without a leader; stopping\n";
      break;
    }
    const int victim = c.leaders(topic, partitions)[0];
    client::connection conn{all_addresses(c)};
    client::producer_options o;
    o.acks = schema::Acks::ALL;
    o.linger_ms = 0;
    client::producer p(conn, o);
    p.send(topic, key0, "warm");
    if (p.flush().acknowledged != 1) {
      std::cerr << "kill " << k << ": warm-up write failed; stopping\n";
      break;
    }
    if (freeze)
      c.pause(victim);
    else
      c.kill9(victim);
    const auto killed = clock_type::now();
    p.send(topic, key0, "after-kill-" + std::to_string(k));
    // flush() counts every record this producer sent: the warm one and this.
    const auto out = p.flush();
    const bool acked = out.acknowledged == 2 && out.failed == 0;
    const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - killed).count();
    if (freeze)
      c.resume(victim);  // (before asking for leaders: a frozen broker answers nobody)
    const int now_leader = c.leaders(topic, partitions)[0];
    std::printf("| %s %2d | broker %d led partition 0 | %s after %7.1f ms | new leader %d |%s\n",
                freeze ? "freeze" : "kill", k, victim, acked ? "acknowledged" : "FAILED", ms, now_leader,
                out.first_error.empty() ? "" : (" " + out.first_error).c_str());
    if (acked) times.push_back(ms);
    if (!freeze)
      c.start(victim);
    if (!c.wait_registered(ids, 60s)) {
      std::cerr << "kill " << k << ": broker " << victim << " did not come back; stopping\n";
      break;
    }
    // The restarted replica catches up before the next kill, so partition 0
    // has its three replicas again.
    if (!test::eventually(
          [&] {
            try {
              client::connection probe{c.address(victim), client::connection::routing::pinned};
              const auto t = probe.describe_topic(topic);
              return t.partitions.size() == partitions && t.partitions[0].leader > 0 &&
                     t.partitions[0].high_watermark > 0;
            } catch (const std::exception&) {
              return false;
            }
          },
          60s)) {
      std::cerr << "kill " << k << ": restarted broker " << victim << " does not follow; stopping\n";
      break;
    }
  }
  if (times.empty()) return 1;
  std::sort(times.begin(), times.end());
  std::printf("failover (%s of partition 0's leader -> next acks=all write acknowledged), %zu runs: "
              "p50 %.0f ms, max %.0f ms, min %.0f ms\n",
              freeze ? "SIGSTOP" : "SIGKILL", times.size(), times[times.size() / 2], times.back(), times.front());
  return times.size() == static_cast<std::size_t>(kills) ? 0 : 1;
}

}  // namespace
