#pragma once
// The simulation's randomness and knobs: a seeded PRNG, the per-seed
// parameters drawn from it, and the state-machine digest helpers. Split from
// sim.cpp; a seed must keep producing exactly the same run, so nothing here
// may change what it draws or in which order.

#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "raft/node.hpp"

namespace herald::raft::sim {

class prng {
public:
  explicit prng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  std::uint64_t range(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }
  bool ppm(std::uint64_t parts_per_million) { return below(1000000) < parts_per_million; }
  bool one_in(std::uint64_t n) { return below(n) == 0; }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

private:
  std::uint64_t s_;
};

std::uint64_t mix(std::uint64_t a, std::uint64_t b);
std::uint64_t hash_entry(const entry& e);
// The replicated state machine: a digest folded over the applied entries.
std::uint64_t fold(std::uint64_t digest, index_t index, std::uint64_t entry_hash);
// Snapshot data: applied index and digest, padded so chunking matters.
bytes encode_state(index_t index, std::uint64_t digest, std::size_t pad);
std::pair<index_t, std::uint64_t> decode_state(const bytes& data);

struct params {
  int voters = 3;
  int spares = 0;
  std::uint64_t drop_ppm = 0;
  std::uint64_t dup_ppm = 0;
  std::uint64_t max_delay = 1;       // units
  std::uint64_t max_persist = 0;     // units an fsync takes at most
  std::uint64_t crash_ppm = 0;       // per tick
  std::uint64_t leader_crash_ppm = 0;  // per tick, aimed at the current leader
  std::uint64_t partition_ppm = 0;   // per tick
  std::uint64_t heal_ppm = 0;        // per tick
  std::uint64_t propose_ppm = 0;     // per unit
  std::uint64_t transfer_ppm = 0;    // per tick
  std::uint64_t member_ppm = 0;      // per tick
  std::uint64_t compact_every = 0;   // entries between snapshots; 0 = never
  std::uint64_t compact_trail = 0;   // entries kept behind the snapshot for followers catching up
  std::size_t snapshot_pad = 0;
  // Widened runs only (0 / false otherwise).
  bool widened = false;
  std::uint64_t oneway_ppm = 0;       // per tick: cut one direction of one link
  std::uint64_t max_drift_units = 0;  // a node's tick lasts units_per_tick +- this
  options node_opts;

  std::string describe() const {
    std::ostringstream s;
    s << "voters=" << voters << " spares=" << spares << " drop=" << drop_ppm / 10000.0 << "% dup="
      << dup_ppm / 10000.0 << "% delay<=" << max_delay << "u fsync<=" << max_persist << "u crash=" << crash_ppm << "ppm/tick leader_crash=" << leader_crash_ppm
      << "ppm/tick partition=" << partition_ppm << "ppm/tick compact_every=" << compact_every
      << " trail=" << compact_trail
      << " hb=" << node_opts.heartbeat_ticks << " pre_vote=" << node_opts.pre_vote
      << " max_append=" << node_opts.max_append_entries << "e/" << node_opts.max_append_bytes
      << "B window=" << node_opts.max_inflight_msgs << "m/" << node_opts.max_inflight_bytes
      << "B chunk=" << node_opts.snapshot_chunk_bytes << "B";
    if (widened)
      s << " widened: oneway=" << oneway_ppm << "ppm/tick drift<=" << max_drift_units
        << "u check_quorum=" << node_opts.check_quorum;
    return s.str();
  }
};

params draw_params(prng& r);
// draw_params, then the widened knobs drawn after it.
params draw_widened_params(prng& r);

}  // namespace herald::raft::sim
