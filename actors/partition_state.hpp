#pragma once
// Private to the partition actor's translation units (partition_actor.cpp
// drives the Raft node, partition_requests.cpp answers clients).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "actors/partition_actor.hpp"
#include "raft/node.hpp"
#include "replication/raft_store.hpp"
#include "schema/client.capnp.h"
#include "storage/compaction.hpp"

namespace herald::actors {

using bytes = std::vector<char>;
using promise = caf::typed_response_promise<bytes>;

// A produce waiting for its entry to be appended (acks=1) or committed
// (acks=all). The term tells whether the entry at `index` is still ours.
struct pending_produce {
  promise rp;
  raft::term_t term = 0;
};

struct parked_fetch {
  promise rp;
  std::uint64_t offset;
  std::uint32_t max_bytes;
};

// What a cleaner worker reports back (partition_cleaner.cpp).
struct cleaner_outcome {
  std::optional<storage::cleaned_segments> cleaned;
  std::string error;
};

struct partition_state {
  partition_args args;
  caf::actor parent;
  std::unique_ptr<replication::raft_store> store;
  std::unique_ptr<raft::node> raft;
  bool ready_scheduled = false;
  raft::index_t commit = 0;                              // applied: the high watermark's entry
  std::map<raft::index_t, pending_produce> await_append;  // acks=1
  std::map<raft::index_t, pending_produce> await_commit;  // acks=all
  raft::node_id known_leader = raft::no_node;
  raft::term_t known_term = 0;
  std::map<std::uint64_t, parked_fetch> parked;
  std::uint64_t next_fetch_id = 0;
  // A clean stop waiting for leadership to move (answered true once it did).
  std::optional<caf::typed_response_promise<bool>> stepping_down;
  // The cleaner (TTL reclaim, key compaction): one worker at a time.
  bool cleaning = false;
  std::set<std::uint64_t> ttl_cleaned;    // delete-policy segments already swept once
  std::uint64_t compact_next_base = 0;    // compact policy: where the next pass starts

  storage::partition_log& log() { return store->log(); }
  bool is_leader() const { return raft && raft->state() == raft::role::leader; }
  std::uint64_t high_watermark() const;

  ~partition_state();

  static inline const char* name = "herald.partition";
};

using partition_ptr = caf::stateful_actor<partition_state>*;

} // namespace herald::actors

// Only between a partition actor and its cleaner worker, in one process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(herald::actors::cleaner_outcome)

namespace herald::actors {

// partition_actor.cpp
void schedule_ready(partition_ptr self);

// partition_requests.cpp
void handle_client_request(partition_ptr self, const bytes& request, promise rp);
void wake_parked_fetches(partition_ptr self);
void answer_fetch_timeout(partition_ptr self, std::uint64_t id);
// Answers waiting produces that the log or the commit index now covers.
void answer_produces(partition_ptr self);
// Fails every waiting produce: leadership was lost (or the replica stops).
void fail_produces(partition_ptr self, schema::ErrorCode code, const std::string& why);
void answer_produce_timeout(partition_ptr self, raft::index_t index, raft::term_t term);

// partition_cleaner.cpp: starts a cleaner worker on the committed closed
// segments when there is work; the outcome arrives as (cleaned_atom, outcome).
void start_cleaner(partition_ptr self);
void finish_cleaner(partition_ptr self, cleaner_outcome& outcome);

} // namespace herald::actors
