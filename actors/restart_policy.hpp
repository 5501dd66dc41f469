#pragma once
// The node's decisions about its partition replicas' actors, without CAF:
// which actor is the current one in each slot (its incarnation), what a
// stop means, and when an offline replica is tried again.
//
//  - Every actor started in a slot gets a fresh incarnation, never reused,
//    so a down message from an older actor (one stopped by a topic delete
//    whose topic was re-created since, or one already replaced) is told
//    apart from the current one's and ignored.
//  - Deliberate stops (topic delete, shutdown) forget() the slot first: the
//    down that follows is not a crash.
//  - A crash is restarted at once up to `fast_restarts` times within
//    `window`; beyond that the replica stays offline and is retried after a
//    back-off that doubles from `initial_backoff` to `max_backoff`, so a
//    replica that failed on a full disk comes back once space is freed. An
//    admin restart (restartPartition) starts it now and resets the back-off;
//    so does a run that lasted `window` without crashing.
//
// Not thread-safe: owned by the node actor.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>

namespace herald::actors {

class restart_policy {
public:
  using clock = std::chrono::steady_clock;
  using key = std::pair<std::string, std::uint32_t>;  // topic, partition

  struct config {
    unsigned fast_restarts = 5;
    std::chrono::milliseconds window{60'000};
    std::chrono::milliseconds initial_backoff{1'000};
    std::chrono::milliseconds max_backoff{60'000};
  };

  enum class action {
    ignore,         // not the current actor, or a deliberate stop: nothing to do
    restart_now,
    restart_later,  // offline; call retry_due() after `delay`
  };
  struct decision {
    action what = action::ignore;
    std::chrono::milliseconds delay{0};
    unsigned recent_failures = 0;  // crashes within the window, this one included
  };

  restart_policy() = default;
  explicit restart_policy(config c) : config_(c) {}

  // A new actor now serves `k`; returns its incarnation.
  std::uint64_t started(const key& k, clock::time_point now);
  // The actor of incarnation `incarnation` in `k` stopped without being asked to.
  decision on_down(const key& k, std::uint64_t incarnation, clock::time_point now);
  // A back-off timer set for the offline `incarnation` fired: true when `k`
  // is still offline since that actor (no admin restart or delete came first).
  bool retry_due(const key& k, std::uint64_t incarnation) const;
  // True when `k` is known and offline (an admin restart may start it).
  bool offline(const key& k) const;
  // An admin asked for `k` to be restarted now: forget its failures.
  void reset_backoff(const key& k);
  // A deliberate stop: downs of `k`'s actors are ignored from now on.
  void forget(const key& k);
  // The current incarnation of `k` (0: none).
  std::uint64_t incarnation(const key& k) const;

private:
  struct slot {
    std::uint64_t incarnation = 0;
    bool running = false;
    clock::time_point started_at{};
    std::deque<clock::time_point> recent;  // crash times within the window
    unsigned backoff_level = 0;
  };
  config config_;
  std::uint64_t next_incarnation_ = 1;
  std::map<key, slot> slots_;
};

} // namespace herald::actors
