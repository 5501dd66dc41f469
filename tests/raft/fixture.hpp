#pragma once
// A hand-driven cluster for focused tests: instant persistence, a message
// queue the test drains explicitly, links that can be cut, and a filter that
// drops chosen messages. Nothing random except each node's election timeout.

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "raft/node.hpp"
#include "tests/raft/mem_store.hpp"

namespace herald::raft::test {

struct fixture_node {
  std::unique_ptr<mem_store> disk;
  std::unique_ptr<node> core;
  options opts;
  bool up = true;
  std::vector<std::string> applied;  // payloads of applied normal entries, as strings
  index_t applied_index = 0;
};

class fixture {
public:
  // Nodes 1..voters are the initial voters; voters+1..voters+spares start
  // with no configuration (to be added later).
  explicit fixture(int voters, options base = {}, int spares = 0) {
    configuration c;
    for (int i = 1; i <= voters; ++i) c.voters.push_back(static_cast<node_id>(i));
    for (int i = 1; i <= voters + spares; ++i) {
      const node_id id = static_cast<node_id>(i);
      auto& n = nodes_[id];
      n.opts = base;
      n.opts.id = id;
      n.opts.seed = 1000 + id;
      snapshot_meta start;
      if (i <= voters) start.config = c;
      n.disk = std::make_unique<mem_store>(start);
      n.core = std::make_unique<node>(n.opts, *n.disk, n.disk->durable());
    }
  }

  node& operator[](node_id id) { return *nodes_.at(id).core; }
  fixture_node& at(node_id id) { return nodes_.at(id); }

  // Drain every node's ready: send, persist (instantly), acknowledge, apply.
  void drain() {
    for (auto& [id, n] : nodes_) drain(id);
  }
  void drain(node_id id) {
    auto& n = nodes_.at(id);
    while (n.up && n.core->has_ready()) {
      ready r = n.core->take_ready();
      for (auto& m : r.messages) queue_.push_back(m);
      if (r.needs_persist()) {
        n.disk->persist(r);
        n.core->on_persisted();
        if (r.snapshot) {
          // The fixture's state machine is the list of applied payloads; its
          // snapshot is that list, one per line.
          n.applied_index = r.snapshot->index;
          n.applied.clear();
          std::string line;
          for (char ch : r.snapshot_data) {
            if (ch == '\n') {
              n.applied.push_back(line);
              line.clear();
            } else {
              line += ch;
            }
          }
        }
      }
      for (auto& m : r.messages_after_persist) queue_.push_back(m);
      if (r.commit_index) apply(n, *r.commit_index);
      last_ready_[id] = std::move(r);
    }
  }

  // Deliver queued messages (and whatever they cause) until the network is
  // quiet. Returns how many were delivered.
  int pump(int limit = 100000) {
    int delivered = 0;
    drain();
    while (!queue_.empty() && delivered < limit) {
      message m = queue_.front();
      queue_.pop_front();
      if (!deliverable(m)) continue;
      if (mutate) mutate(m);
      log_.push_back(m);
      ++delivered;
      nodes_.at(m.to).core->step(m);
      drain(m.to);
    }
    return delivered;
  }

  void tick(node_id id, int times = 1) {
    for (int i = 0; i < times; ++i)
      if (nodes_.at(id).up) {
        nodes_.at(id).core->tick();
        drain(id);
      }
  }
  void tick_all(int times = 1) {
    for (int i = 0; i < times; ++i) {
      for (auto& [id, n] : nodes_) tick(id);
      pump();
    }
  }

  // Tick only `id` until it campaigns, then let the election run.
  void elect(node_id id) {
    for (int i = 0; i < 100 && nodes_.at(id).core->state() == role::follower; ++i) tick(id);
    pump();
  }

  // Let time pass everywhere until a node other than `old` leads (after the
  // followers' leader lease runs out, as it would in reality).
  node_id elect_other(node_id old) {
    for (int i = 0; i < 200; ++i) {
      auto l = leader();
      if (l && *l != old) return *l;
      tick_all();
    }
    return no_node;
  }

  std::optional<node_id> leader() {
    std::optional<node_id> l;
    term_t best = 0;
    for (auto& [id, n] : nodes_)
      if (n.up && n.core->state() == role::leader && n.core->term() >= best) {
        best = n.core->term();
        l = id;
      }
    return l;
  }

  propose_result propose(node_id id, const std::string& s) {
    auto r = nodes_.at(id).core->propose(std::make_shared<const bytes>(s.begin(), s.end()));
    drain(id);
    return r;
  }

  void cut(node_id a, node_id b) {
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void isolate(node_id a) {
    for (auto& [id, n] : nodes_)
      if (id != a) cut(a, id);
  }
  void heal() { cut_.clear(); }

  // Crash: keep only the disk. Restart: a new core from the disk.
  void crash(node_id id) {
    auto& n = nodes_.at(id);
    n.up = false;
    n.core.reset();
  }
  void restart(node_id id) {
    auto& n = nodes_.at(id);
    n.opts.seed += 100;
    n.core = std::make_unique<node>(n.opts, *n.disk, n.disk->durable());
    n.up = true;
    n.applied.clear();
    n.applied_index = n.disk->snapshot().index;
  }

  // Snapshot node `id` at its applied index and drop the log prefix.
  void compact(node_id id) {
    auto& n = nodes_.at(id);
    auto meta = n.core->snapshot_meta_at(n.applied_index);
    if (!meta) return;
    bytes data;
    for (const auto& a : n.applied) {
      data.insert(data.end(), a.begin(), a.end());
      data.push_back('\n');
    }
    n.disk->compact(*meta, std::move(data));
    n.core->on_log_compacted(*meta);
  }

  // Replace a node's disk with this log and hard state, and restart it.
  void rewrite(node_id id, const std::vector<std::pair<index_t, term_t>>& runs, hard_state hs) {
    auto& n = nodes_.at(id);
    const snapshot_meta start{0, 0, n.disk->snapshot().config};
    n.disk = std::make_unique<mem_store>(start);
    std::vector<entry> log;
    for (const auto& [count, term] : runs)
      for (index_t k = 0; k < count; ++k) {
        const index_t i = log.size() + 1;
        log.push_back(entry{i, term, entry_kind::normal, payload_of("t" + std::to_string(term) + "i" + std::to_string(i))});
      }
    n.disk->append(log);
    n.disk->set_hard_state(hs);
    restart(id);
  }

  static shared_bytes payload_of(const std::string& s) { return std::make_shared<const bytes>(s.begin(), s.end()); }

  // Drop messages for which this returns true; rewrite others in flight.
  std::function<bool(const message&)> drop;
  std::function<void(message&)> mutate;
  std::deque<message>& queue() { return queue_; }
  const std::vector<message>& delivered() const { return log_; }
  const ready& last_ready(node_id id) { return last_ready_[id]; }

  template <class Body>
  int count_delivered(node_id from, node_id to) const {
    int n = 0;
    for (const auto& m : log_)
      if (m.from == from && m.to == to && std::holds_alternative<Body>(m.body)) ++n;
    return n;
  }

private:
  bool deliverable(const message& m) const {
    if (!nodes_.count(m.to) || !nodes_.at(m.to).up) return false;
    if (cut_.count({m.from, m.to})) return false;
    if (drop && drop(m)) return false;
    return true;
  }

  void apply(fixture_node& n, index_t commit) {
    for (index_t i = n.applied_index + 1; i <= commit; ++i) {
      const entry& e = n.disk->at(i);
      if (e.kind == entry_kind::normal && e.data) n.applied.emplace_back(e.data->begin(), e.data->end());
      n.applied_index = i;
    }
  }

  std::map<node_id, fixture_node> nodes_;
  std::deque<message> queue_;
  std::vector<message> log_;
  std::set<std::pair<node_id, node_id>> cut_;
  std::map<node_id, ready> last_ready_;
};

inline shared_bytes payload(const std::string& s) { return std::make_shared<const bytes>(s.begin(), s.end()); }

}  // namespace herald::raft::test
