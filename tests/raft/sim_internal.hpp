#pragma once
// Private to the simulation's translation units (tests/raft/sim.hpp says what
// it simulates and checks):
//   sim.cpp         the run, one time unit, fault injection, the network,
//                   clients and operators, tracing
//   sim_nodes.cpp   nodes: start, crash (torn persists), restart, persisting,
//                   applying, compaction, link reports (quiescence)
//   sim_checks.cpp  liveness and the invariants checked after every step

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <queue>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "raft/node.hpp"
#include "tests/raft/mem_store.hpp"
#include "tests/raft/sim.hpp"
#include "tests/raft/sim_params.hpp"

namespace herald::raft::sim::detail {

using test::mem_store;

constexpr std::uint64_t units_per_tick = 10;

struct failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct sim_node {
  node_id id = no_node;
  bool up = true;
  std::uint64_t phase = 0;  // tick offset within a tick's units
  std::uint64_t period = 0;  // units between its ticks (clock drift: not all equal)
  std::uint64_t incarnation = 0;
  std::uint64_t restart_at = 0;
  bool reported_down = false;  // quiescence: its crash broke the others' connections
  std::unique_ptr<mem_store> disk;
  std::unique_ptr<node> core;
  std::optional<ready> persisting;
  std::uint64_t persist_done_at = 0;
  // Volatile state machine, rebuilt from the disk's snapshot on restart.
  index_t applied = 0;
  std::uint64_t digest = 0;
  // Checker bookkeeping, per incarnation.
  index_t seen_commit = 0;
};

struct committed_entry {
  bool known = false;
  term_t term = 0;
  std::uint64_t hash = 0;
  term_t committed_in = 0;  // term of the node that first reported it committed
};

struct in_flight {
  std::uint64_t at;
  std::uint64_t seq;
  message m;
  bool operator>(const in_flight& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

class simulation {
public:
  explicit simulation(const sim_options& opts);
  sim_result run();

private:
  // --- one time unit ---------------------------------------------
  void step(bool faults);
  void inject(bool faults);
  void end_faults();

  // --- nodes -----------------------------------------------------
  void start_node(sim_node& sn);
  void crash(sim_node& sn, std::uint64_t restart_at);
  void report_heal();
  void report_link_up(node_id a, node_id b);
  void report_down(sim_node& at, node_id gone);
  void report_link_down(node_id a, node_id b);
  void tear_log(sim_node& sn, const ready& r);
  void restart(sim_node& sn);
  void persist_hard(sim_node& sn, const hard_state& hs);
  void drain(sim_node& sn);
  void trace_ready(const sim_node& sn, const ready& r);
  void finish_persist(sim_node& sn);
  void apply(sim_node& sn, index_t commit);
  void maybe_compact(sim_node& sn);

  // --- network ---------------------------------------------------
  void check_durable(const sim_node& sn, const message& m);
  void send(const sim_node& from, const message& m);
  void deliver();

  // --- clients and operators ------------------------------------
  sim_node* find_leader();
  void client_write();
  void transfer();
  void change_membership();

  // --- liveness --------------------------------------------------
  bool live();
  std::uint64_t fingerprint() const;
  std::string leaders_summary();

  // --- invariants ------------------------------------------------
  void record_committed(const sim_node& sn, index_t i, term_t term, std::uint64_t hash);
  void record_digest(const sim_node& sn, index_t i, std::uint64_t digest);
  void check_new_entries(const sim_node& sn, const std::vector<entry>& entries);
  void check();
  void check_leader_completeness(const sim_node& sn);
  void check_logs_pairwise();

  void trace(const std::string& s);

  sim_options opts_;
  prng rng_;
  params p_;
  std::uint64_t now_ = 0;
  std::vector<std::unique_ptr<sim_node>> nodes_;
  std::priority_queue<in_flight, std::vector<in_flight>, std::greater<>> net_;
  std::uint64_t seq_ = 0;
  std::vector<int> group_;
  std::set<std::pair<node_id, node_id>> oneway_;  // widened: (from, to) links that drop
  bool partitioned_ = false;
  std::uint64_t write_id_ = 0;

  std::map<term_t, node_id> leader_of_term_;
  std::map<std::pair<node_id, term_t>, node_id> votes_;
  std::vector<committed_entry> committed_;
  std::vector<std::pair<bool, std::uint64_t>> digests_;  // state machine digest after each index
  std::map<std::pair<index_t, term_t>, std::pair<std::uint64_t, term_t>> entries_;
  std::map<node_id, std::pair<term_t, index_t>> verified_;

  term_t liveness_term_ = 0;
  node_id liveness_leader_ = no_node;
  index_t liveness_index_ = 0;
  std::set<std::pair<node_id, index_t>> liveness_applied_;

  sim_stats stats_;
};

}  // namespace herald::raft::sim::detail
