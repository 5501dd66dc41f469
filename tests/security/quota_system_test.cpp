// Quotas and connection caps in a real heraldd (issue 11 item 5), with a
// raw-socket client on the framed listener: a producer limited to 1 MiB/s
// that honours throttle_ms is held within 10% of it over 10 s, one that
// ignores it is held there too (the broker stops reading its socket), and a
// broker without the quota is not slowed. (Connection caps per IP:
// tests/wire/listener_test.cpp.)

#include <doctest/doctest.h>

#include <random>
#include <thread>

#include "tests/support/broker.hpp"
#include "tests/support/frame_client.hpp"
#include "tests/support/frame_requests.hpp"

using namespace herald;
using protocol::frame_kind;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;
using test::broker_on_tmpfs;
using test::create_topic_request;
using test::frame_client;
using test::response_error;

namespace {

constexpr double MiB = 1024.0 * 1024.0;

// hello -> hello_reply; false when the server said goodbye instead.
bool handshake(frame_client& c) {
  c.send_frame(frame_kind::hello, 0, test::hello_payload("quota-test"));
  auto reply = c.next();
  return reply && reply->kind == frame_kind::hello_reply;
}

// A produce request of one incompressible record of `value_bytes`.
std::vector<char> produce(const std::string& topic, std::size_t value_bytes) {
  std::string value(value_bytes, '\0');
  std::mt19937_64 rng{value_bytes};
  for (auto& ch : value)
    ch = static_cast<char>(rng());
  return test::produce_request(topic, value);
}

struct produce_run {
  double bytes = 0;  // request payload bytes answered within the run (what the quota charges)
  double seconds = 0;
  std::uint32_t max_throttle_ms = 0;
  double latency_sum = 0;  // seconds from sending a counted request to its answer
  double rate() const { return bytes / seconds; }
  double mean_latency_ms(std::size_t request_bytes) const { return latency_sum * 1000.0 / (bytes / double(request_bytes)); }
};

// One produce at a time for `duration` (after `warmup`, not counted) or
// `max_requests`. With `honour`, it waits out each response's throttle_ms
// before the next request, as a client must; without, it sends the next at once.
produce_run produce_for(frame_client& c, const std::vector<char>& request, milliseconds warmup, milliseconds duration,
                        bool honour, std::size_t max_requests = SIZE_MAX) {
  produce_run run;
  std::uint64_t correlation = 100;
  const auto start = steady::now();
  auto counted_from = start + warmup;
  const auto end = counted_from + duration;
  bool counting = false;
  for (std::size_t i = 0; i < max_requests && steady::now() < end; ++i) {
    const auto sent = steady::now();
    c.send_frame(frame_kind::request, ++correlation, request);
    auto f = c.next();
    REQUIRE(f);
    REQUIRE(f->kind == frame_kind::response);
    REQUIRE(response_error(*f) == schema::ErrorCode::NONE);
    const auto answered = steady::now();
    if (counting) {
      run.bytes += static_cast<double>(request.size());
      run.latency_sum += std::chrono::duration<double>(answered - sent).count();
    }
    else if (answered >= counted_from) {
      counting = true;  // the run is timed from this answer on
      counted_from = answered;
    }
    run.max_throttle_ms = std::max(run.max_throttle_ms, f->throttle_ms);
    if (honour && f->throttle_ms > 0)
      std::this_thread::sleep_for(milliseconds{f->throttle_ms});  // the protocol's pause, not a wait for a condition
  }
  run.seconds = std::chrono::duration<double>(steady::now() - counted_from).count();
  return run;
}

} // namespace

TEST_CASE("quota system: a 1 MiB/s producer is held within 10% of it, a broker without the quota is not slowed") {
  broker_on_tmpfs limited({"--quota-produce-bytes-per-sec=1048576"});
  if (!limited.up()) {
    MESSAGE("skipped: mounting a tmpfs needs root");
    return;
  }
  const auto request = produce("q", 256 * 1024);
  {
    frame_client c(limited.broker->address());
    REQUIRE(handshake(c));
    c.send_frame(frame_kind::request, 1, create_topic_request("q"));
    auto created = c.next();
    REQUIRE(created);
    REQUIRE(response_error(*created) == schema::ErrorCode::NONE);
    // Past the first burst (1 s of quota), then 10 s counted.
    auto run = produce_for(c, request, milliseconds{2000}, milliseconds{10'000}, true);
    MESSAGE("honouring throttle_ms: " << run.rate() / MiB << " MiB/s over " << run.seconds << " s, largest throttle "
                                      << run.max_throttle_ms << " ms");
    CHECK(run.max_throttle_ms > 0);
    CHECK(run.rate() == doctest::Approx(MiB).epsilon(0.10));
    // The broker reads again when the pause ends, not at its next periodic
    // tick: a request sent after the pause is answered at once.
    MESSAGE("mean answer time " << run.mean_latency_ms(request.size()) << " ms");
    CHECK(run.mean_latency_ms(request.size()) < 100);
  }
  {
    // A client that ignores throttle_ms: the broker does not read its socket
    // for that long, so it gets no more.
    frame_client c(limited.broker->address());
    REQUIRE(handshake(c));
    auto run = produce_for(c, request, milliseconds{2000}, milliseconds{6000}, false);
    MESSAGE("ignoring throttle_ms: " << run.rate() / MiB << " MiB/s over " << run.seconds << " s");
    CHECK(run.rate() <= 1.10 * MiB);
  }

  broker_on_tmpfs free({});
  REQUIRE(free.up());
  frame_client c(free.broker->address());
  REQUIRE(handshake(c));
  c.send_frame(frame_kind::request, 1, create_topic_request("q"));
  auto created = c.next();
  REQUIRE(created);
  REQUIRE(response_error(*created) == schema::ErrorCode::NONE);
  // 32 MiB at most (the disk is a 160 MiB tmpfs).
  auto run = produce_for(c, request, milliseconds{0}, milliseconds{10'000}, true, 128);
  MESSAGE("without a quota: " << run.rate() / MiB << " MiB/s");
  CHECK(run.max_throttle_ms == 0);
  CHECK(run.rate() > 3 * MiB);
}

TEST_CASE("quota system: heraldd refuses bad quota flags at start") {
  test::temp_dir dir;
  auto run = [&](const std::string& flags) {
    return test::run_shell(test::heraldd_path() + " --data-dir " + (dir.path() / "d").string() +
                             " --listen 127.0.0.1:0 " + flags,
                           dir.path() / "out", dir.path() / "err");
  };
  auto err = [&] { return test::read_file(dir.path() / "err"); };
  CHECK(run("--quota alice=produce:5") != 0);
  CHECK(err().find("the principal must be User:<name>") != std::string::npos);
  CHECK(run("--quota User:a=produce:5 --quota User:a=fetch:5") != 0);
  CHECK(err().find("--quota names User:a twice") != std::string::npos);
  CHECK(run("--quota User:a=write:5") != 0);
  CHECK(err().find("unknown quota 'write'") != std::string::npos);
  CHECK(run("--quota-produce-bytes-per-sec -1") != 0);  // not taken as 2^64-1
  CHECK(run("--quota-fetch-bytes-per-sec 99999999999999") != 0);
}
