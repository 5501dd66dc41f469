// The node's restart decisions without CAF (issue 8 items 4 and 9).

#include <doctest/doctest.h>

#include <vector>

#include "actors/restart_policy.hpp"

using namespace herald::actors;
using namespace std::chrono_literals;
using action = restart_policy::action;

namespace {

restart_policy make(unsigned fast = 2) {
  restart_policy::config c;
  c.fast_restarts = fast;
  c.window = 60s;
  c.initial_backoff = 1s;
  c.max_backoff = 60s;
  return restart_policy{c};
}

const restart_policy::key t0{"t", 0};

} // namespace

TEST_CASE("restart policy: crashes restart at once, then back off from 1 s doubling to 60 s") {
  auto p = make(2);
  auto now = restart_policy::clock::time_point{} + 1h;
  auto inc = p.started(t0, now);
  for (int i = 0; i < 2; ++i) {
    auto d = p.on_down(t0, inc, now);
    CHECK(d.what == action::restart_now);
    inc = p.started(t0, now);
  }
  std::vector<long> delays;
  for (int i = 0; i < 9; ++i) {
    now += 10ms;
    auto d = p.on_down(t0, inc, now);
    REQUIRE(d.what == action::restart_later);
    CHECK(p.offline(t0));
    delays.push_back(static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(d.delay).count()));
    CHECK(p.retry_due(t0, inc));
    inc = p.started(t0, now);  // the retry starts it; it fails again at once
    CHECK(!p.offline(t0));
  }
  CHECK(delays == std::vector<long>{1, 2, 4, 8, 16, 32, 60, 60, 60});
}

TEST_CASE("restart policy: a replica that ran for a window starts over with fast restarts") {
  auto p = make(1);
  auto now = restart_policy::clock::time_point{} + 1h;
  auto inc = p.started(t0, now);
  CHECK(p.on_down(t0, inc, now).what == action::restart_now);
  inc = p.started(t0, now);
  CHECK(p.on_down(t0, inc, now).what == action::restart_later);
  inc = p.started(t0, now);
  now += 61s;
  CHECK(p.on_down(t0, inc, now).what == action::restart_now);
}

TEST_CASE("restart policy: an admin restart resets the back-off and voids the pending retry") {
  auto p = make(0);
  auto now = restart_policy::clock::time_point{} + 1h;
  auto inc = p.started(t0, now);
  CHECK(p.on_down(t0, inc, now).delay == 1s);
  inc = p.started(t0, now);
  CHECK(p.on_down(t0, inc, now).delay == 2s);
  CHECK(p.offline(t0));
  p.reset_backoff(t0);
  auto admin = p.started(t0, now);
  CHECK(!p.retry_due(t0, inc));  // the timer set for `inc` finds it running again
  CHECK(p.on_down(t0, admin, now).delay == 1s);
}

TEST_CASE("restart policy: a down from a replaced or deleted actor changes nothing (item 9)") {
  auto p = make(5);
  auto now = restart_policy::clock::time_point{} + 1h;
  auto old_incarnation = p.started(t0, now);
  SUBCASE("replaced") {
    auto current = p.started(t0, now);
    CHECK(p.on_down(t0, old_incarnation, now).what == action::ignore);
    CHECK(!p.offline(t0));
    CHECK(p.incarnation(t0) == current);
  }
  SUBCASE("deleted, then re-created under the same name before the old down arrives") {
    p.forget(t0);  // delete: a deliberate stop
    auto recreated = p.started(t0, now);
    CHECK(recreated != old_incarnation);
    CHECK(p.on_down(t0, old_incarnation, now).what == action::ignore);
    CHECK(!p.offline(t0));
    CHECK(p.on_down(t0, recreated, now).what == action::restart_now);  // its own crash still counts
  }
  SUBCASE("deleted for good") {
    p.forget(t0);
    CHECK(p.on_down(t0, old_incarnation, now).what == action::ignore);
    CHECK(!p.retry_due(t0, old_incarnation));
  }
  SUBCASE("a second down of the same actor is ignored") {
    CHECK(p.on_down(t0, old_incarnation, now).what == action::restart_now);
    CHECK(p.on_down(t0, old_incarnation, now).what == action::ignore);
  }
}
