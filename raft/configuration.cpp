#include "raft/configuration.hpp"

#include <algorithm>

namespace herald::raft {

namespace {

bool sorted_contains(const std::vector<node_id>& v, node_id id) {
  return std::binary_search(v.begin(), v.end(), id);
}

void insert_sorted(std::vector<node_id>& v, node_id id) {
  v.insert(std::lower_bound(v.begin(), v.end(), id), id);
}

void erase_sorted(std::vector<node_id>& v, node_id id) {
  v.erase(std::lower_bound(v.begin(), v.end(), id));
}

void put_u32(bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_u64(bytes& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

struct reader {
  const bytes& in;
  std::size_t pos = 0;
  bool get(std::uint64_t& v, int width) {
    if (in.size() - pos < static_cast<std::size_t>(width)) return false;
    v = 0;
    for (int i = 0; i < width; ++i)
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[pos + i])) << (8 * i);
    pos += width;
    return true;
  }
  bool get_list(std::vector<node_id>& out) {
    std::uint64_t n = 0;
    if (!get(n, 4) || n > (in.size() - pos) / 8) return false;
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t id = 0;
      get(id, 8);
      if (id == no_node || (!out.empty() && id <= out.back())) return false;
      out.push_back(id);
    }
    return true;
  }
};

}  // namespace

bool configuration::is_voter(node_id id) const { return sorted_contains(voters, id); }
bool configuration::is_learner(node_id id) const { return sorted_contains(learners, id); }

std::optional<configuration> apply_change(const configuration& from, const membership_change& change,
                                          std::string* why) {
  auto fail = [&](const char* reason) -> std::optional<configuration> {
    if (why) *why = reason;
    return std::nullopt;
  };
  const node_id id = change.node;
  if (id == no_node) return fail("node id 0 is reserved");
  configuration to = from;
  switch (change.kind) {
    case change_kind::add_learner:
      if (from.contains(id)) return fail("node is already a member");
      insert_sorted(to.learners, id);
      break;
    case change_kind::add_voter:
      if (from.contains(id)) return fail("node is already a member");
      insert_sorted(to.voters, id);
      break;
    case change_kind::promote:
      if (!from.is_learner(id)) return fail("only a learner can be promoted");
      erase_sorted(to.learners, id);
      insert_sorted(to.voters, id);
      break;
    case change_kind::demote:
      if (!from.is_voter(id)) return fail("only a voter can be demoted");
      if (from.voters.size() == 1) return fail("cannot demote the last voter");
      erase_sorted(to.voters, id);
      insert_sorted(to.learners, id);
      break;
    case change_kind::remove:
      if (from.is_voter(id)) {
        if (from.voters.size() == 1) return fail("cannot remove the last voter");
        erase_sorted(to.voters, id);
      } else if (from.is_learner(id)) {
        erase_sorted(to.learners, id);
      } else {
        return fail("node is not a member");
      }
      break;
    default:
      return fail("unknown change kind");
  }
  return to;
}

bytes encode_configuration(const configuration& config) {
  bytes out;
  out.reserve(8 + 8 * (config.voters.size() + config.learners.size()));
  put_u32(out, static_cast<std::uint32_t>(config.voters.size()));
  for (node_id id : config.voters) put_u64(out, id);
  put_u32(out, static_cast<std::uint32_t>(config.learners.size()));
  for (node_id id : config.learners) put_u64(out, id);
  return out;
}

std::optional<configuration> decode_configuration(const bytes& data) {
  reader r{data};
  configuration c;
  if (!r.get_list(c.voters) || !r.get_list(c.learners) || r.pos != data.size()) return std::nullopt;
  for (node_id id : c.learners)
    if (c.is_voter(id)) return std::nullopt;
  return c;
}

entry bootstrap_entry(const configuration& initial) {
  return entry{1, 1, entry_kind::configuration, std::make_shared<const bytes>(encode_configuration(initial))};
}

std::string to_string(const configuration& config) {
  std::string s = "{voters";
  for (node_id id : config.voters) s += " " + std::to_string(id);
  if (!config.learners.empty()) {
    s += "; learners";
    for (node_id id : config.learners) s += " " + std::to_string(id);
  }
  return s + "}";
}

}  // namespace herald::raft
