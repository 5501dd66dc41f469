// Reconciliation of a broker's replicas against the cluster view: which
// replicas start (and as what), which topics go, which replicas are removed.

#include <doctest/doctest.h>

#include "cluster/reconcile.hpp"

using namespace herald::cluster;

namespace {

topic_record topic(const std::string& name, std::uint64_t id, std::vector<partition_assignment> parts) {
  topic_record t;
  t.descriptor.name = name;
  t.descriptor.id = id;
  t.descriptor.partition_count = static_cast<std::uint32_t>(parts.size());
  t.descriptor.replication_factor = static_cast<std::uint16_t>(parts.empty() ? 1 : parts[0].replicas.size());
  t.partitions = std::move(parts);
  return t;
}

local_topic local(const topic_record& t, std::map<std::uint32_t, local_partition> parts) {
  return local_topic{t.descriptor, std::move(parts)};
}

} // namespace

TEST_CASE("a new topic: founders start where this broker is a replica, the topic is adopted") {
  cluster_view view;
  view.topics["t"] = topic("t", 7, {{{1, 2, 3}, 0, true}, {{2, 3, 4}, 0, true}, {{3, 1, 2}, 0, true}});
  auto plan = reconcile(1, view, {});
  REQUIRE(plan.adopt_topics.size() == 1);
  CHECK(plan.adopt_topics[0].id == 7);
  CHECK(plan.delete_topics.empty());
  CHECK(plan.remove.empty());
  REQUIRE(plan.start.size() == 2);
  CHECK(plan.start[0].partition == 0);
  CHECK(plan.start[1].partition == 2);
  for (const auto& s : plan.start) {
    CHECK(s.origin == start_origin::founder);
    CHECK(s.replicas.size() == 3);
  }
}

TEST_CASE("running replicas are left alone, a replica with data restarts as must_exist") {
  cluster_view view;
  auto t = topic("t", 7, {{{1, 2, 3}, 0, true}, {{1, 3, 2}, 4, true}});
  view.topics["t"] = t;
  std::map<std::string, local_topic> here{{"t", local(t, {{0, {true, true}}, {1, {false, true}}})}};
  auto plan = reconcile(1, view, here);
  CHECK(plan.adopt_topics.empty());
  REQUIRE(plan.start.size() == 1);
  CHECK(plan.start[0].partition == 1);
  CHECK(plan.start[0].origin == start_origin::must_exist);
  CHECK(plan.empty() == false);
  here["t"].partitions[1].running = true;
  CHECK(reconcile(1, view, here).empty());
}

TEST_CASE("a replica added by a membership change (epoch > 0, no data) joins") {
  cluster_view view;
  view.topics["t"] = topic("t", 7, {{{2, 3, 5}, 3, false}});
  auto plan = reconcile(5, view, {});
  REQUIRE(plan.start.size() == 1);
  CHECK(plan.start[0].origin == start_origin::joiner);
  CHECK(plan.start[0].epoch == 3);
}

TEST_CASE("a local topic absent from the view, or re-created with another id, is deleted") {
  cluster_view view;
  auto old_t = topic("t", 7, {{{1}, 0, true}});
  auto gone = topic("gone", 9, {{{1}, 0, true}});
  view.topics["t"] = topic("t", 8, {{{1}, 0, true}});
  std::map<std::string, local_topic> here{{"t", local(old_t, {{0, {true, true}}})},
                                          {"gone", local(gone, {{0, {true, true}}})}};
  auto plan = reconcile(1, view, here);
  CHECK(plan.delete_topics == std::vector<std::string>{"gone", "t"});
  REQUIRE(plan.adopt_topics.size() == 1);
  CHECK(plan.adopt_topics[0].id == 8);
  REQUIRE(plan.start.size() == 1);
  CHECK(plan.start[0].origin == start_origin::founder);  // the new topic's, not the old data's
}

TEST_CASE("a replica moved away is removed only once the partition is settled") {
  cluster_view view;
  auto t = topic("t", 7, {{{2, 3, 4}, 1, false}});
  view.topics["t"] = t;
  std::map<std::string, local_topic> here{{"t", local(t, {{0, {true, true}}})}};
  CHECK(reconcile(1, view, here).remove.empty());
  view.topics["t"].partitions[0].settled = true;
  auto plan = reconcile(1, view, here);
  REQUIRE(plan.remove.size() == 1);
  CHECK(plan.remove[0] == replica_ref{"t", 0});
  // Data without a running replica goes too.
  here["t"].partitions[0].running = false;
  CHECK(reconcile(1, view, here).remove.size() == 1);
}

TEST_CASE("a changed descriptor (more partitions) is adopted again and the new partitions start") {
  cluster_view view;
  auto t = topic("t", 7, {{{1, 2}, 0, true}});
  std::map<std::string, local_topic> here{{"t", local(t, {{0, {true, true}}})}};
  view.topics["t"] = topic("t", 7, {{{1, 2}, 0, true}, {{2, 1}, 0, true}});
  auto plan = reconcile(1, view, here);
  REQUIRE(plan.adopt_topics.size() == 1);
  CHECK(plan.adopt_topics[0].partition_count == 2);
  REQUIRE(plan.start.size() == 1);
  CHECK(plan.start[0].partition == 1);
  CHECK(plan.delete_topics.empty());
}
