#pragma once
// The core's only source of randomness: a seeded SplitMix64. Seeded by the
// host, so a simulation replays exactly; our own generator rather than
// <random>'s distributions, whose output is not specified across libraries.

#include <cstdint>

namespace herald::raft {

class rng {
public:
  explicit rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n); n > 0. The modulo bias is irrelevant for timeouts.
  std::uint64_t below(std::uint64_t n) { return next() % n; }

private:
  std::uint64_t state_;
};

}  // namespace herald::raft
