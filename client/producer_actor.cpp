#include <deque>
#include <map>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>
#include <xxhash.h>

#include "protocol/atoms.hpp"
#include "protocol/errors.hpp"
#include "client/actors.hpp"
#include "client/retry_rules.hpp"
#include "client/session_call.hpp"
#include "schema/wire.hpp"

namespace herald::client {

namespace {

using bytes = std::vector<char>;
using record_promise = caf::typed_response_promise<std::uint32_t, std::int64_t>;
using schema::ErrorCode;

using steady = std::chrono::steady_clock;

struct batch {
  bytes data;
  std::vector<record_promise> promises;
  std::uint64_t seq = 0;  // order of sealing: a retried batch goes back to its place
  // Every attempt ends by first send + request_timeout_ms.
  std::optional<steady::time_point> deadline;
  bool resent = false;
};

struct partition_queue {
  storage::batch_builder builder;
  std::vector<record_promise> promises;  // of the records in `builder`
  std::deque<batch> ready;  // by seq
  std::map<std::uint64_t, batch> in_flight;  // by request number
  std::uint64_t next_seq = 0;
  backoff retry;              // reset by a success
  bool retry_armed = false;   // a batch waits out its back-off: nothing is sent
  // Set when a batch of this partition failed: every record queued behind it,
  // and every record sent to the partition until the next flush, fails with
  // it instead of being sent. A later batch landing after a
  // failed one would leave a gap the caller cannot see; the caller learns of
  // the failure by the next flush at the latest, and from then on decides.
  caf::error stopped;
};

struct waiting_record {
  std::optional<std::string> key;
  std::string value;
  std::int64_t timestamp;
  record_promise rp;
  std::int64_t expires_at = 0;  // ms since the epoch; 0: never
  bool tombstone = false;
};

struct topic_entry {
  std::uint32_t partition_count = 0;  // 0 until metadata arrived
  std::size_t max_batch_bytes = 0;    // the topic's limit, header included
  std::vector<waiting_record> waiting_for_metadata;
  std::uint32_t sticky_partition = 0;
  std::map<std::uint32_t, partition_queue> partitions;
};

struct producer_state {
  caf::actor session;
  producer_options options;
  std::map<std::string, topic_entry> topics;
  std::uint64_t outstanding = 0;  // records accepted and not yet answered
  bool linger_armed = false;
  std::vector<caf::typed_response_promise<caf::unit_t>> flush_waiters;
  std::uint64_t next_request = 0;
  std::uint64_t resent_records = 0;  // records in batches sent more than once
  caf::error broken;  // set once the session is gone: every send fails with it
  static inline const char* name = "herald.producer";
};

using self_ptr = caf::stateful_actor<producer_state>*;

// The broker answers a produce within its timeoutMs (the request timeout);
// waiting a little longer lets that answer, not a local timeout, decide.
caf::timespan client_request_timeout(const producer_options& options) {
  return std::chrono::milliseconds{options.request_timeout_ms} + std::chrono::seconds{5};
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
    .count();
}

void record_done(self_ptr self) {
  auto& st = self->state;
  if (--st.outstanding == 0) {
    for (auto& f : st.flush_waiters)
      f.deliver(caf::unit);
    st.flush_waiters.clear();
  }
}

void fail(self_ptr self, record_promise& rp, const caf::error& err) {
  rp.deliver(err);
  record_done(self);
}

void dispatch(self_ptr self, const std::string& topic, std::uint32_t partition);

// The partition's pipeline stops on its first failed batch: what is queued
// behind it fails with the same error and is never sent.
void stop_partition(self_ptr self, partition_queue& q, const caf::error& cause) {
  auto d = decode_error(cause);
  q.stopped = make_herald_error(d.code, "an earlier batch to this partition failed: " + d.message);
  for (auto& rp : q.promises)
    fail(self, rp, q.stopped);
  q.promises.clear();
  q.builder = storage::batch_builder{};
  auto ready = std::move(q.ready);
  q.ready.clear();
  for (auto& b : ready)
    for (auto& rp : b.promises)
      fail(self, rp, q.stopped);
}

void on_produce_response(self_ptr self, batch& b, std::uint32_t partition, schema::Response::Reader r) {
  // acks=none: the broker took the batch but gives no offsets (-1).
  auto base = r.getProduce().getBaseOffset();
  if (self->state.options.acks == schema::Acks::NONE)
    base = -1;
  for (std::size_t i = 0; i < b.promises.size(); ++i) {
    b.promises[i].deliver(partition, base < 0 ? base : base + static_cast<std::int64_t>(i));
    record_done(self);
  }
}

bytes produce_request(const std::string& topic, std::uint32_t partition, const producer_options& options,
                      std::uint32_t timeout_ms, const bytes& batch_bytes) {
  capnp::MallocMessageBuilder builder;
  auto p = builder.initRoot<schema::Request>().initProduce();
  p.setTopic(topic);
  p.setPartition(partition);
  p.setAcks(options.acks);
  p.setTimeoutMs(timeout_ms);
  p.setBatch(kj::arrayPtr(reinterpret_cast<const kj::byte*>(batch_bytes.data()), batch_bytes.size()));
  return wire::to_bytes(builder);
}

// Takes a batch that was in flight out of its queue; nullopt if it was
// already failed (the session went down while it was in flight).
std::optional<batch> take_in_flight(self_ptr self, const std::string& topic, std::uint32_t partition,
                                    std::uint64_t id) {
  auto& q = self->state.topics[topic].partitions[partition];
  auto i = q.in_flight.find(id);
  if (i == q.in_flight.end())
    return std::nullopt;
  batch b = std::move(i->second);
  q.in_flight.erase(i);
  return b;
}

// A failed attempt: sent again after a back-off if the error may pass and
// the batch's time allows, in its place (before every batch sealed after
// it); otherwise its records fail and the partition's pipeline stops.
void on_batch_error(self_ptr self, const std::string& topic, std::uint32_t partition, batch b, ErrorCode code,
                    const std::string& message) {
  auto& st = self->state;
  auto& q = st.topics[topic].partitions[partition];
  if (st.options.retry && !q.stopped && is_worth_retrying(code) && b.deadline) {
    if (auto delay = retry_delay(q.retry, steady::now(), *b.deadline)) {
      if (!b.resent) {
        b.resent = true;
        st.resent_records += b.promises.size();
      }
      spdlog::debug("{}/{}: resending a batch of {} record(s) in {} ms after: {}", topic, partition,
                    b.promises.size(), delay->count(), message);
      auto at = std::find_if(q.ready.begin(), q.ready.end(), [&](const batch& r) { return r.seq > b.seq; });
      q.ready.insert(at, std::move(b));
      if (!q.retry_armed) {
        q.retry_armed = true;
        self->delayed_send(self, *delay, retry_atom::value, topic, partition);
      }
      return;
    }
  }
  auto err = make_herald_error(code, message);
  for (auto& rp : b.promises)
    fail(self, rp, err);
  stop_partition(self, q, err);
}

// Sends ready batches of one partition while the in-flight window allows.
// acks=none is a request like the others: the partition answers it as soon
// as it has taken the batch (a follower refuses it with notLeader), so a
// batch the broker refused is retried or reported, never silently dropped.
void dispatch(self_ptr self, const std::string& topic, std::uint32_t partition) {
  auto& st = self->state;
  auto& q = st.topics[topic].partitions[partition];
  while (!q.stopped && !q.retry_armed && !q.ready.empty() &&
         q.in_flight.size() < st.options.max_in_flight_per_partition) {
    batch b = std::move(q.ready.front());
    q.ready.pop_front();
    const auto now = steady::now();
    if (!b.deadline)
      b.deadline = now + std::chrono::milliseconds{st.options.request_timeout_ms};
    // The broker gets what is left of the batch's time, so that it answers
    // (timeout) before the deadline rather than after it.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*b.deadline - now).count();
    const auto timeout_ms = static_cast<std::uint32_t>(std::max<std::int64_t>(left, 1));
    auto request = produce_request(topic, partition, st.options, timeout_ms, b.data);
    auto id = st.next_request++;
    q.in_flight.emplace(id, std::move(b));
    call_session(
      self, st.session, std::move(request),
      std::chrono::milliseconds{timeout_ms} + std::chrono::seconds{5},
      [=](schema::Response::Reader r) {
        if (auto b = take_in_flight(self, topic, partition, id)) {
          self->state.topics[topic].partitions[partition].retry.reset();
          on_produce_response(self, *b, partition, r);
          dispatch(self, topic, partition);
        }
      },
      [=](ErrorCode code, const std::string& message) {
        if (auto b = take_in_flight(self, topic, partition, id))
          on_batch_error(self, topic, partition, std::move(*b), code, message);
      });
  }
}

void seal(self_ptr self, const std::string& topic, std::uint32_t partition) {
  auto& entry = self->state.topics[topic];
  auto& q = entry.partitions[partition];
  if (q.builder.empty())
    return;
  q.ready.push_back(batch{q.builder.build(), std::move(q.promises), q.next_seq++, std::nullopt, false});
  q.promises.clear();
  // Keyless records move on to the next partition with each batch, which
  // spreads them without splitting batches into tiny ones.
  if (entry.partition_count > 0 && partition == entry.sticky_partition)
    entry.sticky_partition = (entry.sticky_partition + 1) % entry.partition_count;
  dispatch(self, topic, partition);
}

void seal_all(self_ptr self) {
  for (auto& [topic, entry] : self->state.topics)
    for (auto& [partition, q] : entry.partitions)
      seal(self, topic, partition);
}

// A close upper bound of what one record adds to a batch: its Cap'n Proto
// struct and list pointer (~64 bytes) plus key and value padded to words.
std::size_t record_cost(std::size_t key_size, std::size_t value_size) {
  auto words = [](std::size_t n) { return (n + 7) / 8 * 8; };
  return 64 + words(key_size) + words(value_size);
}

void add_to(storage::batch_builder& b, const waiting_record& r) {
  if (r.tombstone)
    b.add_tombstone(r.timestamp, *r.key);
  else if (r.expires_at != 0)
    b.add_expiring(r.timestamp, r.expires_at, r.key ? std::optional<std::string_view>{*r.key} : std::nullopt, r.value);
  else
    b.add(r.timestamp, r.key ? std::optional<std::string_view>{*r.key} : std::nullopt, r.value);
}

// The size of an uncompressed batch holding `r` alone, or an upper bound of
// it that is within `limit`. The estimate does for most records; the exact
// size is built (once) only for a record near or over the limit.
std::size_t uncompressed_size_alone(const waiting_record& r, std::size_t limit) {
  const auto estimate = storage::batch_header_size + 64 + record_cost(r.key ? r.key->size() : 0, r.value.size());
  if (estimate <= limit)
    return estimate;
  storage::batch_builder b;
  add_to(b, r);
  return b.build().size();
}

void append(self_ptr self, const std::string& topic, waiting_record&& r) {
  auto& st = self->state;
  auto& entry = st.topics[topic];
  std::uint32_t partition = entry.sticky_partition;
  if (r.key)
    partition = static_cast<std::uint32_t>(XXH3_64bits(r.key->data(), r.key->size()) % entry.partition_count);
  auto& q = entry.partitions[partition];
  if (q.stopped) {
    fail(self, r.rp, q.stopped);
    return;
  }
  // A record that cannot fit the topic's limit even alone in a batch is
  // refused here, before anything is sent. The limit counts the
  // uncompressed size (the broker checks that too), so compression does not
  // let a record through. Nothing is queued for it: it fails alone.
  if (const auto alone = uncompressed_size_alone(r, entry.max_batch_bytes); alone > entry.max_batch_bytes) {
    fail(self, r.rp,
         make_herald_error(ErrorCode::RECORD_TOO_LARGE,
                           "a batch of this record alone takes " + std::to_string(alone) + " bytes, over topic " +
                             topic + "'s limit of " + std::to_string(entry.max_batch_bytes - storage::batch_header_size) +
                             " bytes plus the " + std::to_string(storage::batch_header_size) + "-byte header"));
    return;
  }
  // Set before the size checks: the builder's estimate counts the codec's
  // worst case, so a compressed batch still fits the topic's limit.
  q.builder.set_compression(st.options.compression);
  // Batches stay within the topic's limit: a record that would push the
  // open batch past it goes into the next one. (One record over the limit
  // on its own was refused above.)
  auto limit = std::min(st.options.batch_bytes, entry.max_batch_bytes);
  auto cost = record_cost(r.key ? r.key->size() : 0, r.value.size());
  if (!q.builder.empty() && q.builder.estimated_size() + cost > limit)
    seal(self, topic, partition);
  add_to(q.builder, r);
  q.promises.push_back(std::move(r.rp));
  if (q.builder.estimated_size() >= limit || q.builder.record_count() >= st.options.batch_records) {
    seal(self, topic, partition);
  } else if (!st.linger_armed) {
    st.linger_armed = true;
    self->delayed_send(self, std::chrono::milliseconds{st.options.linger_ms}, linger_atom::value);
  }
}

void request_metadata(self_ptr self, const std::string& topic) {
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::Request>().initMetadata().initTopics(1).set(0, topic);
  auto on_error = [=](ErrorCode code, const std::string& message) {
    auto& entry = self->state.topics[topic];
    auto waiting = std::move(entry.waiting_for_metadata);
    self->state.topics.erase(topic);
    auto err = make_herald_error(code, message);
    for (auto& w : waiting)
      fail(self, w.rp, err);
  };
  call_session(
    self, self->state.session, wire::to_bytes(builder),
    client_request_timeout(self->state.options),
    [=](schema::Response::Reader r) {
      auto& entry = self->state.topics[topic];
      auto info = r.getMetadata().getTopics()[0];
      entry.partition_count = info.getPartitionCount();
      entry.max_batch_bytes = info.getConfig().getMaxBatchBytes() + storage::batch_header_size;
      auto waiting = std::move(entry.waiting_for_metadata);
      entry.waiting_for_metadata.clear();
      for (auto& w : waiting)
        append(self, topic, std::move(w));
    },
    on_error);
}

caf::behavior producer_actor(self_ptr self, caf::actor session, producer_options options) {
  self->state.session = session;
  self->state.options = options;
  self->monitor(session);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    st.broken = make_herald_error(ErrorCode::PARTITION_UNAVAILABLE, "connection to the broker lost");
    auto topics = std::move(st.topics);
    st.topics.clear();
    for (auto& [topic, entry] : topics) {
      for (auto& w : entry.waiting_for_metadata)
        fail(self, w.rp, st.broken);
      for (auto& [p, q] : entry.partitions) {
        for (auto& rp : q.promises)
          fail(self, rp, st.broken);
        for (auto& b : q.ready)
          for (auto& rp : b.promises)
            fail(self, rp, st.broken);
        for (auto& [id, b] : q.in_flight)
          for (auto& rp : b.promises)
            fail(self, rp, st.broken);
      }
    }
    // Every record is answered: nothing is left for this actor to do.
    self->quit(dm.reason);
  });
  auto accept = [=](const std::string& topic, waiting_record&& r) -> record_promise {
    auto& st = self->state;
    auto rp = self->make_response_promise<std::uint32_t, std::int64_t>();
    if (st.broken) {
      rp.deliver(st.broken);
      return rp;
    }
    ++st.outstanding;
    r.rp = rp;
    auto& entry = st.topics[topic];
    if (entry.partition_count == 0) {
      bool first = entry.waiting_for_metadata.empty();
      entry.waiting_for_metadata.push_back(std::move(r));
      if (first)
        request_metadata(self, topic);
    } else {
      append(self, topic, std::move(r));
    }
    return rp;
  };
  return {
    [=](send_atom, std::string& topic, std::optional<std::string>& key, std::string& value) -> record_promise {
      return accept(topic, waiting_record{std::move(key), std::move(value), now_ms(), {}});
    },
    [=](send_atom, std::string& topic, std::optional<std::string>& key, std::string& value,
        std::int64_t expires_at) -> record_promise {
      return accept(topic, waiting_record{std::move(key), std::move(value), now_ms(), {}, expires_at});
    },
    [=](tombstone_atom, std::string& topic, std::string& key) -> record_promise {
      return accept(topic, waiting_record{std::move(key), {}, now_ms(), {}, 0, true});
    },
    [=](flush_atom) -> caf::typed_response_promise<caf::unit_t> {
      auto rp = self->make_response_promise<caf::unit_t>();
      seal_all(self);
      // The caller learns every outcome from this flush: stopped partitions
      // take records again from here on.
      for (auto& [topic, entry] : self->state.topics)
        for (auto& [p, q] : entry.partitions)
          q.stopped = caf::error{};
      if (self->state.outstanding == 0)
        rp.deliver(caf::unit);
      else
        self->state.flush_waiters.push_back(rp);
      return rp;
    },
    [=](retry_atom, const std::string& topic, std::uint32_t partition) {
      auto& q = self->state.topics[topic].partitions[partition];
      q.retry_armed = false;
      dispatch(self, topic, partition);
    },
    [=](caf::get_atom) -> std::uint64_t { return self->state.resent_records; },
    [=](linger_atom) {
      self->state.linger_armed = false;
      seal_all(self);
    },
  };
}

} // namespace

caf::actor spawn_producer(caf::actor_system& system, caf::actor session, producer_options options) {
  return system.spawn(producer_actor, std::move(session), options);
}

} // namespace herald::client
