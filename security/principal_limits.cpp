#include "security/principal_limits.hpp"

#include <limits>

namespace herald::security {

namespace {

constexpr auto saturated = std::numeric_limits<std::uint64_t>::max();

std::uint64_t add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t out = 0;
  return __builtin_add_overflow(a, b, &out) ? saturated : out;
}

std::uint64_t mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t out = 0;
  return __builtin_mul_overflow(a, b, &out) ? saturated : out;
}

std::string bytes_text(std::uint64_t n) {
  return n == saturated ? std::string{"more than 2^64-1 bytes"} : std::to_string(n) + " bytes";
}

std::string names(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& n : list)
    out += (out.empty() ? "" : ", ") + n;
  return out;
}

} // namespace

std::uint64_t reservation(std::uint64_t partitions, std::uint64_t replication_factor, std::int64_t retention_bytes) {
  if (retention_bytes < 0)
    return saturated;
  return mul(mul(partitions, replication_factor), static_cast<std::uint64_t>(retention_bytes));
}

owned_usage usage_of(std::string_view principal, const std::vector<const cluster::topic_descriptor*>& topics,
                     std::string_view except) {
  owned_usage u;
  for (const auto* t : topics) {
    if (t == nullptr || t->owner.empty() || t->owner != principal || t->name == except)
      continue;
    u.partitions = add(u.partitions, t->partition_count);
    if (t->config.retention_bytes < 0)
      u.unbounded.push_back(t->name);
    else
      u.reserved_bytes = add(u.reserved_bytes, reservation(t->partition_count, t->replication_factor,
                                                            t->config.retention_bytes));
  }
  return u;
}

principal_limits::principal_limits(quota_config quotas, std::set<std::string> super_users)
  : quotas_(std::move(quotas)), super_users_(super_users.begin(), super_users.end()),
    enabled_(quotas_.any_ownership()) {}

quota_limits principal_limits::limits_for(std::string_view principal) const {
  if (super_users_.count(principal) != 0)
    return {};
  const auto it = quotas_.overrides.find(principal);
  return it == quotas_.overrides.end() ? quotas_.defaults : it->second;
}

std::string principal_limits::check(std::string_view principal, const cluster::topic_descriptor& topic,
                                    std::uint64_t partitions, const owned_usage& owned,
                                    const std::string& request) const {
  const auto limits = limits_for(principal);
  const std::string who{principal};
  if (limits.partitions != 0) {
    const auto after = add(owned.partitions, partitions);
    if (after > limits.partitions)
      return who + " owns " + std::to_string(owned.partitions) + " partition(s), its limit is " +
             std::to_string(limits.partitions) + "; " + request + " " + std::to_string(partitions) +
             " more would exceed it (" + std::to_string(after) + ")";
  }
  if (limits.disk_bytes != 0) {
    if (topic.config.retention_bytes < 0)
      return who + " has a disk limit of " + std::to_string(limits.disk_bytes) + " bytes, so its topics must set " +
             "retention.bytes (the reservation is partitions x replication factor x retention.bytes); topic " +
             topic.name + " has none";
    if (!owned.unbounded.empty())
      return who + " has a disk limit of " + std::to_string(limits.disk_bytes) + " bytes but owns topic(s) " +
             "without retention.bytes (" + names(owned.unbounded) + "), whose use is unbounded; delete them " +
             "before " + request + " more";
    const auto more = reservation(partitions, topic.replication_factor, topic.config.retention_bytes);
    const auto after = add(owned.reserved_bytes, more);
    if (after > limits.disk_bytes)
      return who + "'s topics reserve " + bytes_text(owned.reserved_bytes) +
             " (partitions x replication factor x retention.bytes), its disk limit is " +
             std::to_string(limits.disk_bytes) + " bytes; " + request + " " + std::to_string(partitions) +
             " partition(s) x " + std::to_string(topic.replication_factor) + " x " +
             std::to_string(topic.config.retention_bytes) + " = " + bytes_text(more) + " more would exceed it";
  }
  return {};
}

std::string principal_limits::check_create(std::string_view principal, const cluster::topic_descriptor& topic,
                                           const owned_usage& owned) const {
  if (!enabled_)
    return {};
  return check(principal, topic, topic.partition_count, owned, "creating topic " + topic.name + " with");
}

std::string principal_limits::check_grow(std::string_view requester, const cluster::topic_descriptor& topic,
                                         std::uint32_t partitions, const owned_usage& owner_owned) const {
  if (!enabled_ || topic.owner.empty() || super_users_.count(requester) != 0)
    return {};
  // The owner keeps what the topic holds now and is charged for all of it:
  // growing from 2 to 5 adds 3 partitions to the 2 counted as owned.
  owned_usage owned = owner_owned;
  owned.partitions = add(owned.partitions, topic.partition_count);
  if (topic.config.retention_bytes >= 0)
    owned.reserved_bytes = add(owned.reserved_bytes, reservation(topic.partition_count, topic.replication_factor,
                                                                 topic.config.retention_bytes));
  if (partitions <= topic.partition_count)
    return {};
  const auto more = partitions - topic.partition_count;
  return check(topic.owner, topic, more, owned,
               "growing topic " + topic.name + " from " + std::to_string(topic.partition_count) + " to " +
                 std::to_string(partitions) + " partitions adds");
}

} // namespace herald::security
