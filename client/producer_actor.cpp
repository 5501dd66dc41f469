#include <deque>
#include <map>

#include <caf/all.hpp>
#include <xxhash.h>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "client/actors.hpp"
#include "client/session_call.hpp"
#include "schema/wire.hpp"

namespace herald::client {

namespace {

using bytes = std::vector<char>;
using record_promise = caf::typed_response_promise<std::uint32_t, std::int64_t>;
using schema::ErrorCode;

struct batch {
  bytes data;
  std::vector<record_promise> promises;
};

struct partition_queue {
  storage::batch_builder builder;
  std::vector<record_promise> promises;  // of the records in `builder`
  std::deque<batch> ready;
  std::map<std::uint64_t, batch> in_flight;  // by request number
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
  caf::error broken;  // set once the session is gone: every send fails with it
  static inline const char* name = "herald.producer";
};

using self_ptr = caf::stateful_actor<producer_state>*;

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

void on_produce_response(self_ptr self, batch& b, std::uint32_t partition, schema::Response::Reader r) {
  auto base = r.getProduce().getBaseOffset();
  for (std::size_t i = 0; i < b.promises.size(); ++i) {
    b.promises[i].deliver(partition, base + static_cast<std::int64_t>(i));
    record_done(self);
  }
}

bytes produce_request(const std::string& topic, std::uint32_t partition, const producer_options& options,
                      const bytes& batch_bytes) {
  capnp::MallocMessageBuilder builder;
  auto p = builder.initRoot<schema::Request>().initProduce();
  p.setTopic(topic);
  p.setPartition(partition);
  p.setAcks(options.acks);
  p.setTimeoutMs(options.request_timeout_ms);
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

// Sends ready batches of one partition while the in-flight window allows.
void dispatch(self_ptr self, const std::string& topic, std::uint32_t partition) {
  auto& st = self->state;
  auto& q = st.topics[topic].partitions[partition];
  while (!q.ready.empty() && q.in_flight.size() < st.options.max_in_flight_per_partition) {
    batch b = std::move(q.ready.front());
    q.ready.pop_front();
    auto request = produce_request(topic, partition, st.options, b.data);
    if (st.options.acks == schema::Acks::NONE) {
      caf::anon_send(st.session, request_atom::value, std::move(request));
      for (auto& rp : b.promises) {
        rp.deliver(partition, std::int64_t{-1});
        record_done(self);
      }
      continue;
    }
    auto id = st.next_request++;
    q.in_flight.emplace(id, std::move(b));
    call_session(
      self, st.session, std::move(request), std::chrono::milliseconds{st.options.request_timeout_ms},
      [=](schema::Response::Reader r) {
        if (auto b = take_in_flight(self, topic, partition, id)) {
          on_produce_response(self, *b, partition, r);
          dispatch(self, topic, partition);
        }
      },
      [=](ErrorCode code, const std::string& message) {
        if (auto b = take_in_flight(self, topic, partition, id)) {
          auto err = make_herald_error(code, message);
          for (auto& rp : b->promises)
            fail(self, rp, err);
          dispatch(self, topic, partition);
        }
      });
  }
}

void seal(self_ptr self, const std::string& topic, std::uint32_t partition) {
  auto& entry = self->state.topics[topic];
  auto& q = entry.partitions[partition];
  if (q.builder.empty())
    return;
  q.ready.push_back(batch{q.builder.build(), std::move(q.promises)});
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

void append(self_ptr self, const std::string& topic, waiting_record&& r) {
  auto& st = self->state;
  auto& entry = st.topics[topic];
  std::uint32_t partition = entry.sticky_partition;
  if (r.key)
    partition = static_cast<std::uint32_t>(XXH3_64bits(r.key->data(), r.key->size()) % entry.partition_count);
  auto& q = entry.partitions[partition];
  // Set before the size checks: the builder's estimate counts the codec's
  // worst case, so a compressed batch still fits the topic's limit.
  q.builder.set_compression(st.options.compression);
  // Batches stay within the topic's limit: a record that would push the
  // open batch past it goes into the next one. (One record over the limit
  // on its own still goes, and fails alone with recordTooLarge.)
  auto limit = std::min(st.options.batch_bytes, entry.max_batch_bytes);
  auto cost = record_cost(r.key ? r.key->size() : 0, r.value.size());
  if (!q.builder.empty() && q.builder.estimated_size() + cost > limit)
    seal(self, topic, partition);
  if (r.tombstone)
    q.builder.add_tombstone(r.timestamp, *r.key);
  else if (r.expires_at != 0)
    q.builder.add_expiring(r.timestamp, r.expires_at, r.key ? std::optional<std::string_view>{*r.key} : std::nullopt,
                           r.value);
  else
    q.builder.add(r.timestamp, r.key ? std::optional<std::string_view>{*r.key} : std::nullopt, r.value);
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
    std::chrono::milliseconds{self->state.options.request_timeout_ms},
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
  self->set_down_handler([=](caf::down_msg&) {
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
      if (self->state.outstanding == 0)
        rp.deliver(caf::unit);
      else
        self->state.flush_waiters.push_back(rp);
      return rp;
    },
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
