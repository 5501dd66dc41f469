// Byte-rate quotas per principal (issue 11 item 5), on a fake clock: the
// throttle a client is told to honour brings it to its limit.

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "security/quota.hpp"

using namespace herald::security;
using namespace std::chrono_literals;
using tp = quota_registry::clock::time_point;

namespace {

constexpr std::uint64_t MiB = 1u << 20;

tp at(std::chrono::milliseconds t) { return tp{} + 1h + t; } // away from the epoch

quota_config produce_limit(std::uint64_t bytes_per_sec) {
  quota_config c;
  c.defaults.produce_bytes_per_sec = bytes_per_sec;
  return c;
}

// A client that sends `batch` bytes whenever it may: each send takes
// batch/link_rate on the wire, and after each response it waits the throttle
// it was given. Returns the bytes it sent in [from, to).
struct steady_client {
  quota_registry& quotas;
  std::string principal;
  std::uint64_t batch;
  double link_bytes_per_ms;
  std::chrono::milliseconds next{0};

  std::uint64_t run(std::chrono::milliseconds from, std::chrono::milliseconds to) {
    std::uint64_t sent = 0;
    while (next < to) {
      const auto wire = std::chrono::milliseconds(
          static_cast<std::int64_t>(static_cast<double>(batch) / link_bytes_per_ms) + 1);
      const auto done = next + wire;
      const auto throttle = quotas.record(principal, quota_kind::produce, batch, at(done));
      if (done >= from && done < to)
        sent += batch;
      next = done + throttle;
    }
    return sent;
  }
};

double per_sec(std::uint64_t bytes, std::chrono::milliseconds span) {
  return static_cast<double>(bytes) * 1000.0 / static_cast<double>(span.count());
}

} // namespace

TEST_CASE("quota: no quota configured throttles nothing and tracks nothing") {
  quota_registry q{quota_config{}};
  CHECK_FALSE(q.enabled());
  CHECK(q.record("User:alice", quota_kind::produce, 1ull << 40, at(0ms)) == 0ms);
  CHECK(q.tracked() == 0);
}

TEST_CASE("quota: the throttle is the excess over the limit divided by the limit") {
  quota_registry q{produce_limit(1000)}; // a burst of 1 s: 1000 bytes at once
  CHECK(q.enabled());
  CHECK(q.record("User:a", quota_kind::produce, 500, at(0ms)) == 0ms);
  CHECK(q.available("User:a", quota_kind::produce, at(0ms)) == doctest::Approx(500));
  // 1500 more: 1000 over what the limit allowed -> 1 s.
  CHECK(q.record("User:a", quota_kind::produce, 1500, at(0ms)) == 1000ms);
  CHECK(q.available("User:a", quota_kind::produce, at(500ms)) == doctest::Approx(-500));
  // Paid back after exactly that pause; the next 1000 bytes cost 1 s again.
  CHECK(q.record("User:a", quota_kind::produce, 1000, at(1000ms)) == 1000ms);
  // A quiet principal's bucket refills only to the burst.
  CHECK(q.available("User:a", quota_kind::produce, at(60000ms)) == doctest::Approx(1000));
}

TEST_CASE("quota: one answer asks for at most max_throttle, and the rest of the debt is asked for next time") {
  auto c = produce_limit(1000);
  c.max_throttle = 5000ms;
  quota_registry q{c};
  CHECK(q.record("User:a", quota_kind::produce, 1'001'000, at(0ms)) == 5000ms);
  CHECK(q.record("User:a", quota_kind::produce, 1, at(5000ms)) == 5000ms);
  CHECK(q.available("User:a", quota_kind::produce, at(5000ms)) == doctest::Approx(-995'001));
  // The default cap is 30 s.
  quota_registry d{produce_limit(1000)};
  CHECK(d.record("User:a", quota_kind::produce, 1'000'000, at(0ms)) == 30000ms);
}

TEST_CASE("quota: a steady producer over its limit converges to the limit within 10%") {
  for (const auto batch : std::initializer_list<std::uint64_t>{16 * 1024, 256 * 1024, 1 * MiB}) {
    CAPTURE(batch);
    quota_registry q{produce_limit(1 * MiB)};
    // A link 100 times faster than the quota.
    steady_client client{q, "User:fast", batch, 100.0 * MiB / 1000.0};
    // After its first burst, every 10 s span is at the limit: no swings.
    client.run(0ms, 2000ms);
    for (auto t = 2000ms; t < 62000ms; t += 10000ms) {
      CAPTURE(t.count());
      CHECK(per_sec(client.run(t, t + 10000ms), 10000ms) == doctest::Approx(1.0 * MiB).epsilon(0.10));
    }
  }
  // Batches bigger than the burst: one every few seconds, still at the limit.
  for (const auto batch : std::initializer_list<std::uint64_t>{3 * MiB, 8 * MiB}) {
    CAPTURE(batch);
    quota_registry q{produce_limit(1 * MiB)};
    steady_client client{q, "User:big", batch, 100.0 * MiB / 1000.0};
    client.run(0ms, 20000ms);
    CHECK(per_sec(client.run(20000ms, 260000ms), 240000ms) == doctest::Approx(1.0 * MiB).epsilon(0.10));
  }
}

TEST_CASE("quota: a producer under its limit is never throttled") {
  quota_registry q{produce_limit(1 * MiB)};
  for (int i = 0; i < 600; ++i) // 512 KiB/s for 60 s
    REQUIRE(q.record("User:slow", quota_kind::produce, 51 * 1024, at(std::chrono::milliseconds(i * 100))) == 0ms);
}

TEST_CASE("quota: a burst after silence is allowed up to the burst size, then paid for") {
  quota_registry q{produce_limit(1 * MiB)};
  // 1 MiB (1 s at the limit) at once: no pause yet.
  CHECK(q.record("User:b", quota_kind::produce, 512 * 1024, at(0ms)) == 0ms);
  CHECK(q.record("User:b", quota_kind::produce, 512 * 1024, at(0ms)) == 0ms);
  // The next MiB goes over: a 1 s pause.
  CHECK(q.record("User:b", quota_kind::produce, 1 * MiB, at(0ms)) == 1000ms);
  // Quiet for 2 s after the pause: the bucket is full again, one more burst.
  CHECK(q.record("User:b", quota_kind::produce, 1 * MiB, at(3000ms)) == 0ms);
  CHECK(q.record("User:b", quota_kind::produce, 1, at(3000ms)) == 1ms);
}

namespace {

// Every 15 s a producer wants `burst` more bytes, sent as fast as it may in
// 512 KiB requests, honouring each pause. Returns the bytes sent in `end`.
std::uint64_t bursty_run(quota_registry& q, const std::string& who, std::uint64_t burst,
                         std::chrono::milliseconds end) {
  constexpr std::uint64_t request = 512 * 1024;
  std::uint64_t backlog = 0, sent = 0;
  std::chrono::milliseconds now{0}, next_burst{0};
  while (now < end) {
    while (next_burst <= now) {
      backlog += burst;
      next_burst += 15000ms;
    }
    if (backlog == 0) {
      now = next_burst;
      continue;
    }
    now += 5ms;
    const auto pause = q.record(who, quota_kind::produce, request, at(now));
    if (now < end)
      sent += request;
    backlog -= std::min(backlog, request);
    now += pause;
  }
  return sent;
}

} // namespace

TEST_CASE("quota: bursts over the limit on average are held to the limit, bursts under it pass whole") {
  quota_registry q{produce_limit(1 * MiB)};
  // 45 MiB every 15 s: 3 MiB/s wanted.
  CHECK(per_sec(bursty_run(q, "User:greedy", 45 * MiB, 300000ms), 300000ms) ==
        doctest::Approx(1.0 * MiB).epsilon(0.10));
  // 12 MiB every 15 s: 0.8 MiB/s on average, though each burst is longer than
  // the 10 s a fresh window allows at once. All of it gets through in time.
  CHECK(per_sec(bursty_run(q, "User:modest", 12 * MiB, 300000ms), 300000ms) ==
        doctest::Approx(0.8 * MiB).epsilon(0.05));
}

TEST_CASE("quota: two principals are independent") {
  quota_registry q{produce_limit(1 * MiB)};
  CHECK(q.record("User:heavy", quota_kind::produce, 50 * MiB, at(0ms)) > 0ms);
  CHECK(q.record("User:light", quota_kind::produce, 1 * MiB, at(0ms)) == 0ms);
  // Side by side over a minute: each converges to its own limit.
  steady_client heavy{q, "User:heavy2", 256 * 1024, 100.0 * MiB / 1000.0};
  steady_client other{q, "User:other2", 256 * 1024, 100.0 * MiB / 1000.0};
  std::uint64_t h = 0, o = 0;
  for (auto t = 0ms; t < 60000ms; t += 1000ms) {
    h += heavy.run(t, t + 1000ms);
    o += other.run(t, t + 1000ms);
  }
  CHECK(per_sec(h, 60000ms) == doctest::Approx(1.0 * MiB).epsilon(0.10));
  CHECK(per_sec(o, 60000ms) == doctest::Approx(1.0 * MiB).epsilon(0.10));
}

TEST_CASE("quota: produce and fetch are separate quotas, overrides replace the defaults") {
  quota_config c;
  c.defaults = {1000, 2000};
  c.overrides["User:exempt"] = {0, 0};
  c.overrides["User:big"] = {100'000, 2000};
  quota_registry q{c};
  CHECK(q.record("User:a", quota_kind::produce, 1500, at(0ms)) == 500ms);
  // The same principal's fetches have their own bucket and limit.
  CHECK(q.record("User:a", quota_kind::fetch, 1500, at(0ms)) == 0ms);
  CHECK(q.record("User:a", quota_kind::fetch, 1500, at(0ms)) == 500ms);
  CHECK(q.record("User:exempt", quota_kind::produce, 1ull << 40, at(0ms)) == 0ms);
  CHECK(q.record("User:big", quota_kind::produce, 20000, at(0ms)) == 0ms);
  CHECK(q.limits_for("User:big") == quota_limits{100'000, 2000});
  CHECK(q.limits_for("User:nobody") == quota_limits{1000, 2000});
}

TEST_CASE("quota: principals whose buckets filled up again are forgotten") {
  quota_registry q{produce_limit(1000)};
  for (int i = 0; i < 1500; ++i)
    q.record("User:p" + std::to_string(i), quota_kind::produce, 10, at(0ms));
  CHECK(q.tracked() == 1500);
  // Sweeps run as the map grows; 20 s later all of those are full again.
  for (int i = 0; i < 1500; ++i)
    q.record("User:n" + std::to_string(i), quota_kind::produce, 10, at(20000ms));
  CHECK(q.tracked() < 2000);
}

TEST_CASE("quota: threads recording at once lose no bytes") {
  auto c = produce_limit(1ull << 40);
  c.defaults.fetch_bytes_per_sec = 1ull << 40;
  quota_registry q{c};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&q, t] {
      for (int i = 0; i < 20000; ++i) {
        q.record("User:shared", quota_kind::produce, 1, at(0ms));
        q.record("User:own" + std::to_string(t), quota_kind::fetch, 1, at(0ms));
      }
    });
  for (auto& t : threads)
    t.join();
  // Every byte was taken from the bucket (full at 2^40 bytes: a 1 s burst).
  CHECK(q.available("User:shared", quota_kind::produce, at(0ms)) == static_cast<double>((1ull << 40) - 80000));
  for (int t = 0; t < 4; ++t)
    CHECK(q.available("User:own" + std::to_string(t), quota_kind::fetch, at(0ms)) ==
          static_cast<double>((1ull << 40) - 20000));
}

TEST_CASE("quota: --quota overrides parse, and mistakes say what is wrong") {
  const quota_limits defaults{100, 200};
  std::string who;
  quota_limits limits;
  CHECK(parse_quota_override("User:alice=produce:1048576,fetch:2097152", defaults, who, limits).empty());
  CHECK(who == "User:alice");
  CHECK(limits == quota_limits{1048576, 2097152});
  // A part left out keeps the default; 0 exempts.
  CHECK(parse_quota_override("User:bob=fetch:0", defaults, who, limits).empty());
  CHECK(who == "User:bob");
  CHECK(limits == quota_limits{100, 0});
  CHECK(parse_quota_override("User:CN=x=produce:5", defaults, who, limits).empty());
  CHECK(who == "User:CN=x");

  limits = {};
  CHECK(parse_quota_override("alice=produce:5", defaults, who, limits).find("User:<name>") != std::string::npos);
  CHECK(parse_quota_override("User:alice", defaults, who, limits).find("PRINCIPAL=produce:N,fetch:M") !=
        std::string::npos);
  CHECK(parse_quota_override("User:alice=", defaults, who, limits).find("gives no limit") != std::string::npos);
  CHECK(parse_quota_override("User:alice=produce:-1", defaults, who, limits).find("'-1' is not a byte count") !=
        std::string::npos);
  CHECK(parse_quota_override("User:alice=produce:1M", defaults, who, limits).find("not a byte count") !=
        std::string::npos);
  CHECK(parse_quota_override("User:alice=write:1", defaults, who, limits).find("unknown quota 'write'") !=
        std::string::npos);
  CHECK(parse_quota_override("User:alice=produce:1,produce:2", defaults, who, limits).find("twice") !=
        std::string::npos);
  CHECK(parse_quota_override("User:alice=produce", defaults, who, limits).find("is not produce:N") !=
        std::string::npos);
  CHECK(limits == quota_limits{}); // untouched by failures
}

TEST_CASE("quota: heraldd's flags make a config, a principal named twice is refused") {
  quota_config c;
  CHECK(build_quota_config(1000, 0, {"User:a=produce:5", "User:b=fetch:7"}, c).empty());
  CHECK(c.defaults == quota_limits{1000, 0});
  CHECK(c.overrides.at("User:a") == quota_limits{5, 0});
  CHECK(c.overrides.at("User:b") == quota_limits{1000, 7});
  CHECK(c.any());
  CHECK(build_quota_config(0, 0, {}, c).empty());
  CHECK_FALSE(c.any());
  CHECK(build_quota_config(0, 0, {"User:a=produce:5", "User:a=fetch:1"}, c) == "--quota names User:a twice");
  CHECK(build_quota_config(0, 0, {"nobody"}, c).rfind("--quota: quota override 'nobody'", 0) == 0);
}

TEST_CASE("quota: burst and max throttle are validated") {
  CHECK(check_quota_config(quota_config{}).empty());
  quota_config c;
  c.burst = 0ms;
  CHECK(check_quota_config(c).find("burst") != std::string::npos);
  c = {};
  c.max_throttle = 0ms;
  CHECK(check_quota_config(c).find("max throttle") != std::string::npos);
  c = {};
  c.max_throttle = std::chrono::hours(2);
  CHECK(check_quota_config(c).find("max throttle") != std::string::npos);
}
