#pragma once
// Private to the ZooKeeper actor's translation units (actors/zk_actor.hpp
// says what the actor does):
//   zk_actor.cpp         the session (connect, expiry, the retry clock), the
//                        behaviour, and what the node actor is told
//   zk_actor_setup.cpp   joining through a new session: paths, cluster id,
//                        the broker's ephemeral node
//   zk_actor_reads.cpp   reading brokers, topics, ACLs and users with
//                        watches, the controller election, watch events
//   zk_actor_writes.cpp  metadata writes for the node actor (and controller)

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <caf/all.hpp>

#include "actors/zk_actor.hpp"
#include "cluster/zk_records.hpp"
#include "cluster/zk_session.hpp"

namespace herald {
using zk_event_atom = caf::atom_constant<caf::atom("zk_event")>;  // (gen, state) from ZooKeeper's thread
using zk_watch_atom = caf::atom_constant<caf::atom("zk_watch")>;  // (gen, event, path) from ZooKeeper's thread
using zk_tick_atom = caf::atom_constant<caf::atom("zk_tick")>;    // retry clock
using zk_flush_atom = caf::atom_constant<caf::atom("zk_flush")>;  // send the view once the mailbox is drained
} // namespace herald

namespace herald::actors::zk_detail {

using cluster::zk_session;
using cluster::zk_state;
using clock_type = std::chrono::steady_clock;

// Where ZooKeeper's threads send: this actor until its state goes (the
// strong handle it holds is dropped then, so there is no lasting cycle).
class zk_inbox {
public:
  void set(caf::actor a) {
    std::lock_guard<std::mutex> lock{mutex_};
    actor_ = std::move(a);
  }
  caf::actor get() {
    std::lock_guard<std::mutex> lock{mutex_};
    return actor_;
  }

private:
  std::mutex mutex_;
  caf::actor actor_;
};

struct zk_actor_state {
  std::shared_ptr<zk_inbox> inbox = std::make_shared<zk_inbox>();
  zk_args args;
  cluster::zk::paths paths;
  std::string hosts;
  std::unique_ptr<zk_session> session;
  std::uint64_t generation = 0;  // of `session`; callbacks carry it
  zk_state state = zk_state::connecting;
  bool ready = false;       // registered and watching in this session
  bool announced = false;   // the node was last told "available"
  clock_type::time_point down_since = clock_type::now();
  clock_type::time_point last_complaint{};
  std::optional<clock_type::time_point> duplicate_since;  // waiting for an old broker node to go
  bool fatal = false;

  cluster::cluster_view view;
  std::map<std::string, std::int32_t> topic_versions;
  bool dirty = false;
  bool flush_queued = false;
  zk_security security;          // /herald/acls and /herald/users as last read
  bool security_dirty = false;

  static inline const char* name = "herald.zk";

  // CAF destroys the state when the actor exits (before attached functors
  // run): the session closes here, so the broker's ephemeral node goes at once.
  ~zk_actor_state() {
    inbox->set(caf::actor{});
    session.reset();
  }
};

using zk_ptr = caf::stateful_actor<zk_actor_state>*;

// zk_actor.cpp: what the node actor hears.
void queue_flush(zk_ptr self);
void mark_dirty(zk_ptr self);           // the view changed: send it once the mailbox is drained
void mark_security_dirty(zk_ptr self);  // ACLs or users changed: likewise
void announce(zk_ptr self, bool available);
void fail_fatally(zk_ptr self, const std::string& why);

// zk_actor_setup.cpp: paths, cluster id, registration, first reads and the
// election in a connected session; ready once all went through.
void setup(zk_ptr self);

// zk_actor_reads.cpp. false: a call failed retriably (the caller gives up
// this round).
bool read_topic(zk_ptr self, const std::string& name);
bool read_topics(zk_ptr self);
bool read_brokers(zk_ptr self);
bool read_acls(zk_ptr self);
bool read_users(zk_ptr self);
bool elect(zk_ptr self);
void send_security(zk_ptr self);
void on_watch(zk_ptr self, cluster::zk_event type, const std::string& path);

// zk_actor_writes.cpp: the answers to the node actor's requests
// (zk_actor.hpp's protocol).
using outcome = std::tuple<std::int32_t, std::string>;
using counted_outcome = std::tuple<std::int32_t, std::string, std::uint32_t, std::uint32_t>;
outcome create_topic(zk_ptr self, const zk_topic_ptr& topic);
outcome delete_topic(zk_ptr self, const std::string& name, std::uint64_t id);
outcome update_topic(zk_ptr self, const std::string& name, const zk_topic_update& fn);
counted_outcome update_acls(zk_ptr self, const std::vector<std::string>& add, const std::vector<std::string>& remove);
counted_outcome update_users(zk_ptr self, const std::vector<std::string>& names,
                             const std::vector<std::string>& credentials, const std::vector<std::string>& remove);
void mark_settled(zk_ptr self, const std::string& topic, std::uint32_t partition, std::uint64_t epoch);

} // namespace herald::actors::zk_detail
