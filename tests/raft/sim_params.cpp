#include "tests/raft/sim_params.hpp"

namespace herald::raft::sim {

std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  prng p(a * 0x100000001b3ull ^ b);
  return p.next();
}

std::uint64_t hash_entry(const entry& e) {
  std::uint64_t h = 0xcbf29ce484222325ull ^ static_cast<std::uint64_t>(e.kind);
  if (e.data)
    for (char c : *e.data) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

std::uint64_t fold(std::uint64_t digest, index_t index, std::uint64_t entry_hash) {
  return mix(digest ^ index, entry_hash);
}

bytes encode_state(index_t index, std::uint64_t digest, std::size_t pad) {
  bytes out(16 + pad, '\0');
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>((index >> (8 * i)) & 0xff);
    out[8 + i] = static_cast<char>((digest >> (8 * i)) & 0xff);
  }
  for (std::size_t i = 0; i < pad; ++i) out[16 + i] = static_cast<char>('a' + (digest + i) % 26);
  return out;
}

std::pair<index_t, std::uint64_t> decode_state(const bytes& data) {
  if (data.size() < 16) return {0, 0};
  std::uint64_t index = 0, digest = 0;
  for (int i = 0; i < 8; ++i) {
    index |= static_cast<std::uint64_t>(static_cast<unsigned char>(data[i])) << (8 * i);
    digest |= static_cast<std::uint64_t>(static_cast<unsigned char>(data[8 + i])) << (8 * i);
  }
  return {index, digest};
}

params draw_params(prng& r) {
  params p;
  p.voters = std::vector<int>{1, 3, 3, 3, 5, 5}[r.below(6)];
  p.spares = static_cast<int>(r.below(3));
  p.drop_ppm = std::vector<std::uint64_t>{0, 10000, 50000, 150000}[r.below(4)];
  p.dup_ppm = std::vector<std::uint64_t>{0, 10000, 50000}[r.below(3)];
  p.max_delay = std::vector<std::uint64_t>{1, 5, 15, 30, 60}[r.below(5)];
  p.max_persist = std::vector<std::uint64_t>{0, 3, 10, 30}[r.below(4)];
  p.crash_ppm = std::vector<std::uint64_t>{0, 2000, 6000, 15000}[r.below(4)];
  p.leader_crash_ppm = std::vector<std::uint64_t>{0, 0, 5000, 20000}[r.below(4)];
  p.partition_ppm = std::vector<std::uint64_t>{0, 3000, 10000}[r.below(3)];
  p.heal_ppm = 30000;
  p.propose_ppm = std::vector<std::uint64_t>{20000, 60000, 150000}[r.below(3)];
  p.transfer_ppm = std::vector<std::uint64_t>{0, 3000, 10000}[r.below(3)];
  p.member_ppm = std::vector<std::uint64_t>{0, 5000, 15000}[r.below(3)];
  p.compact_every = std::vector<std::uint64_t>{0, 5, 20, 60}[r.below(4)];
  p.compact_trail = std::vector<std::uint64_t>{0, 10, 50}[r.below(3)];
  p.snapshot_pad = r.below(200);
  options& o = p.node_opts;
  o.heartbeat_ticks = static_cast<std::uint32_t>(r.range(1, 3));
  o.election_ticks = 10;
  o.pre_vote = r.below(10) != 0;
  o.check_quorum = true;
  o.max_append_entries = std::vector<std::size_t>{1, 2, 4, 64}[r.below(4)];
  o.max_append_bytes = std::vector<std::uint64_t>{1, 100, 400, 1 << 20}[r.below(4)];
  o.max_inflight_msgs = std::vector<std::size_t>{1, 2, 4, 16}[r.below(4)];
  o.max_inflight_bytes = std::vector<std::uint64_t>{1, 300, 2000, 1 << 20}[r.below(4)];
  o.snapshot_chunk_bytes = std::vector<std::uint64_t>{7, 32, 4096}[r.below(3)];
  o.stall_rounds = 3;
  o.max_uncommitted_bytes = std::vector<std::uint64_t>{200, 2000, 1 << 20}[r.below(3)];
  return p;
}

params draw_widened_params(prng& r) {
  params p = draw_params(r);
  p.widened = true;
  p.voters = std::vector<int>{1, 3, 5, 7, 7}[r.below(5)];
  p.spares = static_cast<int>(r.below(2));
  // Up to 40 ticks: longer than any election timeout (10-20 ticks).
  p.max_delay = std::vector<std::uint64_t>{1, 15, 60, 250, 400}[r.below(5)];
  p.oneway_ppm = std::vector<std::uint64_t>{0, 5000, 20000}[r.below(3)];
  p.max_drift_units = r.below(4);  // up to 30% of a tick
  p.node_opts.check_quorum = r.below(2) != 0;
  return p;
}

}  // namespace herald::raft::sim
