// Partition and disk limits per principal (issue 11 item 5): what a create or
// a grow is refused for, and the --quota syntax that sets them.

#include <doctest/doctest.h>

#include <limits>

#include "security/principal_limits.hpp"

using namespace herald::security;
using herald::cluster::topic_descriptor;

namespace {

constexpr auto max64 = std::numeric_limits<std::uint64_t>::max();

topic_descriptor topic(std::string name, std::uint32_t partitions, std::string owner = {},
                       std::int64_t retention_bytes = -1, std::uint16_t rf = 1) {
  topic_descriptor d;
  d.name = std::move(name);
  d.partition_count = partitions;
  d.replication_factor = rf;
  d.config.retention_bytes = retention_bytes;
  d.owner = std::move(owner);
  return d;
}

principal_limits limits(quota_limits defaults, std::map<std::string, quota_limits, std::less<>> overrides = {},
                        std::set<std::string> supers = {}) {
  quota_config c;
  c.defaults = defaults;
  c.overrides = std::move(overrides);
  return principal_limits(c, std::move(supers));
}

owned_usage usage(const std::vector<topic_descriptor>& topics, std::string_view who, std::string_view except = {}) {
  std::vector<const topic_descriptor*> list;
  for (const auto& t : topics) list.push_back(&t);
  return usage_of(who, list, except);
}

} // namespace

TEST_CASE("principal limits: usage counts only what the principal owns - a topic without owner counts for nobody") {
  const std::vector<topic_descriptor> topics{topic("a1", 3, "User:alice", 100, 2), topic("a2", 2, "User:alice"),
                                             topic("b", 7, "User:bob", 10), topic("old", 50)};
  const auto a = usage(topics, "User:alice");
  CHECK(a.partitions == 5);
  CHECK(a.reserved_bytes == 600);  // 3 x 2 x 100; a2 has no retention.bytes
  CHECK(a.unbounded == std::vector<std::string>{"a2"});
  CHECK(usage(topics, "User:bob").partitions == 7);
  CHECK(usage(topics, "").partitions == 0);  // "no owner" is not a principal
  CHECK(usage(topics, "User:carol").partitions == 0);
  CHECK(usage(topics, "User:alice", "a1").partitions == 2);
}

TEST_CASE("principal limits: partitions up to the limit pass, one more is refused with the numbers") {
  const auto l = limits({}, {{"User:alice", quota_limits{0, 0, 4, 0}}});
  CHECK(l.enabled());
  std::vector<topic_descriptor> topics{topic("t1", 3, "User:alice")};
  CHECK(l.check_create("User:alice", topic("t0", 1), usage(topics, "User:alice")).empty());  // 3 + 1 = 4: at the limit
  const auto why = l.check_create("User:alice", topic("t2", 2), usage(topics, "User:alice"));
  CHECK(why == "User:alice owns 3 partition(s), its limit is 4; creating topic t2 with 2 more would exceed it (5)");
  // bob has no override and the defaults are none.
  CHECK(l.check_create("User:bob", topic("t3", 4096), {}).empty());
  // The limit applies to what the principal owns, not to what exists.
  topics.push_back(topic("big", 1000, "User:bob"));
  topics.push_back(topic("legacy", 1000));
  CHECK(l.check_create("User:alice", topic("t0", 1), usage(topics, "User:alice")).empty());
}

TEST_CASE("principal limits: defaults apply to everyone, ANONYMOUS included - super-users are exempt") {
  const auto l = limits(quota_limits{0, 0, 2, 0}, {{"User:big", quota_limits{0, 0, 100, 0}}}, {"User:admin"});
  CHECK(l.limits_for("User:ANONYMOUS").partitions == 2);
  CHECK_FALSE(l.check_create("User:ANONYMOUS", topic("t", 3), {}).empty());
  CHECK(l.check_create("User:big", topic("t", 3), {}).empty());
  CHECK(l.limits_for("User:admin").partitions == 0);
  CHECK(l.check_create("User:admin", topic("t", 4096), owned_usage{max64, max64, {}}).empty());
  // An override of 0 exempts.
  const auto exempt = limits(quota_limits{0, 0, 2, 0}, {{"User:free", quota_limits{}}});
  CHECK(exempt.check_create("User:free", topic("t", 100), {}).empty());
  // Nothing configured: nothing checked.
  CHECK_FALSE(limits({}).enabled());
  CHECK(limits({}).check_create("User:x", topic("t", 4096), owned_usage{max64, max64, {"u"}}).empty());
}

TEST_CASE("principal limits: disk is a reservation, partitions x replication factor x retention.bytes") {
  const auto l = limits({}, {{"User:alice", quota_limits{0, 0, 0, 10'000}}});
  std::vector<topic_descriptor> topics{topic("t1", 2, "User:alice", 1000, 3)};  // 6000 reserved
  const auto owned = usage(topics, "User:alice");
  CHECK(owned.reserved_bytes == 6000);
  CHECK(l.check_create("User:alice", topic("fits", 2, {}, 1000, 2), owned).empty());  // 6000 + 4000 = the limit
  CHECK(l.check_create("User:alice", topic("over", 1, {}, 4001), owned) ==
        "User:alice's topics reserve 6000 bytes (partitions x replication factor x retention.bytes), its disk limit "
        "is 10000 bytes; creating topic over with 1 partition(s) x 1 x 4001 = 4001 bytes more would exceed it");
  // Without retention.bytes the use is unbounded: refused, saying what to set.
  const auto none = l.check_create("User:alice", topic("free", 1), owned);
  CHECK(none.find("must set retention.bytes") != std::string::npos);
  CHECK(none.find("topic free has none") != std::string::npos);
  // retention.bytes 0 reserves nothing (retention keeps only the active segment).
  CHECK(l.check_create("User:alice", topic("zero", 100, {}, 0, 3), owned).empty());
  // A principal that owns an unbounded topic (made before its limit) must delete it first.
  topics.push_back(topic("legacy", 1, "User:alice"));
  const auto legacy = l.check_create("User:alice", topic("small", 1, {}, 1), usage(topics, "User:alice"));
  CHECK(legacy.find("without retention.bytes (legacy)") != std::string::npos);
}

TEST_CASE("principal limits: absurd sizes saturate instead of wrapping to small numbers") {
  CHECK(reservation(4096, 65535, std::numeric_limits<std::int64_t>::max()) == max64);
  CHECK(reservation(1, 1, -1) == max64);
  CHECK(reservation(0, 3, 1'000'000) == 0);
  CHECK(reservation(4096, 3, 1 << 30) == 4096ull * 3 * (1ull << 30));
  // 2^63 bytes x 2 partitions would wrap to 0 in 64 bits.
  const auto l = limits(quota_limits{0, 0, 0, max64 - 1});
  CHECK_FALSE(l.check_create("User:a", topic("t", 2, {}, std::int64_t{1} << 62, 2), {}).empty());
  CHECK_FALSE(l.check_create("User:a", topic("t", 4096, {}, std::numeric_limits<std::int64_t>::max(), 65535), {})
                .empty());
  // Sums saturate too: many topics each just under the limit.
  std::vector<topic_descriptor> topics;
  for (int i = 0; i < 4; ++i) topics.push_back(topic("t" + std::to_string(i), 1, "User:a", std::int64_t{1} << 62, 2));
  const auto u = usage(topics, "User:a");
  CHECK(u.reserved_bytes == max64);
  CHECK_FALSE(l.check_create("User:a", topic("z", 1, {}, 0), u).empty());
  // A partition limit of 2^64-1 with a saturated count still refuses.
  const auto p = limits(quota_limits{0, 0, max64 - 1, 0});
  CHECK_FALSE(p.check_create("User:a", topic("t", 1), owned_usage{max64 - 1, 0, {}}).empty());
}

TEST_CASE("principal limits: growing a topic charges its owner, not the requester - no owner, nobody") {
  const auto l = limits({}, {{"User:alice", quota_limits{0, 0, 6, 0}}}, {"User:admin"});
  const std::vector<topic_descriptor> topics{topic("mine", 2, "User:alice"), topic("other", 3, "User:alice"),
                                             topic("ownerless", 1)};
  const auto& mine = topics[0];
  const auto without = usage(topics, "User:alice", "mine");
  CHECK(without.partitions == 3);
  CHECK(l.check_grow("User:alice", mine, 3, without).empty());  // 3 + 3 = 6
  CHECK(l.check_grow("User:alice", mine, 4, without) ==
        "User:alice owns 5 partition(s), its limit is 6; growing topic mine from 2 to 4 partitions adds 2 more "
        "would exceed it (7)");
  // bob (allowed to alter by ACL) growing alice's topic: alice's limit.
  CHECK_FALSE(l.check_grow("User:bob", mine, 4, without).empty());
  // A super-user may take an owner past its limit.
  CHECK(l.check_grow("User:admin", mine, 100, without).empty());
  // A topic without owner is charged to nobody.
  CHECK(l.check_grow("User:alice", topics[2], 4000, usage(topics, "User:alice")).empty());
  // Not growing: nothing to check.
  CHECK(l.check_grow("User:alice", mine, 2, owned_usage{100, 0, {}}).empty());
}

TEST_CASE("principal limits: growing under a disk limit charges the new partitions' reservation") {
  const auto l = limits({}, {{"User:alice", quota_limits{0, 0, 0, 1000}}});
  const std::vector<topic_descriptor> topics{topic("t", 2, "User:alice", 100, 2), topic("u", 1, "User:alice")};
  const auto& t = topics[0];
  // u has no retention.bytes: nothing more until it is gone.
  CHECK(l.check_grow("User:alice", t, 3, usage(topics, "User:alice", "t")).find("(u)") != std::string::npos);
  const std::vector<topic_descriptor> bounded{topics[0]};
  CHECK(l.check_grow("User:alice", t, 5, usage(bounded, "User:alice", "t")).empty());  // 5 x 2 x 100 = 1000
  const auto why = l.check_grow("User:alice", t, 6, usage(bounded, "User:alice", "t"));
  CHECK(why.find("reserve 400 bytes") != std::string::npos);
  CHECK(why.find("4 partition(s) x 2 x 100 = 800 bytes more") != std::string::npos);
}

TEST_CASE("quota: --quota takes partitions:P and disk:B - --quota-partitions/--quota-disk-bytes are the defaults") {
  const quota_limits defaults{100, 200, 8, 1000};
  std::string who;
  quota_limits l;
  CHECK(parse_quota_override("User:alice=partitions:4", defaults, who, l).empty());
  CHECK(l == quota_limits{100, 200, 4, 1000});
  CHECK(parse_quota_override("User:alice=disk:1073741824,produce:5,partitions:0", defaults, who, l).empty());
  CHECK(l == quota_limits{5, 200, 0, 1073741824});
  CHECK(parse_quota_override("User:alice=partitions:x", defaults, who, l).find("'x' is not a partition count") !=
        std::string::npos);
  CHECK(parse_quota_override("User:alice=disk:1G", defaults, who, l).find("'1G' is not a byte count") !=
        std::string::npos);
  CHECK(parse_quota_override("User:alice=disk:1,disk:2", defaults, who, l).find("gives disk twice") !=
        std::string::npos);
  CHECK(parse_quota_override("User:alice=bytes:1", defaults, who, l).find("(produce, fetch, partitions or disk)") !=
        std::string::npos);
  quota_config c;
  CHECK(build_quota_config(quota_limits{0, 0, 10, 0}, {"User:a=disk:5"}, c).empty());
  CHECK(c.defaults.partitions == 10);
  CHECK(c.overrides.at("User:a") == quota_limits{0, 0, 10, 5});
  CHECK_FALSE(c.any());  // no byte rates: the rate registry stays off
  CHECK(c.any_ownership());
}
