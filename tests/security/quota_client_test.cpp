// Quotas and connection caps through the client library (issue 11 item 5):
// the producer honours the broker's throttle_ms, so a principal limited to
// 1 MiB/s sustains 1 MiB/s within 10% over 10 s while a broker without the
// quota takes the same producer far faster; a client over the per-IP cap is
// refused with a message that says so.

#include <doctest/doctest.h>

#include <random>

#include "client/blocking.hpp"
#include "tests/support/broker.hpp"
#include "tests/support/frame_client.hpp"

using namespace herald;
using steady = std::chrono::steady_clock;

using test::broker_on_tmpfs;

namespace {

constexpr double MiB = 1024.0 * 1024.0;

struct measured {
  double bytes = 0;  // record values acknowledged within the measured span
  double seconds = 0;
  double rate() const { return bytes / seconds; }
};

// Sends 256 KiB (64 incompressible 4 KiB records) and waits for the
// acknowledgements, again and again, for `warmup` + `duration` or until
// `max_bytes`; measures from the first acknowledgement after `warmup`.
measured produce_steadily(client::connection& conn, const std::string& topic, std::chrono::milliseconds warmup,
                          std::chrono::milliseconds duration, double max_bytes) {
  std::mt19937_64 rng{42};
  std::string value(4096, 'x');
  client::producer producer{conn};
  measured m;
  const auto start = steady::now();
  auto from = start + warmup;
  bool counting = false;
  double sent = 0;
  while (steady::now() < from + duration && sent < max_bytes) {
    for (int i = 0; i < 64; ++i) {
      for (auto& ch : value)
        ch = static_cast<char>(rng());
      producer.send(topic, std::nullopt, value);
    }
    auto outcome = producer.flush();
    REQUIRE(outcome.failed == 0);
    REQUIRE(outcome.acknowledged > 0);
    sent += 64.0 * 4096;
    const auto now = steady::now();
    if (counting) {
      m.bytes += 64.0 * 4096;
    } else if (now >= from) {
      counting = true;
      from = now;
    }
  }
  m.seconds = std::chrono::duration<double>(steady::now() - from).count();
  return m;
}

// A framed connection that did its hello and stays open.
std::unique_ptr<test::frame_client> held_connection(const std::string& address) {
  auto c = std::make_unique<test::frame_client>(address);
  c->send_frame(protocol::frame_kind::hello, 0, test::hello_payload("holder"));
  // Admitted once hello_reply comes back.
  auto f = c->next();
  REQUIRE(f);
  REQUIRE(f->kind == protocol::frame_kind::hello_reply);
  return c;
}

} // namespace

TEST_CASE("quota client: a producer with a 1 MiB/s quota sustains it within 10%, without the quota it is not slowed") {
  broker_on_tmpfs limited({"--quota-produce-bytes-per-sec=1048576"});
  if (!limited.up()) {
    MESSAGE("skipped: mounting a tmpfs needs root");
    return;
  }
  {
    client::connection conn{limited.broker->address()};
    conn.create_topic("q", 1, 1);
    // Past the first burst (1 s of quota), then 10 s measured.
    auto m = produce_steadily(conn, "q", std::chrono::milliseconds{2000}, std::chrono::milliseconds{10'000}, 1e12);
    MESSAGE("with a 1 MiB/s quota: " << m.rate() / MiB << " MiB/s over " << m.seconds << " s");
    CHECK(m.seconds > 9.5);
    CHECK(m.rate() == doctest::Approx(MiB).epsilon(0.10));
  }

  broker_on_tmpfs free({});
  REQUIRE(free.up());
  client::connection conn{free.broker->address()};
  conn.create_topic("q", 1, 1);
  // 32 MiB at most (the disk is a 160 MiB tmpfs).
  auto m = produce_steadily(conn, "q", std::chrono::milliseconds{0}, std::chrono::milliseconds{10'000}, 32 * MiB);
  MESSAGE("without a quota: " << m.rate() / MiB << " MiB/s");
  CHECK(m.rate() > 3 * MiB);
}

TEST_CASE("quota client: a client over --max-connections-per-ip is refused with a message that says so") {
  test::temp_dir dir;
  test::broker_process broker(dir.path() / "data", dir.path(), {"--max-connections-per-ip=1"});
  // Another program on this IP holds the one connection allowed.
  auto holder = held_connection(broker.address());
  try {
    client::connection conn{broker.address()};  // connects (and is refused) here
    conn.metadata();
    FAIL("a second connection from the same IP was served");
  } catch (const client::error& e) {
    MESSAGE("refused: " << std::string{e.what()});
    CHECK(std::string{e.what()}.find("too many connections from 127.0.0.1 (limit 1 per IP)") != std::string::npos);
  }
  // Once it is gone, a client gets in.
  holder.reset();
  CHECK(test::eventually([&] {
    try {
      client::connection conn{broker.address()};
      return !conn.metadata().brokers.empty();
    } catch (const client::error&) {
      return false;
    }
  }));
}

TEST_CASE("quota client: pauses longer than the client's liveness timeout, with requests in flight, lose nothing") {
  // 4 partitions, one 1 MiB batch in flight on each, at 256 KiB/s: each
  // answer asks for a pause of seconds while the other batches wait unread.
  broker_on_tmpfs limited({"--quota-produce-bytes-per-sec=262144", "--max-batch-bytes=2097152"});
  if (!limited.up()) {
    MESSAGE("skipped: mounting a tmpfs needs root");
    return;
  }
  client::connection conn{limited.broker->address()};
  conn.create_topic("p4", 4, 1);
  client::producer_options options;
  options.batch_bytes = 1u << 20;
  options.linger_ms = 50;
  client::producer producer{conn, options};
  std::mt19937_64 rng{7};
  std::string value(4096, 'x');
  const auto start = steady::now();
  for (int i = 0; i < 5 * 256; ++i) {  // 5 MiB in all
    for (auto& ch : value)
      ch = static_cast<char>(rng());
    producer.send("p4", std::to_string(i), value);
  }
  auto outcome = producer.flush();
  const double seconds = std::chrono::duration<double>(steady::now() - start).count();
  MESSAGE("5 MiB at 256 KiB/s in " << seconds << " s; resent " << outcome.resent << ", failed " << outcome.failed
                                   << " " << outcome.first_error);
  CHECK(outcome.failed == 0);
  CHECK(outcome.resent == 0);
  CHECK(outcome.acknowledged == 5 * 256);
}

TEST_CASE("quota client: a consumer with a 1 MiB/s fetch quota reads at it within 10%") {
  broker_on_tmpfs limited({"--quota-fetch-bytes-per-sec=1048576"});
  if (!limited.up()) {
    MESSAGE("skipped: mounting a tmpfs needs root");
    return;
  }
  client::connection conn{limited.broker->address()};
  conn.create_topic("f", 1, 1);
  // 16 MiB written first (produce has no quota here).
  measured written = produce_steadily(conn, "f", std::chrono::milliseconds{0}, std::chrono::seconds{60}, 16 * MiB);
  REQUIRE(written.bytes + 64 * 4096 >= 16 * MiB);
  client::consumer_options options;
  options.start = client::start_position::earliest;
  options.fetch_max_bytes = 256u << 10;
  client::consumer consumer{conn, "f", options};
  const auto start = steady::now();
  auto from = start + std::chrono::seconds{2};  // past the first burst
  bool counting = false;
  double bytes = 0;
  while (steady::now() < from + std::chrono::seconds{10}) {
    auto records = consumer.poll(std::chrono::seconds{5});
    REQUIRE(!records.empty());
    const auto now = steady::now();
    double got = 0;
    for (const auto& r : records)
      got += static_cast<double>(r.record.value.size());
    if (counting) {
      bytes += got;
    } else if (now >= from) {
      counting = true;
      from = now;
    }
  }
  const double seconds = std::chrono::duration<double>(steady::now() - from).count();
  MESSAGE("fetched at " << bytes / seconds / MiB << " MiB/s over " << seconds << " s");
  CHECK(bytes / seconds == doctest::Approx(MiB).epsilon(0.10));
}
