#include "tests/replication/replica_sim.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <capnp/message.h>
#include <spdlog/spdlog.h>

#include "replication/partition_replica.hpp"
#include "schema/wire.hpp"
#include "storage/batch_header.hpp"
#include "storage/fault_injection.hpp"
#include "storage/record_batch.hpp"
#include "tests/raft/sim_params.hpp"

namespace herald::replication::sim {
namespace {

namespace fi = storage::fault_injection;
using schema::ErrorCode;

struct failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The run ended in a consequence of losing committed entries on a majority
// (see check_committed_held): not a failure, Raft cannot survive it.
struct allowed_loss : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The Raft simulation's generator: the same seed draws the same faults.
using raft::sim::prng;

// A scratch directory in memory when there is one (the injector's model, not
// the device, decides what a power loss keeps).
class scratch {
public:
  explicit scratch(std::uint64_t seed) {
    std::filesystem::path base = "/dev/shm";
    std::error_code ec;
    if (!std::filesystem::is_directory(base, ec) || ::access(base.c_str(), W_OK) != 0)
      base = std::filesystem::temp_directory_path();
    path_ = base / ("herald-replica-sim-" + std::to_string(::getpid()) + "-" + std::to_string(seed));
    std::filesystem::remove_all(path_, ec);
    std::filesystem::create_directories(path_);
  }
  ~scratch() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

std::vector<char> produce_request(const std::vector<char>& batch) {
  capnp::MallocMessageBuilder builder;
  auto p = builder.initRoot<schema::Request>().initProduce();
  p.setTopic("s");
  p.setAcks(schema::Acks::ALL);
  p.setTimeoutMs(60'000);
  p.setBatch(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(batch.data()), batch.size()));
  return wire::to_bytes(builder);
}

const char* policy_name(cluster::fsync_policy p) {
  switch (p) {
    case cluster::fsync_policy::always: return "always";
    case cluster::fsync_policy::interval: return "interval";
    case cluster::fsync_policy::never: return "never";
  }
  return "?";
}

class simulation {
public:
  explicit simulation(const sim_options& opts) : opts_(opts), rng_(opts.seed ^ 0x7265706c696361ull), dir_(opts.seed) {
    voters_ = std::vector<int>{1, 3, 3, 3, 5}[rng_.below(5)];
    const auto pick = rng_.below(10);
    config_.fsync = pick < 6 ? cluster::fsync_policy::always
                             : (pick < 8 ? cluster::fsync_policy::interval : cluster::fsync_policy::never);
    config_.segment_bytes = std::vector<std::uint64_t>{2048, 8192, 65536}[rng_.below(3)];
    config_.retention_bytes = rng_.one_in(3) ? 16384 : -1;
    drop_in_ = std::vector<std::uint64_t>{0, 50, 10}[rng_.below(3)];
    power_loss_in_ = std::vector<std::uint64_t>{0, 800, 300}[rng_.below(3)];
    failed_sync_in_ = std::vector<std::uint64_t>{0, 0, 500, 150}[rng_.below(4)];
    restart_in_ = std::vector<std::uint64_t>{0, 400, 100}[rng_.below(3)];
    cut_in_ = std::vector<std::uint64_t>{0, 300, 100}[rng_.below(3)];
    std::ostringstream p;
    p << "voters=" << voters_ << " fsync=" << policy_name(config_.fsync) << " segment=" << config_.segment_bytes
      << " retention_bytes=" << config_.retention_bytes << " drop=1/" << drop_in_ << " power_loss=1/" << power_loss_in_
      << " failed_sync=1/" << failed_sync_in_ << " restart=1/" << restart_in_ << " cut=1/" << cut_in_;
    params_ = p.str();
    trace("params: " + params_);
  }

  sim_result run() {
    sim_result res;
    res.params = params_;
    try {
      injector_ = std::make_shared<fi::injector>(fi::injector_config{opts_.seed, /*real_syncs=*/false});
      fi::scoped_install installed(injector_);
      for (int id = 1; id <= voters_; ++id) start(static_cast<raft::node_id>(id), replica_origin::founder);
      for (step_ = 0; step_ < opts_.steps; ++step_) step(true);
      trace("faults stop");
      injector_->clear_faults();
      cut_.clear();
      for (int id = 1; id <= voters_; ++id)
        if (!nodes_.count(static_cast<raft::node_id>(id))) start(static_cast<raft::node_id>(id), replica_origin::must_exist);
      check_liveness();
      check_acked();
      nodes_.clear();
    } catch (const raft::invariant_violation& e) {
      // A committed entry contradicted: a Raft bug, unless the sim saw a
      // committed entry lost on a majority first (only possible under
      // fsync=interval/never), after which Raft cannot promise anything.
      if (lost_committed_.empty()) {
        res.ok = false;
        res.failure = std::string(e.what()) + " (step " + std::to_string(step_) + ")";
      } else {
        res.allowed_loss = lost_committed_ + "; then: " + e.what() + " (step " + std::to_string(step_) + ")";
        trace("allowed: " + res.allowed_loss);
      }
      nodes_.clear();
    } catch (const allowed_loss& e) {
      res.allowed_loss = e.what();
      trace("allowed: " + res.allowed_loss);
      nodes_.clear();
    } catch (const std::exception& e) {
      res.ok = false;
      res.failure = std::string(e.what()) + " (step " + std::to_string(step_) + ")";
      nodes_.clear();
    }
    res.stats = stats_;
    return res;
  }

private:
  void trace(const std::string& s) {
    if (opts_.trace) *opts_.trace << step_ << ": " << s << "\n";
  }

  replica_settings settings(raft::node_id id, replica_origin origin) {
    replica_settings s;
    s.name = "s/0@" + std::to_string(id);
    s.dir = dir_.path() / std::to_string(id);
    s.config = config_;
    s.node_id = id;
    for (int v = 1; v <= voters_; ++v) s.replicas.push_back(static_cast<raft::node_id>(v));
    s.election_ticks = 10;
    s.seed = rng_.next();
    s.origin = origin;
    return s;
  }

  void start(raft::node_id id, replica_origin origin) {
    auto opened = partition_replica::open(settings(id, origin));
    // An injected fault may hit recovery itself; the broker's supervisor
    // retries a partition that does not open, and so does this.
    for (int retry = 0; retry < 3 && !opened && opened.error().message.find("(injected)") != std::string::npos; ++retry)
      opened = partition_replica::open(settings(id, origin));
    if (!opened) throw failure("replica " + std::to_string(id) + " does not open: " + opened.error().message);
    nodes_[id] = std::move(*opened);
    hw_[id] = 0;
    trace("start " + std::to_string(id));
    nodes_[id]->elect_alone();
    if (origin == replica_origin::must_exist && !restarting_all_) check_committed_held("restart of " + std::to_string(id));
    drain(id);
  }

  // Every index some replica reported committed, with its term (the first
  // report wins). Raft keeps each on a majority for ever; only losing
  // acknowledged-but-unsynced entries (fsync=interval/never) can break that.
  void record_commits(const partition_replica& r) {
    const auto& log = r.raft().log();
    const raft::index_t c = r.raft().commit_index();
    raft::index_t i = committed_.empty() ? 0 : committed_.rbegin()->first;
    const bool grows = i < c;
    for (++i; i <= c; ++i)
      if (auto t = log.term_at(i)) committed_.emplace(i, *t);
    // A leader may commit and lose the entry in one drain (a failed fsync
    // restarts it) before the sim sees the commit; the first report then
    // comes from a follower, after the loss.
    if (grows && !restarting_all_) check_committed_held("report of commit index " + std::to_string(c));
  }

  // Called after replicas restart (the only moments data goes): is the
  // highest committed entry still held by a majority? A log that has it
  // (same term) has everything before it, and a snapshot past it covers it.
  void check_committed_held(const std::string& event) {
    if (committed_.empty()) return;
    const auto [idx, term] = *committed_.rbegin();
    if (lost_at_.count(idx)) return;
    int holders = 0;
    for (auto& [id, r] : nodes_) {
      const auto& log = r->raft().log();
      if (log.snapshot().index >= idx || log.term_at(idx) == term) ++holders;
    }
    if (holders > voters_ / 2) return;
    std::ostringstream o;
    o << "step " << step_ << ": at the " << event << " committed index " << idx << "/t" << term
      << " is held by only " << holders << " of " << voters_ << " replicas";
    if (config_.fsync == cluster::fsync_policy::always) throw failure(o.str() + " under fsync=always");
    // The latest loss is reported: it is the one the end state shows.
    lost_at_.insert(idx);
    lost_committed_ = o.str() + " (fsync=" + policy_name(config_.fsync) + " lost acknowledged entries; " +
                      std::to_string(lost_at_.size()) + " such loss(es) in this run)";
    trace(lost_committed_);
  }

  void stop(raft::node_id id) {
    nodes_.erase(id);
    trace("stop " + std::to_string(id));
  }

  void drain(raft::node_id id) {
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return;
    auto out = it->second->take_output();
    for (auto& m : out.messages) net_.push_back(m);
    for (auto& [rid, bytes] : out.answers) answered(rid, bytes);
    if (out.fatal) {
      trace("fatal " + std::to_string(id) + ": " + *out.fatal);
      stop(id);
      ++stats_.restarts;
      start(id, replica_origin::must_exist);
      return;
    }
    check_node(id);
  }

  void answered(request_id rid, const std::vector<char>& bytes) {
    auto p = pending_.find(rid);
    if (p == pending_.end()) return;
    wire::message_reader reader(bytes);
    auto r = reader.root<schema::Response>();
    if (r.getError().getCode() == ErrorCode::NONE && r.which() == schema::Response::PRODUCE) {
      const auto base = static_cast<std::uint64_t>(r.getProduce().getBaseOffset());
      auto [it, fresh] = acked_.emplace(base, p->second);
      if (!fresh) it->second = p->second;
      if (!fresh && it->second != p->second && config_.fsync == cluster::fsync_policy::always)
        throw failure("two produces acknowledged at offset " + std::to_string(base));
      ++stats_.acked;
    }
    pending_.erase(p);
  }

  void check_node(raft::node_id id) {
    auto& r = *nodes_.at(id);
    const auto hw = r.high_watermark();
    if (hw > r.store().log().log_end_offset())
      throw failure("replica " + std::to_string(id) + ": high watermark " + std::to_string(hw) + " past log end " +
                    std::to_string(r.store().log().log_end_offset()));
    if (hw < hw_[id])
      throw failure("replica " + std::to_string(id) + ": high watermark went back from " + std::to_string(hw_[id]) +
                    " to " + std::to_string(hw));
    hw_[id] = hw;
    record_commits(r);
    if (r.is_leader()) {
      auto [it, fresh] = leaders_.emplace(r.raft().term(), id);
      if (fresh) ++stats_.leaders;
      if (it->second != id)
        throw failure("two leaders in term " + std::to_string(r.raft().term()) + ": " + std::to_string(it->second) +
                      " and " + std::to_string(id));
    }
  }

  raft::node_id any_node() { return static_cast<raft::node_id>(1 + rng_.below(static_cast<std::uint64_t>(voters_))); }

  void deliver_one() {
    if (net_.empty()) return;
    const std::size_t i = rng_.below(std::min<std::size_t>(net_.size(), 4));  // mild reordering
    const raft::message m = net_[i];
    net_.erase(net_.begin() + static_cast<std::ptrdiff_t>(i));
    if (cut_.count(m.from) || cut_.count(m.to) || !nodes_.count(m.to)) return;
    if (opts_.trace_messages) trace("deliver " + raft::to_string(m));
    nodes_[m.to]->on_raft(m);
    nodes_[m.to]->process_readies();
    drain(m.to);
  }

  void produce() {
    for (auto& [id, r] : nodes_)
      if (r->is_leader()) {
        const auto rid = next_request_++;
        storage::batch_builder b;
        b.add(static_cast<std::int64_t>(rid), "k", "value-" + std::to_string(rid) + std::string(rng_.below(300), 'x'));
        auto batch = b.build();
        pending_[rid] = std::vector<char>(batch.begin() + storage::batch_header_size, batch.end());
        r->on_request(rid, produce_request(batch));
        drain(id);
        if (nodes_.count(id)) {
          nodes_[id]->process_readies();
          drain(id);
        }
        return;
      }
  }

  void power_loss() {
    static const fi::crash modes[] = {fi::crash::lose_unsynced, fi::crash::keep_prefix, fi::crash::keep_prefix_torn};
    const auto mode = modes[rng_.below(3)];
    trace("power loss");
    ++stats_.power_losses;
    // Every process dies with the machine: no destructor may sync first.
    for (auto& [id, r] : nodes_) r->abandon();
    injector_->simulate_power_loss(mode);
    nodes_.clear();
    injector_->clear_faults();
    // In-flight messages may still arrive (they were on the wire).
    restarting_all_ = true;
    for (int id = 1; id <= voters_; ++id) start(static_cast<raft::node_id>(id), replica_origin::must_exist);
    restarting_all_ = false;
    check_committed_held("power loss");
    // A high watermark may go back across a power loss under interval/never.
    for (auto& [id, hw] : hw_) hw = 0;
  }

  void step(bool faults) {
    const auto what = rng_.below(100);
    if (what < 45) {
      // Enough per step that the wire does not grow without bound.
      for (std::size_t n = 1 + rng_.below(net_.size() / 2 + 2); n > 0 && !net_.empty(); --n) deliver_one();
    } else if (what < 70) {
      const auto id = any_node();
      if (nodes_.count(id)) {
        nodes_[id]->tick();
        drain(id);
      }
    } else if (what < 80) {
      if (faults) produce();
    } else if (what < 85) {
      const auto id = any_node();
      if (nodes_.count(id) && config_.fsync == cluster::fsync_policy::interval) {
        nodes_[id]->sync_tick();
        drain(id);
      }
    } else if (what < 88) {
      const auto id = any_node();
      if (nodes_.count(id) && config_.retention_bytes >= 0) {
        nodes_[id]->apply_retention(0);
        drain(id);
      }
    } else if (faults) {
      if (drop_in_ && !net_.empty() && rng_.one_in(drop_in_)) net_.erase(net_.begin());
      if (power_loss_in_ && rng_.one_in(power_loss_in_)) power_loss();
      if (restart_in_ && rng_.one_in(restart_in_)) {
        const auto id = any_node();
        if (nodes_.count(id)) {
          stop(id);
          ++stats_.restarts;
          start(id, replica_origin::must_exist);
          hw_[id] = 0;
        }
      }
      if (failed_sync_in_ && rng_.one_in(failed_sync_in_)) {
        const auto id = any_node();
        injector_->add(fi::fault(fi::op::sync).on_paths_containing((dir_.path() / std::to_string(id)).string() + "/"));
        ++stats_.failed_syncs;
        trace("next fsync of " + std::to_string(id) + " fails");
      }
      if (cut_in_ && rng_.one_in(cut_in_)) {
        if (cut_.empty()) {
          cut_.insert(any_node());
          trace("cut " + std::to_string(*cut_.begin()));
        } else {
          cut_.clear();
          trace("heal");
        }
      }
    }
  }

  void run_quiet(std::uint64_t steps) {
    for (std::uint64_t i = 0; i < steps; ++i, ++step_) step(false);
  }

  void check_liveness() {
    // A leader, then a fresh write acknowledged, then every replica's high
    // watermark reaches the leader's.
    const std::uint64_t deadline = step_ + opts_.liveness_steps;
    std::uint64_t final_rid = 0;
    bool final_sent = false;
    while (step_ < deadline) {
      run_quiet(50);
      if (!final_sent) {
        for (auto& [id, r] : nodes_)
          if (r->is_leader()) {
            final_rid = next_request_;
            produce();
            final_sent = true;
            break;
          }
        continue;
      }
      if (pending_.count(final_rid)) {
        if (step_ % 2000 < 50) final_sent = false;  // lost with a leader change: try again
        continue;
      }
      std::uint64_t leader_hw = 0;
      for (auto& [id, r] : nodes_)
        if (r->is_leader()) leader_hw = r->high_watermark();
      bool all = leader_hw > 0;
      for (auto& [id, r] : nodes_) all = all && r->high_watermark() == leader_hw;
      if (all) return;
    }
    if (!lost_committed_.empty() && lagging_ones_contradict_leader())
      throw allowed_loss(lost_committed_ + "; then a replica whose committed entries the leader contradicts cannot catch up");
    std::string state;
    for (auto& [id, r] : nodes_)
      state += " " + std::to_string(id) + ":" + raft::to_string(r->raft().state()) + "/t" +
               std::to_string(r->raft().term()) + "/hw" + std::to_string(r->high_watermark()) +
               (r->raft().vote_unknown() ? "/vote_unknown" : "");
    throw failure("liveness: no write reached every replica after the faults stopped;" + state);
  }

  // Whether each replica behind the leader has an entry the leader's log
  // contradicts at or below its own commit index or the index the leader
  // believes it matches. Raft takes a committed prefix as matching the
  // leader's: the replica answers the leader's appends within it with
  // success (the leader then thinks it matches that far) and never truncates
  // it, and the leader drops rejections at or below a match as stale. After
  // committed entries were lost on a majority that belief is false, and the
  // replica stays behind for ever.
  bool lagging_ones_contradict_leader() const {
    const partition_replica* leader = nullptr;
    for (auto& [id, r] : nodes_)
      if (r->is_leader()) leader = r.get();
    if (!leader) return false;
    const auto& ll = leader->raft().log();
    bool any = false;
    for (auto& [id, r] : nodes_) {
      if (r.get() == leader || r->high_watermark() == leader->high_watermark()) continue;
      any = true;
      const auto& fl = r->raft().log();
      bool contradicts = false;
      const auto* pr = leader->raft().progress_of(id);
      const raft::index_t bound = std::max(r->raft().commit_index(), pr ? pr->match_index : 0);
      for (raft::index_t i = fl.first_index(); i <= bound && !contradicts; ++i) {
        const auto mine = fl.term_at(i);
        contradicts = mine && i >= ll.first_index() && ll.term_at(i) != mine;
      }
      if (!contradicts) return false;
    }
    return any;
  }

  void check_acked() {
    if (config_.fsync != cluster::fsync_policy::always) return;
    for (auto& [id, r] : nodes_) {
      const auto start = r->log_start_offset();
      const auto hw = r->high_watermark();
      for (const auto& [offset, payload] : acked_) {
        if (offset < start) continue;
        if (offset >= hw)
          throw failure("replica " + std::to_string(id) + ": acknowledged offset " + std::to_string(offset) +
                        " is at or past its high watermark " + std::to_string(hw));
        auto read = r->store().log().read(offset, 1, hw);
        if (!read) throw failure("replica " + std::to_string(id) + ": reading offset " + std::to_string(offset) +
                                 ": " + read.error().message);
        const auto& b = read->bytes;
        if (b.size() < storage::batch_header_size ||
            storage::decode_batch_header(b).base_offset != offset ||
            !std::equal(payload.begin(), payload.end(), b.begin() + storage::batch_header_size,
                        b.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(b.size(), storage::decode_batch_header(b).length))))
          throw failure("replica " + std::to_string(id) + ": acknowledged record at offset " + std::to_string(offset) +
                        " is lost or changed");
      }
    }
  }

  sim_options opts_;
  prng rng_;
  scratch dir_;
  std::string params_;
  int voters_ = 3;
  cluster::topic_config config_;
  std::uint64_t drop_in_ = 0, power_loss_in_ = 0, failed_sync_in_ = 0, restart_in_ = 0, cut_in_ = 0;
  std::shared_ptr<fi::injector> injector_;
  std::map<raft::node_id, std::unique_ptr<partition_replica>> nodes_;
  std::map<raft::node_id, std::uint64_t> hw_;
  std::map<raft::index_t, raft::term_t> committed_;  // index -> term, first report
  std::string lost_committed_;  // the latest committed entry found off a majority
  std::set<raft::index_t> lost_at_;  // committed indices found off a majority
  bool restarting_all_ = false;
  std::vector<raft::message> net_;
  std::set<raft::node_id> cut_;
  std::map<raft::term_t, raft::node_id> leaders_;
  std::map<request_id, std::vector<char>> pending_;   // payload after the header
  std::map<std::uint64_t, std::vector<char>> acked_;  // base offset -> payload
  request_id next_request_ = 1;
  std::uint64_t step_ = 0;
  sim_stats stats_;
};

}  // namespace

sim_result run(const sim_options& opts) {
  const auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::off);
  simulation s(opts);
  auto r = s.run();
  spdlog::set_level(level);
  return r;
}

std::string replay_command(const sim_options& opts) {
  return "replica_sim --first " + std::to_string(opts.seed) + " --seeds 1 --steps " + std::to_string(opts.steps) +
         " --trace";
}

}  // namespace herald::replication::sim
