#include <deque>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "protocol/atoms.hpp"
#include "protocol/errors.hpp"
#include "client/actors.hpp"
#include "client/backoff.hpp"
#include "client/retry_rules.hpp"
#include "client/session_call.hpp"
#include "schema/wire.hpp"

namespace herald::client {

namespace {

using bytes = std::vector<char>;
using records = std::vector<consumer_record>;
using schema::ErrorCode;

constexpr auto request_margin = std::chrono::seconds{30};

struct cursor {
  std::int64_t position = -1;  // -1 until the start offset is known
  bool fetching = false;
  bool retry_armed = false;  // a retry_atom is on its way
  backoff retry;
  ErrorCode last_error = ErrorCode::NONE;
  std::string message;
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

void succeeded(cursor& c) {
  c.retry.reset();
  c.last_error = ErrorCode::NONE;
  c.message.clear();
}

// A transient error: the partition is tried again after a back-off (50 ms
// doubling to 2 s), at the same position. The consumer never rewinds for it.
void retry_later(self_ptr self, std::uint32_t partition, ErrorCode code, const std::string& message) {
  auto& c = self->state.cursors[partition];
  c.last_error = code;
  c.message = message;
  auto delay = c.retry.next();
  if (c.retry_armed)
    return;
  c.retry_armed = true;
  self->delayed_send(self, delay, retry_atom::value, partition);
}

template <class OnOk, class OnError>
void call(self_ptr self, std::vector<char> request, caf::timespan timeout, OnOk on_ok, OnError on_error) {
  call_session(self, self->state.session, std::move(request), timeout, on_ok, on_error);
}

void fetch(self_ptr self, std::uint32_t partition) {
  auto& st = self->state;
  auto& c = st.cursors[partition];
  // A partition waiting out its back-off is fetched by its retry, not by polls.
  if (c.fetching || c.retry_armed || c.position < 0 || st.failed ||
      st.buffered_bytes >= st.options.max_buffered_bytes)
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
  call_session_with_fetch_error(
    self, st.session, wire::to_bytes(builder), timeout,
    [=](schema::Response::Reader r) {
      auto& st = self->state;
      auto& c = st.cursors[partition];
      c.fetching = false;
      succeeded(c);
      auto data = r.getFetch().getRecords();
      std::string undecodable;  // set at the first batch that passes its CRC but does not decode
      auto status = storage::for_each_batch(
        {reinterpret_cast<const char*>(data.begin()), data.size()}, [&](std::span<const char> batch) {
          if (!undecodable.empty())
            return;  // nothing past a batch the consumer could not read
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
          if (!decoded) {
            // Skipping it would lose its records silently: stop here and say
            // so (records decoded before the problem stay delivered).
            undecodable = st.topic + "/" + std::to_string(partition) + ": the batch at offset " +
                          std::to_string(header.base_offset) + " passes its CRC but does not decode: " +
                          decoded.message;
            return;
          }
          // Offsets the cleaner emptied (or expired records) are gaps.
          c.position = std::max(c.position, static_cast<std::int64_t>(header.next_offset()));
        });
      if (!undecodable.empty()) {
        spdlog::error("{}", undecodable);
        fail_all(self, make_herald_error(ErrorCode::CORRUPT_BATCH, undecodable));
        return;
      }
      if (!status) {
        fail_all(self, make_herald_error(ErrorCode::CORRUPT_BATCH, status.message));
        return;
      }
      serve_waiters(self);
      fetch(self, partition);
    },
    [=](ErrorCode code, const std::string& message, std::optional<std::int64_t> log_start) {
      auto& st = self->state;
      auto& c = st.cursors[partition];
      c.fetching = false;
      if (code == ErrorCode::OFFSET_OUT_OF_RANGE && log_start && c.position < *log_start) {
        // Retention or compaction moved the log start past us: what we
        // wanted is gone, resume at the oldest record there is.
        spdlog::warn("{}/{}: offset {} is below the log start {}; resuming there", st.topic, partition, c.position,
                     *log_start);
        c.position = *log_start;
        succeeded(c);
        fetch(self, partition);
        return;
      }
      if (code == ErrorCode::OFFSET_OUT_OF_RANGE || wire::is_retriable(code) || is_routing_error(code)) {
        // Above the high watermark: a restarted replica that does not know
        // its commit index again yet answers so for a while; it comes
        // back. Never rewind for it (that re-reads the whole partition).
        retry_later(self, partition, code, message);
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
      auto& c = self->state.cursors[partition];
      c.position = r.getListOffsets().getOffset();
      succeeded(c);
      fetch(self, partition);
    },
    [=](ErrorCode code, const std::string& message) {
      if (wire::is_retriable(code) || is_routing_error(code))
        retry_later(self, partition, code, message);
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
  self->set_down_handler([=](caf::down_msg& dm) {
    // The session is gone for good: waiting polls learn why, then the
    // consumer quits (the application's later polls fail at once).
    fail_all(self, make_herald_error(ErrorCode::PARTITION_UNAVAILABLE, "connection to the broker lost"));
    self->quit(dm.reason);
  });
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::Request>().initMetadata().initTopics(1).set(0, st.topic);
  call(
    self, wire::to_bytes(builder), request_margin,
    [=](schema::Response::Reader r) {
      auto count = r.getMetadata().getTopics()[0].getPartitionCount();
      self->state.cursors.resize(count);
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
    [=](consumer_status_atom) {
      std::vector<consumer_partition_status> out;
      const auto& cursors = self->state.cursors;
      for (std::uint32_t p = 0; p < cursors.size(); ++p)
        out.push_back({p, cursors[p].position, cursors[p].last_error, cursors[p].message, cursors[p].retry.failures()});
      return out;
    },
    [=](retry_atom, std::uint32_t partition) {
      auto& c = self->state.cursors[partition];
      c.retry_armed = false;
      if (c.position < 0)
        find_start(self, partition, self->state.options.start);
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
