#pragma once
// One replica of one partition, without actors: the Raft node over its
// raft_store, the produces waiting for their entries, the fetches parked
// until the high watermark moves, retention, the cleaner's bookkeeping and
// the step-down choice. actors/partition_actor.cpp is the CAF shell around
// it: it turns messages and timers into calls here and carries out what a
// call leaves in the outbox (take_output()).
//
// Deterministic given its inputs (the clock comes in as arguments, the
// Raft node's randomness from settings.seed), so tests drive it directly.
//
// Client requests carry a request_id chosen by the shell; every answer
// names the id it answers. A request is answered exactly once: at once, or
// later (acks=1/all produces, parked fetches), or by a timer the replica
// asked for (outbox::timers) whose expiry the shell reports back.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/topic.hpp"
#include "raft/node.hpp"
#include "replication/cleaner_plan.hpp"
#include "replication/follower_status.hpp"
#include "replication/membership_driver.hpp"
#include "replication/raft_store.hpp"
#include "replication/replica_origin.hpp"
#include "schema/client.capnp.h"
#include "storage/status.hpp"

namespace herald::replication {

using bytes = std::vector<char>;
using request_id = std::uint64_t;

struct replica_settings {
  std::string name;  // "topic/partition", for messages and logs
  std::filesystem::path dir;
  cluster::topic_config config;
  raft::node_id node_id = 1;
  std::vector<raft::node_id> replicas;  // the founding voters; empty: {node_id}
  std::uint32_t tick_ms = 50;          // the Raft clock's period, for the step-down deadline
  std::uint32_t election_ticks = 10;
  bool quiesce = false;  // raft::options::quiesce: idle groups stop heartbeating
  std::uint64_t seed = 0;
  // must_exist with a single replica acts as founder: no one else holds the
  // data to catch up from, and a group of one cannot split its votes.
  replica_origin origin = replica_origin::founder;
  // The replica that should lead when it can (the first of the partition's
  // replicas in ZooKeeper mode; set_target() updates it). A leader that is
  // not it hands over once it is a caught-up, active voter and the group is
  // not changing, checked every few election timeouts of its leadership, so
  // leaderships spread as placement balanced them. no_node: never (the
  // static cluster, where every node holds every partition).
  raft::node_id preferred_leader = raft::no_node;
};

// What a call asks the shell to do, in this order: send `messages`, deliver
// `answers`, arm `timers`.
struct outbox {
  struct timer {
    enum class kind { produce, fetch, step_down } what;
    std::uint32_t delay_ms = 0;
    std::uint64_t a = 0;  // produce: entry index; fetch: parked fetch id
    std::uint64_t b = 0;  // produce: entry term
  };
  std::vector<raft::message> messages;
  std::vector<std::pair<request_id, bytes>> answers;
  std::vector<timer> timers;
  std::optional<bool> step_down_done;  // answer to a step-down begun earlier
  bool schedule_ready = false;         // call process_readies() after the mailbox's queued requests
  std::optional<std::string> fatal;    // the replica cannot go on: stop it (the supervisor restarts)
  // As leader, the committed configuration now equals the target set with
  // this epoch (set_target): the broker records the partition as settled.
  std::optional<std::uint64_t> settled;
};

class partition_replica {
public:
  static storage::result<std::unique_ptr<partition_replica>> open(replica_settings settings);
  ~partition_replica();

  // A group of one needs no election round trip: runs the clock until it
  // leads (at most a few election timeouts of ticks).
  void elect_alone();

  // Inputs.
  void on_request(request_id id, const bytes& request);  // produce, fetch, listOffsets
  void on_raft(const raft::message& m);
  void tick();
  // The host's connection to `node` was lost (up = false) or made.
  void on_node_link(raft::node_id node, bool up);
  void process_readies();
  void produce_timeout(raft::index_t index, raft::term_t term);
  void fetch_timeout(std::uint64_t fetch_id);
  void sync_tick();                   // fsync=interval
  void apply_retention(std::int64_t now_ms);
  // A clean stop. false: nothing to wait for (answer true now). true: the
  // answer comes as outbox::step_down_done, at the latest after the
  // step_down timer fires and step_down_deadline() is called.
  bool begin_step_down();
  void step_down_deadline();

  // The voters the controller wants for this partition, and the epoch of
  // that assignment (membership_driver.hpp). Every replica keeps it; the
  // leader moves the group there one change per tick and reports
  // outbox::settled. A stale epoch is ignored.
  void set_target(std::vector<raft::node_id> voters, std::uint64_t epoch);

  // The cleaner: a job for a worker, or none; then its outcome.
  std::optional<cleaner_job> plan_cleaner(std::int64_t now_ms);
  void finish_cleaner(const cleaner_outcome& outcome);

  outbox take_output() { return std::exchange(out_, outbox{}); }

  // The process dies with it (simulations of a crash): the destructor does
  // not sync, and nothing more is done.
  void abandon() { failed_ = true; }

  // Observers.
  std::uint64_t high_watermark() const;
  std::uint64_t log_start_offset() const { return store_->log().log_start_offset(); }
  raft::node_id leader() const { return raft_->leader(); }
  bool is_leader() const { return raft_->state() == raft::role::leader; }
  // The group is quiet: the host need not tick until something wakes it.
  bool quiesced() const { return raft_->quiesced(); }
  // Whether a leader has told this replica (in this run) what is committed;
  // until then its high watermark is only what its snapshot covers.
  bool commit_known() const;
  bool leader_committed_in_term() const;
  // The leader's view of the other members (empty unless leading).
  std::vector<follower_status> followers() const { return followers_.report(*raft_, *store_, settings_.tick_ms); }
  const raft::node& raft() const { return *raft_; }
  const raft_store& store() const { return *store_; }
  raft_store& store() { return *store_; }
  const replica_settings& settings() const { return settings_; }

private:
  struct pending_produce {
    request_id id = 0;
    raft::term_t term = 0;
  };
  struct parked_fetch {
    request_id id = 0;
    std::uint64_t offset = 0;
    std::uint32_t max_bytes = 0;
  };

  partition_replica(replica_settings settings, std::unique_ptr<raft_store> store);

  void answer(request_id id, bytes response);
  void handle_produce(request_id id, schema::ProduceRequest::Reader req);
  void handle_fetch(request_id id, schema::FetchRequest::Reader req);
  void handle_list_offsets(request_id id, schema::ListOffsetsRequest::Reader req);
  bytes serve_fetch(std::uint64_t offset, std::uint32_t max_bytes);
  bytes fetch_response(schema::ErrorCode code, const std::string& message, const bytes& records) const;
  bytes not_leader() const;
  bytes not_yet(std::uint64_t offset) const;
  void note_leadership();
  void answer_produces();
  void answer_upto(std::map<raft::index_t, pending_produce>& waiting, raft::index_t upto);
  // Answers every waiting produce with `code`, except those of keep_term.
  void fail_produces(schema::ErrorCode code, const std::string& why, std::optional<raft::term_t> keep_term = {});
  void wake_parked_fetches();
  void fail(const std::string& why);
  void drive_membership();
  void balance_leadership();

  replica_settings settings_;
  std::unique_ptr<raft_store> store_;
  std::unique_ptr<raft::node> raft_;
  outbox out_;
  bool failed_ = false;
  raft::index_t commit_ = 0;  // applied: the high watermark's entry
  bool commit_known_ = false;  // a ready reported a commit index in this run
  std::map<raft::index_t, pending_produce> await_append_;  // acks=1
  std::map<raft::index_t, pending_produce> await_commit_;  // acks=all
  raft::node_id known_leader_ = raft::no_node;
  raft::term_t known_term_ = 0;
  std::map<std::uint64_t, parked_fetch> parked_;
  std::uint64_t next_fetch_id_ = 0;
  bool stepping_down_ = false;
  cleaner_state cleaner_;
  membership_driver membership_;
  raft::node_id preferred_leader_ = raft::no_node;
  std::uint32_t led_ticks_ = 0;  // ticks since this replica became leader (balance_leadership)
  follower_tracker followers_;
};

}  // namespace herald::replication
