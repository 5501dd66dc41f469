// Consistent hashing with virtual nodes and bounded loads; the algorithm and
// its guarantees are described in placement.hpp.

#include "cluster/placement.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include <xxhash.h>

namespace herald::cluster::placement {
namespace {

// Byte strings are built explicitly (little-endian) so that hashes do not
// depend on the host's byte order or struct padding.
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t hash_bytes(const std::string& s) {
  return XXH64(s.data(), s.size(), 0);
}

std::uint64_t partition_key(const topic_ref& topic, std::uint32_t partition) {
  std::string buf = "p";
  put_u64(buf, topic.id);
  put_u32(buf, static_cast<std::uint32_t>(topic.name.size()));
  buf += topic.name;
  put_u32(buf, partition);
  return hash_bytes(buf);
}

std::string validate(const std::vector<broker>& brokers, std::uint32_t r) {
  if (brokers.empty())
    return "no brokers to place replicas on";
  if (r == 0)
    return "replication factor must be at least 1";
  if (r > brokers.size())
    return "replication factor " + std::to_string(r) + " is above the broker count " +
           std::to_string(brokers.size()) + " (replicas must be on distinct brokers)";
  std::set<std::int32_t> ids;
  for (const auto& b : brokers) {
    if (!ids.insert(b.id).second)
      return "broker id " + std::to_string(b.id) + " appears twice";
    if (!(b.weight > 0) || !std::isfinite(b.weight))
      return "broker " + std::to_string(b.id) + " has weight " + std::to_string(b.weight) + ", must be > 0";
  }
  return {};
}

struct ring_point {
  std::uint64_t hash;
  std::int32_t broker;
  std::uint32_t vnode;
  bool operator<(const ring_point& o) const {
    if (hash != o.hash)
      return hash < o.hash;
    if (broker != o.broker)
      return broker < o.broker;
    return vnode < o.vnode;
  }
};

class ring {
public:
  ring(const std::vector<broker>& brokers, const options& opt) : broker_count_(brokers.size()) {
    for (const auto& b : brokers) {
      auto n = static_cast<std::uint32_t>(std::max(1.0, std::round(opt.vnodes_per_weight * b.weight)));
      for (std::uint32_t v = 0; v < n; ++v) {
        std::string buf = "b";
        put_u32(buf, static_cast<std::uint32_t>(b.id));
        put_u32(buf, v);
        points_.push_back({hash_bytes(buf), b.id, v});
      }
    }
    std::sort(points_.begin(), points_.end());
  }

  // Every broker once, in ring order clockwise from `key`.
  std::vector<std::int32_t> walk(std::uint64_t key) const {
    std::vector<std::int32_t> out;
    out.reserve(broker_count_);
    auto start = std::lower_bound(points_.begin(), points_.end(), ring_point{key, std::numeric_limits<std::int32_t>::min(), 0});
    auto i = static_cast<std::size_t>(start - points_.begin());
    for (std::size_t step = 0; step < points_.size() && out.size() < broker_count_; ++step) {
      auto id = points_[(i + step) % points_.size()].broker;
      if (std::find(out.begin(), out.end(), id) == out.end())
        out.push_back(id);
    }
    return out;
  }

private:
  std::size_t broker_count_;
  std::vector<ring_point> points_;
};

// Loads, capacities and the rack rule for one placement; brokers by index.
class planner {
public:
  planner(const std::vector<broker>& brokers, const topic_ref& topic, std::size_t partitions, std::uint32_t r,
          const options& opt)
    : brokers_(brokers), topic_(topic), r_(r), ring_(brokers, opt) {
    double total_weight = 0;
    std::set<std::string> racks;
    for (std::size_t i = 0; i < brokers.size(); ++i) {
      index_[brokers[i].id] = i;
      total_weight += brokers[i].weight;
      // A broker without a rack is a rack of its own (the NUL cannot be in a configured rack name).
      rack_.push_back(brokers[i].rack.empty() ? std::string("\0", 1) + std::to_string(brokers[i].id) : brokers[i].rack);
      racks.insert(rack_.back());
    }
    per_rack_limit_ = racks.size() >= r ? 1 : static_cast<std::uint32_t>((r + racks.size() - 1) / racks.size());
    const double total = static_cast<double>(partitions) * r;
    for (const auto& b : brokers) {
      share_.push_back(total * b.weight / total_weight);
      leader_share_.push_back(static_cast<double>(partitions) * b.weight / total_weight);
      constexpr auto unbounded = std::numeric_limits<std::uint32_t>::max();
      cap_tight_.push_back(opt.bounded_loads ? static_cast<std::uint32_t>(std::ceil(share_.back() - 1e-9)) : unbounded);
      cap_loose_.push_back(opt.bounded_loads ? static_cast<std::uint32_t>(std::ceil(share_.back() * opt.overload_factor - 1e-9))
                                             : unbounded);
    }
    load_.assign(brokers.size(), 0);
    prefs_.resize(partitions);
  }

  bool present(std::int32_t id) const { return index_.count(id) != 0; }
  std::size_t idx(std::int32_t id) const { return index_.at(id); }

  // The preference list of a partition as broker indexes (computed once).
  const std::vector<std::size_t>& pref(std::size_t p) {
    auto& v = prefs_[p];
    if (v.empty())
      for (auto id : ring_.walk(partition_key(topic_, static_cast<std::uint32_t>(p))))
        v.push_back(idx(id));
    return v;
  }

  std::size_t rank(std::size_t p, std::size_t b) {
    const auto& v = pref(p);
    return static_cast<std::size_t>(std::find(v.begin(), v.end(), b) - v.begin());
  }

  // How far `set` exceeds the rack rule (0 when it keeps it).
  std::uint32_t rack_excess(const std::vector<std::size_t>& set) const {
    std::map<std::string, std::uint32_t> count;
    std::uint32_t excess = 0;
    for (auto b : set)
      if (++count[rack_[b]] > per_rack_limit_)
        ++excess;
    return excess;
  }

  bool rack_allows(const std::vector<std::size_t>& set, std::size_t b) const {
    std::uint32_t same = 0;
    for (auto s : set)
      same += rack_[s] == rack_[b] ? 1 : 0;
    return same + 1 <= per_rack_limit_;
  }

  // Fills `set` up to R from the partition's preference list, relaxing the
  // capacity (tight, loose, none) before the rack rule.
  void fill(std::size_t p, std::vector<std::size_t>& set) {
    for (int pass = 0; pass < 4 && set.size() < r_; ++pass) {
      for (auto b : pref(p)) {
        if (set.size() >= r_)
          break;
        if (std::find(set.begin(), set.end(), b) != set.end())
          continue;
        if (pass == 0 && load_[b] >= cap_tight_[b])
          continue;
        if (pass == 1 && load_[b] >= cap_loose_[b])
          continue;
        if (pass < 3 && !rack_allows(set, b))
          continue;
        set.push_back(b);
        ++load_[b];
      }
    }
  }

  void count(const std::vector<std::vector<std::size_t>>& sets) {
    for (const auto& s : sets)
      for (auto b : s)
        ++load_[b];
  }

  // A broker that held none of the topic's replicas (a new one) takes one
  // replica from each partition that ranks it highest, from the replica
  // furthest above its own share, until it holds floor(share). Brokers that
  // already held replicas are not levelled: that would move replicas between
  // brokers that stay, which a removal must not do.
  void pull(std::vector<std::vector<std::size_t>>& sets, const std::vector<bool>& is_new) {
    for (std::size_t b = 0; b < brokers_.size(); ++b) {
      const auto want = static_cast<std::uint32_t>(std::floor(share_[b] + 1e-9));
      if (!is_new[b])
        continue;
      std::vector<std::pair<std::size_t, std::size_t>> candidates; // (rank of b, partition)
      for (std::size_t p = 0; p < sets.size(); ++p)
        if (std::find(sets[p].begin(), sets[p].end(), b) == sets[p].end())
          candidates.emplace_back(rank(p, b), p);
      std::sort(candidates.begin(), candidates.end());
      for (const auto& [unused, p] : candidates) {
        (void)unused;
        if (load_[b] >= want)
          break;
        auto& set = sets[p];
        const auto before = rack_excess(set);
        std::size_t best = set.size();
        double best_over = 0;
        for (std::size_t k = 0; k < set.size(); ++k) {
          const auto d = set[k];
          const double over = load_[d] - share_[d];
          if (over <= 0)
            continue;
          auto trial = set;
          trial[k] = b;
          if (rack_excess(trial) > before)
            continue;
          // Ties go to the replica later in the preference list (the ring wants it least).
          if (best == set.size() || over > best_over || (over == best_over && rank(p, d) > rank(p, set[best]))) {
            best = k;
            best_over = over;
          }
        }
        if (best == set.size())
          continue;
        --load_[set[best]];
        set[best] = b;
        ++load_[b];
      }
    }
  }

  // Orders each set: preferred leader first, the rest in preference order.
  // `current_leader[p]` (an index, or npos) is kept while under its share.
  assignment order(std::vector<std::vector<std::size_t>>& sets, const std::vector<std::size_t>& current_leader) {
    constexpr auto npos = static_cast<std::size_t>(-1);
    std::vector<std::uint32_t> leads(brokers_.size(), 0);
    std::vector<std::size_t> leader(sets.size(), npos);
    // Current leaders are kept up to each broker's share. Partitions that hold
    // a broker leading nothing yet (a new one) are considered last: those are
    // the ones whose leadership it should take, so giving it them costs no
    // second change elsewhere.
    std::vector<bool> leads_nothing(brokers_.size(), true);
    for (auto c : current_leader)
      if (c != npos)
        leads_nothing[c] = false;
    std::vector<std::size_t> keep_order;
    for (int late = 0; late < 2; ++late)
      for (std::size_t p = 0; p < sets.size(); ++p) {
        const bool has_new = std::any_of(sets[p].begin(), sets[p].end(), [&](std::size_t b) { return leads_nothing[b]; });
        if (has_new == (late == 1))
          keep_order.push_back(p);
      }
    for (auto p : keep_order) {
      const auto c = p < current_leader.size() ? current_leader[p] : npos;
      if (c != npos && std::find(sets[p].begin(), sets[p].end(), c) != sets[p].end() &&
          leads[c] + 1 <= std::ceil(leader_share_[c] - 1e-9)) {
        leader[p] = c;
        ++leads[c];
      }
    }
    for (std::size_t p = 0; p < sets.size(); ++p) {
      if (leader[p] != npos)
        continue;
      std::size_t best = npos;
      double best_ratio = 0;
      for (auto b : pref(p)) {
        if (std::find(sets[p].begin(), sets[p].end(), b) == sets[p].end())
          continue;
        const double ratio = leads[b] / leader_share_[b];
        if (best == npos || ratio < best_ratio) {
          best = b;
          best_ratio = ratio;
        }
      }
      leader[p] = best;
      ++leads[best];
    }
    // Greedy in index order leaves the last partitions little choice; move a
    // leadership to another replica of the same partition while that lowers
    // the busier of the two (the sum of squared ratios falls, so this ends).
    for (int round = 0; round < 64; ++round) {
      bool changed = false;
      for (std::size_t p = 0; p < sets.size(); ++p) {
        const auto l = leader[p];
        for (auto c : sets[p]) {
          if (c != l && (leads[c] + 1) / leader_share_[c] < leads[l] / leader_share_[l] - 1e-9) {
            --leads[l];
            ++leads[c];
            leader[p] = c;
            changed = true;
            break;
          }
        }
      }
      if (!changed)
        break;
    }
    assignment out(sets.size());
    for (std::size_t p = 0; p < sets.size(); ++p) {
      out[p].push_back(brokers_[leader[p]].id);
      for (auto b : pref(p))
        if (b != leader[p] && std::find(sets[p].begin(), sets[p].end(), b) != sets[p].end())
          out[p].push_back(brokers_[b].id);
    }
    return out;
  }

private:
  const std::vector<broker>& brokers_;
  const topic_ref& topic_;
  std::uint32_t r_;
  ring ring_;
  std::map<std::int32_t, std::size_t> index_;
  std::vector<std::string> rack_;
  std::uint32_t per_rack_limit_ = 1;
  std::vector<double> share_, leader_share_;
  std::vector<std::uint32_t> cap_tight_, cap_loose_, load_;
  std::vector<std::vector<std::size_t>> prefs_;
};

} // namespace

result place(const std::vector<broker>& brokers, const topic_ref& topic, std::uint32_t partitions, std::uint32_t r,
             const options& opt) {
  if (auto why = validate(brokers, r); !why.empty())
    return {{}, why};
  planner pl(brokers, topic, partitions, r, opt);
  std::vector<std::vector<std::size_t>> sets(partitions);
  for (std::size_t p = 0; p < partitions; ++p)
    pl.fill(p, sets[p]);
  return {pl.order(sets, {}), {}};
}

result rebalance(const std::vector<broker>& brokers, const topic_ref& topic, const assignment& current, std::uint32_t r,
                 const options& opt) {
  if (auto why = validate(brokers, r); !why.empty())
    return {{}, why};
  constexpr auto npos = static_cast<std::size_t>(-1);
  planner pl(brokers, topic, current.size(), r, opt);
  std::vector<std::vector<std::size_t>> sets(current.size());
  std::vector<std::size_t> leaders(current.size(), npos);
  for (std::size_t p = 0; p < current.size(); ++p) {
    for (auto id : current[p]) {
      if (!pl.present(id) || sets[p].size() >= r)
        continue;
      auto b = pl.idx(id);
      if (std::find(sets[p].begin(), sets[p].end(), b) == sets[p].end())
        sets[p].push_back(b);
    }
    if (!current[p].empty() && pl.present(current[p].front()))
      leaders[p] = pl.idx(current[p].front());
  }
  pl.count(sets);
  std::vector<bool> is_new(brokers.size(), true);
  for (const auto& set : sets)
    for (auto b : set)
      is_new[b] = false;
  for (std::size_t p = 0; p < sets.size(); ++p)
    pl.fill(p, sets[p]);
  pl.pull(sets, is_new);
  return {pl.order(sets, leaders), {}};
}

std::map<std::int32_t, std::size_t> replica_counts(const assignment& a) {
  std::map<std::int32_t, std::size_t> out;
  for (const auto& set : a)
    for (auto id : set)
      ++out[id];
  return out;
}

double max_over_mean(const assignment& a, std::size_t brokers) {
  std::size_t total = 0, max = 0;
  for (const auto& [id, c] : replica_counts(a)) {
    (void)id;
    total += c;
    max = std::max(max, c);
  }
  if (total == 0) return 1.0;
  return static_cast<double>(max) * static_cast<double>(brokers) / static_cast<double>(total);
}

std::size_t moved_replicas(const assignment& before, const assignment& after) {
  std::size_t moved = 0;
  for (std::size_t p = 0; p < after.size(); ++p)
    for (auto id : after[p])
      if (p >= before.size() || std::find(before[p].begin(), before[p].end(), id) == before[p].end())
        ++moved;
  return moved;
}

std::vector<std::int32_t> preference_list(const std::vector<broker>& brokers, const topic_ref& topic,
                                          std::uint32_t partition, const options& opt) {
  return ring(brokers, opt).walk(partition_key(topic, partition));
}

} // namespace herald::cluster::placement
