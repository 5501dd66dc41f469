#pragma once
// Private to the partition actor's translation units: the CAF shell's state
// around replication::partition_replica (which holds every decision).
// partition_actor.cpp translates messages and timers, partition_requests.cpp
// maps request ids to response promises, partition_cleaner.cpp runs the
// cleaner worker.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include <caf/all.hpp>

#include "actors/partition_actor.hpp"
#include "replication/partition_replica.hpp"

namespace herald::actors {

using bytes = std::vector<char>;
using promise = caf::typed_response_promise<bytes>;

// Set when the partition actor's state is destroyed (the actor terminated):
// its cleaner worker, busy inside compact_segments() and deaf to the link's
// exit message until it returns, stops at the next batch instead.
struct cleaner_cancel {
  std::shared_ptr<std::atomic<bool>> flag = std::make_shared<std::atomic<bool>>(false);
  cleaner_cancel() = default;
  cleaner_cancel(const cleaner_cancel&) = delete;
  cleaner_cancel& operator=(const cleaner_cancel&) = delete;
  ~cleaner_cancel() { flag->store(true); }
};

struct partition_state {
  partition_args args;
  caf::actor parent;
  std::unique_ptr<replication::partition_replica> replica;
  bool ready_scheduled = false;
  bool quiet = false;  // last told the node: its group is quiet (not ticked)
  bool cleaner_armed = true;  // a cleaner_atom timer is pending
  // Client requests the replica has not answered yet, by request id.
  std::map<replication::request_id, promise> waiting;
  replication::request_id next_request_id = 0;
  // A clean stop waiting for leadership to move.
  std::optional<caf::typed_response_promise<bool>> stepping_down;
  cleaner_cancel cleaner_stop;

  static inline const char* name = "herald.partition";
};

using partition_ptr = caf::stateful_actor<partition_state>*;

} // namespace herald::actors

// Only between a partition actor and its cleaner worker, in one process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(herald::replication::cleaner_outcome)

namespace herald::actors {

// partition_actor.cpp: carries out what the replica's last calls asked for
// (messages, answers, timers, a stop).
void flush(partition_ptr self);

// partition_requests.cpp
void handle_client_request(partition_ptr self, const bytes& request, promise rp);
void deliver_answers(partition_ptr self, replication::outbox& out);

// partition_cleaner.cpp: starts a cleaner worker when the replica has work;
// the outcome arrives as (cleaned_atom, outcome).
void start_cleaner(partition_ptr self);

} // namespace herald::actors
