// Connection caps per client IP and in total (issue 11 item 5).

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "security/connection_limits.hpp"

using namespace herald::security;

TEST_CASE("connection limits: no caps admits everyone") {
  connection_limits l{{}};
  std::vector<connection_limits::ticket> held;
  for (int i = 0; i < 1000; ++i) {
    auto a = l.acquire("10.0.0.1");
    REQUIRE(a);
    held.push_back(std::move(a.slot));
  }
  CHECK(l.total() == 1000);
  held.clear();
  CHECK(l.total() == 0);
}

TEST_CASE("connection limits: an IP over its cap is refused with a reason, other IPs are not") {
  connection_limits l{{0, 2}};
  auto a = l.acquire("10.0.0.7");
  auto b = l.acquire("10.0.0.7");
  REQUIRE(a);
  REQUIRE(b);
  auto c = l.acquire("10.0.0.7");
  CHECK_FALSE(c);
  CHECK(c.refused == connection_limits::refusal::per_ip);
  CHECK(c.reason == "too many connections from 10.0.0.7 (limit 2 per IP)");
  CHECK_FALSE(c.slot.held());
  CHECK(l.count("10.0.0.7") == 2);
  CHECK(l.acquire("10.0.0.8"));
  // A slot given back makes room again.
  a.slot.release();
  CHECK(l.count("10.0.0.7") == 1);
  auto d = l.acquire("10.0.0.7");
  CHECK(d);
}

TEST_CASE("connection limits: the total cap is refused with its own reason") {
  connection_limits l{{3, 0}};
  std::vector<connection_limits::admission> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(l.acquire("10.0.0." + std::to_string(i)));
    REQUIRE(held.back());
  }
  auto refused = l.acquire("10.0.0.99");
  CHECK(refused.refused == connection_limits::refusal::total);
  CHECK(refused.reason == "too many connections to this broker (limit 3)");
  CHECK(l.total() == 3);
  held.pop_back();
  CHECK(l.total() == 2);
  CHECK(l.acquire("10.0.0.99"));
}

TEST_CASE("connection limits: tickets move, release once, and may outlive the limits") {
  connection_limits::ticket kept;
  {
    connection_limits l{{0, 1}};
    auto a = l.acquire("192.0.2.1");
    REQUIRE(a);
    connection_limits::ticket moved = std::move(a.slot);
    CHECK_FALSE(a.slot.held());
    CHECK(moved.held());
    CHECK(l.count("192.0.2.1") == 1);
    a.slot.release(); // the moved-from ticket gives nothing back
    CHECK(l.count("192.0.2.1") == 1);
    moved.release();
    moved.release();
    CHECK(l.count("192.0.2.1") == 0);
    CHECK(l.total() == 0);
    // Assigning over a held ticket gives its slot back first.
    auto b = l.acquire("192.0.2.1");
    auto c = l.acquire("192.0.2.2");
    b.slot = std::move(c.slot);
    CHECK(l.count("192.0.2.1") == 0);
    CHECK(l.count("192.0.2.2") == 1);
    kept = std::move(b.slot);
  }
  // The limits object is gone; the ticket's destructor must not touch freed memory.
  CHECK(kept.held());
  kept.release();
}

TEST_CASE("connection limits: an IPv4 address mapped into IPv6 counts as the IPv4 address") {
  CHECK(normalize_client_ip("::ffff:10.1.2.3") == "10.1.2.3");
  CHECK(normalize_client_ip("::ffff:abcd") == "::ffff:abcd");
  CHECK(normalize_client_ip("2001:db8::1") == "2001:db8::1");
  connection_limits l{{0, 1}};
  auto a = l.acquire("10.1.2.3");
  REQUIRE(a);
  auto b = l.acquire("::ffff:10.1.2.3");
  CHECK(b.refused == connection_limits::refusal::per_ip);
  CHECK(b.reason.find("10.1.2.3 (limit 1 per IP)") != std::string::npos);
}

TEST_CASE("connection limits: threads acquiring and releasing never exceed the caps") {
  connection_limits l{{8, 3}};
  std::atomic<int> admitted{0}, over{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        auto a = l.acquire("10.0.0." + std::to_string((t + i) % 4));
        if (a) {
          ++admitted;
          if (l.total() > 8)
            ++over;
        }
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK(admitted.load() > 0);
  CHECK(over.load() == 0);
  CHECK(l.total() == 0);
  for (int i = 0; i < 4; ++i)
    CHECK(l.count("10.0.0." + std::to_string(i)) == 0);
}

TEST_CASE("connection limits: absurd caps are refused at start") {
  CHECK(check_connection_limits_config({}).empty());
  CHECK(check_connection_limits_config({1000, 10}).empty());
  CHECK(check_connection_limits_config({10, 20}).find("exceeds --max-connections") != std::string::npos);
  CHECK(check_connection_limits_config({0, 100'000'000}).find("--max-connections-per-ip must be at most") !=
        std::string::npos);
}
