#include "actors/controller_actor.hpp"

#include <set>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/zk_actor.hpp"
#include "cluster/controller_logic.hpp"

namespace herald::actors {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

struct controller_state {
  controller_args args;
  caf::actor zk;
  zk_view_ptr view;
  cluster::controller::broker_liveness liveness;
  bool active = false;
  std::set<std::string> writing;     // topics with a write under way
  std::set<std::string> last_notes;  // logged once until they change

  static inline const char* name = "herald.controller";
};

using controller_ptr = caf::stateful_actor<controller_state>*;

// Applies to `current` the partitions of `planned` that changed from `from`,
// where `current` still holds what the plan started from.
std::string apply_plan(const cluster::topic_record& from, const cluster::topic_record& planned,
                       cluster::topic_record& current) {
  if (current.descriptor.id != from.descriptor.id) return "the topic was deleted and created again";
  bool any = false;
  for (std::size_t p = 0; p < planned.partitions.size() && p < from.partitions.size(); ++p) {
    if (planned.partitions[p] == from.partitions[p]) continue;
    if (p >= current.partitions.size() || current.partitions[p] != from.partitions[p]) continue;
    current.partitions[p] = planned.partitions[p];
    any = true;
  }
  return any ? std::string{} : "changed since the plan; planned again from the next view";
}

void plan(controller_ptr self) {
  auto& st = self->state;
  const auto now = now_ms();
  st.liveness.observe(*st.view, now);
  auto plan = cluster::controller::plan_replicas(*st.view, st.liveness, now, st.args.replica_grace.count());
  std::set<std::string> notes(plan.notes.begin(), plan.notes.end());
  for (const auto& n : notes)
    if (!st.last_notes.count(n)) spdlog::warn("controller: {}", n);
  st.last_notes = std::move(notes);
  for (auto& [name, record] : plan.rewrites) {
    if (st.writing.count(name)) continue;
    auto from = st.view->topics.at(name);
    std::vector<std::string> changes;
    for (const auto& c : plan.changes)
      if (c.rfind(name + "/", 0) == 0) changes.push_back(c);
    zk_topic_update fn = [from, planned = record](cluster::topic_record& current) {
      return apply_plan(from, planned, current);
    };
    st.writing.insert(name);
    self->request(st.zk, std::chrono::seconds{30}, zk_update_atom::value, name, std::move(fn))
      .then(
        [=](std::int32_t outcome, const std::string& message) {
          self->state.writing.erase(name);
          if (outcome == zk_ok)
            for (const auto& c : changes) spdlog::info("controller: moving {}", c);
          else if (outcome != zk_refused)
            spdlog::warn("controller: cannot write topic {} ({}); tried again next round", name, message);
        },
        [=](caf::error& e) {
          self->state.writing.erase(name);
          spdlog::warn("controller: writing topic {} failed: {}", name, self->system().render(e));
        });
  }
}

caf::behavior controller(controller_ptr self, caf::actor zk, controller_args args) {
  auto& st = self->state;
  st.args = args;
  st.zk = std::move(zk);
  // Linked to the node actor: it goes when the node goes, however the node
  // ends (a normal exit would otherwise be ignored and keep the process up).
  self->set_exit_handler([=](caf::exit_msg& m) { self->quit(m.reason); });
  self->delayed_send(self, st.args.interval, tick_atom::value);
  return {
    [=](zk_view_atom, zk_view_ptr& view) {
      auto& st = self->state;
      if (!view) return;
      st.view = std::move(view);
      st.liveness.observe(*st.view, now_ms());
      const bool elected = st.view->controller == st.args.self_id;
      if (elected && !st.active)
        spdlog::info("controller: this broker is the controller; replicas of brokers gone longer than {} ms are "
                     "re-placed",
                     st.args.replica_grace.count());
      else if (!elected && st.active)
        spdlog::info("controller: this broker is no longer the controller");
      st.active = elected;
    },
    [=](caf::actor& zk) { self->state.zk = std::move(zk); },  // the node restarted its ZooKeeper actor
    [=](tick_atom) {
      auto& st = self->state;
      // Every broker keeps its liveness record current, so a newly elected
      // controller knows when a broker was really last seen.
      if (st.view) st.liveness.observe(*st.view, now_ms());
      if (st.active && st.view) plan(self);
      self->delayed_send(self, st.args.interval, tick_atom::value);
    },
  };
}

}  // namespace

caf::actor spawn_controller(caf::event_based_actor* parent, caf::actor zk, controller_args args) {
  return parent->spawn<caf::linked>(controller, std::move(zk), args);
}

}  // namespace herald::actors
