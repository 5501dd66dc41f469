#pragma once
// Exponential back-off for retries of a transient error: the first retry
// waits `initial`, each further one twice as long up to `max`; a success
// resets it. No CAF here: the consumer actor asks it for delays.

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace herald::client {

class backoff {
public:
  using duration = std::chrono::milliseconds;

  explicit backoff(duration initial = duration{50}, duration max = duration{2000})
    : initial_(initial), max_(std::max(initial, max)), next_(initial) {}

  // The delay before the next retry; doubles the one after it.
  duration next() {
    const auto d = next_;
    next_ = std::min(next_ * 2, max_);
    ++failures_;
    return d;
  }

  void reset() {
    next_ = initial_;
    failures_ = 0;
  }

  // Retries asked for since the last reset.
  std::uint32_t failures() const { return failures_; }

private:
  duration initial_;
  duration max_;
  duration next_;
  std::uint32_t failures_ = 0;
};

} // namespace herald::client
