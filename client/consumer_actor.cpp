#include <deque>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "client/actors.hpp"
#include "client/session_call.hpp"
#include "schema/wire.hpp"

namespace herald::client {

namespace {

using bytes = std::vector<char>;
using records = std::vector<consumer_record>;
using schema::ErrorCode;

constexpr auto retry_delay = std::chrono::milliseconds{100};
constexpr auto request_margin = std::chrono::seconds{30};

struct cursor {
  std::int64_t position = -1;  // -1 until the start offset is known
  start_position start = start_position::latest;  // where to look it up
  bool fetching = false;
};

struct poll_waiter {
  caf::typed_response_promise<records> rp;
  std::uint32_t max_records;
  std::uint64_t id;
};

struct consumer_state {
  caf::actor session;
  std::string topic;
  consumer_options options;
  std::vector<cursor> cursors;
  std::deque<consumer_record> buffer;
  std::size_t buffered_bytes = 0;
  std::deque<poll_waiter> waiters;
  std::uint64_t next_poll = 0;
  caf::error failed;  // fatal: every poll fails with it
  static inline const char* name = "herald.consumer";
};

using self_ptr = caf::stateful_actor<consumer_state>*;

void fetch(self_ptr self, std::uint32_t partition);

std::vector<consumer_record> take(consumer_state& st, std::uint32_t max_records) {
  std::vector<consumer_record> out;
  while (!st.buffer.empty() && out.size() < max_records) {
    st.buffered_bytes -= st.buffer.front().record.value.size();
    out.push_back(std::move(st.buffer.front()));
    st.buffer.pop_front();
  }
  return out;
}

void serve_waiters(self_ptr self) {
  auto& st = self->state;
  while (!st.waiters.empty() && (!st.buffer.empty() || st.failed)) {
    auto w = std::move(st.waiters.front());
    st.waiters.pop_front();
    if (st.buffer.empty())
      w.rp.deliver(st.failed);
    else
      w.rp.deliver(take(st, w.max_records));
  }
  // Room in the buffer again: resume partitions that stopped for it.
  for (std::uint32_t p = 0; p < st.cursors.size(); ++p)
    fetch(self, p);
}

void fail_all(self_ptr self, caf::error err) {
  self->state.failed = std::move(err);
  serve_waiters(self);
}

template <class OnOk, class OnError>
void call(self_ptr self, std::vector<char> request, caf::timespan timeout, OnOk on_ok, OnError on_error) {
  call_session(self, self->state.session, std::move(request), timeout, on_ok, on_error);
}

void fetch(self_ptr self, std::uint32_t partition) {
  auto& st = self->state;
  auto& c = st.cursors[partition];
  if (c.fetching || c.position < 0 || st.failed || st.buffered_bytes >= st.options.max_buffered_bytes)
    return;
  c.fetching = true;
  capnp::MallocMessageBuilder builder;
  auto f = builder.initRoot<schema::Request>().initFetch();
  f.setTopic(st.topic);
  f.setPartition(partition);
  f.setOffset(c.position);
  f.setMaxBytes(st.options.fetch_max_bytes);
  f.setMaxWaitMs(st.options.fetch_max_wait_ms);
  auto timeout = std::chrono::milliseconds{st.options.fetch_max_wait_ms} + request_margin;
  call(
    self, wire::to_bytes(builder), timeout,
    [=](schema::Response::Reader r) {
      auto& st = self->state;
      auto& c = st.cursors[partition];
      c.fetching = false;
      auto data = r.getFetch().getRecords();
      auto status = storage::for_each_batch(
        {reinterpret_cast<const char*>(data.begin()), data.size()}, [&](std::span<const char> batch) {
          // Control batches (Raft's own entries) take offsets but hold no
          // records for consumers.
          const auto header = storage::decode_batch_header(batch);
          if (header.is_control()) {
            c.position = std::max(c.position, static_cast<std::int64_t>(header.next_offset()));
            return;
          }
          const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
          auto decoded = storage::for_each_record(batch, static_cast<std::uint64_t>(c.position),
                                                  [&](storage::record&& rec) {
                                                    c.position = static_cast<std::int64_t>(rec.offset) + 1;
                                                    if (storage::expired(rec, now)) return;  // its TTL passed
                                                    st.buffered_bytes += rec.value.size();
                                                    st.buffer.push_back({partition, std::move(rec)});
                                                  });
          if (!decoded)
            spdlog::error("{}/{}: undecodable batch: {}", st.topic, partition, decoded.message);
          // Offsets the cleaner emptied (or expired records) are gaps.
          c.position = std::max(c.position, static_cast<std::int64_t>(header.next_offset()));
        });
      if (!status) {
        fail_all(self, make_herald_error(ErrorCode::CORRUPT_BATCH, status.message));
        return;
      }
      serve_waiters(self);
      fetch(self, partition);
    },
    [=](ErrorCode code, const std::string& message) {
      auto& st = self->state;
      st.cursors[partition].fetching = false;
      if (code == ErrorCode::OFFSET_OUT_OF_RANGE || wire::is_retriable(code)) {
        // Out of range: the log start moved past us (retention) or the log
        // was cut back; a retry from the earliest offset is handled by the
        // start-offset lookup. Retriable: try again shortly.
        if (code == ErrorCode::OFFSET_OUT_OF_RANGE) {
          st.cursors[partition].position = -1;
          st.cursors[partition].start = start_position::earliest;
        }
        self->delayed_send(self, retry_delay, retry_atom::value, partition);
        return;
      }
      fail_all(self, make_herald_error(code, message));
    });
}

void find_start(self_ptr self, std::uint32_t partition, start_position where) {
  auto& st = self->state;
  capnp::MallocMessageBuilder builder;
  auto l = builder.initRoot<schema::Request>().initListOffsets();
  l.setTopic(st.topic);
  l.setPartition(partition);
  if (where == start_position::earliest)
    l.setEarliest();
  else
    l.setLatest();
  call(
    self, wire::to_bytes(builder), request_margin,
    [=](schema::Response::Reader r) {
      self->state.cursors[partition].position = r.getListOffsets().getOffset();
      fetch(self, partition);
    },
    [=](ErrorCode code, const std::string& message) {
      if (wire::is_retriable(code))
        self->delayed_send(self, retry_delay, retry_atom::value, partition);
      else
        fail_all(self, make_herald_error(code, message));
    });
}

caf::behavior consumer_actor(self_ptr self, caf::actor session, std::string topic, consumer_options options) {
  auto& st = self->state;
  st.session = session;
  st.topic = std::move(topic);
  st.options = options;
  self->monitor(session);
  self->set_down_handler([=](caf::down_msg&) {
    fail_all(self, make_herald_error(ErrorCode::PARTITION_UNAVAILABLE, "connection to the broker lost"));
  });
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::Request>().initMetadata().initTopics(1).set(0, st.topic);
  call(
    self, wire::to_bytes(builder), request_margin,
    [=](schema::Response::Reader r) {
      auto count = r.getMetadata().getTopics()[0].getPartitionCount();
      self->state.cursors.resize(count, cursor{-1, self->state.options.start, false});
      for (std::uint32_t p = 0; p < count; ++p)
        find_start(self, p, self->state.options.start);
    },
    [=](ErrorCode code, const std::string& message) { fail_all(self, make_herald_error(code, message)); });

  return {
    [=](poll_atom, std::uint32_t max_records, std::uint32_t timeout_ms) -> caf::typed_response_promise<records> {
      auto& st = self->state;
      auto rp = self->make_response_promise<records>();
      if (!st.buffer.empty()) {
        rp.deliver(take(st, std::max(max_records, 1u)));
        serve_waiters(self);
      } else if (st.failed) {
        rp.deliver(st.failed);
      } else {
        auto id = st.next_poll++;
        st.waiters.push_back({rp, std::max(max_records, 1u), id});
        self->delayed_send(self, std::chrono::milliseconds{timeout_ms}, poll_timeout_atom::value, id);
      }
      return rp;
    },
    [=](poll_timeout_atom, std::uint64_t id) {
      auto& waiters = self->state.waiters;
      for (auto i = waiters.begin(); i != waiters.end(); ++i) {
        if (i->id == id) {
          i->rp.deliver(records{});
          waiters.erase(i);
          return;
        }
      }
    },
    [=](retry_atom, std::uint32_t partition) {
      const auto& c = self->state.cursors[partition];
      if (c.position < 0)
        find_start(self, partition, c.start);
      else
        fetch(self, partition);
    },
  };
}

} // namespace

caf::actor spawn_consumer(caf::actor_system& system, caf::actor session, std::string topic,
                          consumer_options options) {
  return system.spawn(consumer_actor, std::move(session), std::move(topic), options);
}

} // namespace herald::client
