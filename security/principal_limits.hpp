#pragma once
// Partition and disk limits per principal (issue 11 item 5; docs/security.md
// "Quotas"). A topic is charged to its owner, the principal that created it
// (cluster::topic_descriptor::owner); a topic without owner is charged to
// nobody. Checked when a topic is created or grown, against every topic the
// deciding broker knows:
//   partitions  the sum of the partition counts of the topics it owns;
//   disk        the sum of their reservations, partitions x replication
//               factor x retention.bytes: what retention lets them hold on
//               all brokers together. A principal with a disk limit must set
//               retention.bytes on its topics (else their use is unbounded).
//               Retention deletes whole segments and keeps the active one, so
//               real usage may pass the reservation by up to one segment
//               (segment.bytes) per partition replica.
// Super-users (--super-users) have no limits; ANONYMOUS (no authentication)
// is a principal like any other and gets the defaults.
//
// CAF-free and I/O-free; products and sums saturate (absurd sizes compare as
// "too much", never wrap to small).

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/topic.hpp"
#include "security/quota.hpp"

namespace herald::security {

// What a principal's topics hold now.
struct owned_usage {
  std::uint64_t partitions = 0;
  std::uint64_t reserved_bytes = 0;         // saturates at UINT64_MAX
  std::vector<std::string> unbounded;       // owned topics without retention.bytes, by name
};

// partitions x replication_factor x retention_bytes, saturated; UINT64_MAX
// when retention_bytes < 0 (unbounded).
std::uint64_t reservation(std::uint64_t partitions, std::uint64_t replication_factor, std::int64_t retention_bytes);

// What `principal` owns among `topics`, leaving out the one named `except`
// (a topic being grown is charged at its new size instead).
owned_usage usage_of(std::string_view principal, const std::vector<const cluster::topic_descriptor*>& topics,
                     std::string_view except = {});

class principal_limits {
public:
  principal_limits() = default;
  // The ownership fields of `quotas` (defaults and overrides, as --quota
  // gives them); `super_users` are exempt.
  principal_limits(quota_config quotas, std::set<std::string> super_users);

  // The principal's partition and disk limits (0 = none); none for super-users.
  quota_limits limits_for(std::string_view principal) const;
  // False when nobody has a partition or disk limit: callers may skip the usage.
  bool enabled() const { return enabled_; }

  // Empty when `principal` may create `topic` (its owner), owning `owned`
  // now; otherwise the refusal (ErrorCode quotaExceeded), naming principal,
  // limit, current use and the request.
  std::string check_create(std::string_view principal, const cluster::topic_descriptor& topic,
                           const owned_usage& owned) const;

  // Empty when `requester` may grow `topic` to `partitions` partitions; the
  // topic's owner is charged (`owner_owned`: its usage without this topic).
  // Nobody is charged for a topic without owner, and a super-user's request
  // is not limited (an operator may take an owner past its limit).
  std::string check_grow(std::string_view requester, const cluster::topic_descriptor& topic,
                         std::uint32_t partitions, const owned_usage& owner_owned) const;

private:
  std::string check(std::string_view principal, const cluster::topic_descriptor& topic, std::uint64_t partitions,
                    const owned_usage& owned, const std::string& request) const;

  quota_config quotas_;
  std::set<std::string, std::less<>> super_users_;
  bool enabled_ = false;
};

} // namespace herald::security
