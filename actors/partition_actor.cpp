#include "actors/partition_actor.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include <caf/all.hpp>
#include <kj/exception.h>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "schema/wire.hpp"
#include "storage/batch_header.hpp"
#include "storage/partition_log.hpp"

namespace herald::actors {

namespace {

using bytes = std::vector<char>;
using promise = caf::typed_response_promise<bytes>;
using schema::ErrorCode;

// Bounds on what one fetch may ask for, so a request cannot pin the actor.
constexpr std::uint32_t max_fetch_bytes = 16u << 20;
constexpr std::uint32_t max_fetch_wait_ms = 60'000;
// How often retention looks for whole segments to delete. It only unlinks
// closed segments and rewrites one small file, so it never stalls appends.
constexpr auto retention_check_interval = std::chrono::seconds{10};

struct awaiting_sync {
  promise rp;
  storage::append_result appended;
};

struct parked_fetch {
  promise rp;
  std::uint64_t offset;
  std::uint32_t max_bytes;
};

struct partition_state {
  partition_args args;
  std::unique_ptr<storage::partition_log> log;
  bool sync_scheduled = false;
  std::vector<awaiting_sync> waiting;
  std::map<std::uint64_t, parked_fetch> parked;
  std::uint64_t next_fetch_id = 0;

  ~partition_state() {
    // A clean stop leaves the log durable; after a crash recovery does the rest.
    if (log)
      if (auto st = log->sync(); !st)
        spdlog::warn("{}/{}: final sync failed: {}", args.topic, args.partition, st.message);
  }

  std::uint64_t high_watermark() const {
    // The durable end can trail the log start once retention removed
    // segments that were never synced; nothing below the start is readable.
    return args.config.fsync == cluster::fsync_policy::always
             ? std::max(log->durable_end_offset(), log->log_start_offset())
             : log->log_end_offset();
  }

  static inline const char* name = "herald.partition";
};

using self_ptr = caf::stateful_actor<partition_state>*;

ErrorCode to_error_code(storage::errc code) {
  switch (code) {
    case storage::errc::invalid_batch: return ErrorCode::CORRUPT_BATCH;
    case storage::errc::batch_too_large: return ErrorCode::RECORD_TOO_LARGE;
    case storage::errc::offset_out_of_range: return ErrorCode::OFFSET_OUT_OF_RANGE;
    default: return ErrorCode::STORAGE_ERROR;
  }
}

bytes produce_response(const storage::append_result& a, std::uint64_t hw) {
  capnp::MallocMessageBuilder builder;
  auto response = builder.initRoot<schema::Response>();
  response.initError().setCode(ErrorCode::NONE);
  auto p = response.initProduce();
  p.setBaseOffset(static_cast<std::int64_t>(a.base_offset));
  p.setLastOffset(static_cast<std::int64_t>(a.last_offset));
  p.setHighWatermark(static_cast<std::int64_t>(hw));
  return wire::to_bytes(builder);
}

bytes fetch_response(const partition_state& st, ErrorCode code, const std::string& message,
                     const bytes& records) {
  capnp::MallocMessageBuilder builder;
  auto response = builder.initRoot<schema::Response>();
  wire::set_error(response.initError(), code, message);
  auto f = response.initFetch();
  f.setHighWatermark(static_cast<std::int64_t>(st.high_watermark()));
  f.setLogStartOffset(static_cast<std::int64_t>(st.log->log_start_offset()));
  if (!records.empty()) {
    auto data = f.initRecords(static_cast<unsigned>(records.size()));
    std::copy(records.begin(), records.end(), reinterpret_cast<char*>(data.begin()));
  }
  return wire::to_bytes(builder);
}

void schedule_sync(self_ptr self) {
  if (self->state.sync_scheduled)
    return;
  self->state.sync_scheduled = true;
  self->send(self, sync_atom::value);
}

// Answers a fetch at `offset` from what is committed now.
bytes serve_fetch(partition_state& st, std::uint64_t offset, std::uint32_t max_bytes) {
  auto read = st.log->read(offset, max_bytes, st.high_watermark());
  if (!read) {
    spdlog::error("{}/{}: read at offset {} failed: {}", st.args.topic, st.args.partition, offset,
                  read.error().message);
    return fetch_response(st, to_error_code(read.error().code), read.error().message, {});
  }
  return fetch_response(st, ErrorCode::NONE, {}, read->bytes);
}

void wake_parked_fetches(self_ptr self) {
  auto& st = self->state;
  auto hw = st.high_watermark();
  for (auto i = st.parked.begin(); i != st.parked.end();) {
    if (i->second.offset < hw) {
      i->second.rp.deliver(serve_fetch(st, i->second.offset, i->second.max_bytes));
      i = st.parked.erase(i);
    } else {
      ++i;
    }
  }
}

void handle_produce(self_ptr self, schema::ProduceRequest::Reader req, promise& rp) {
  auto& st = self->state;
  auto batch = req.getBatch();
  if (batch.size() > st.args.config.max_batch_bytes + storage::batch_header_size) {
    rp.deliver(wire::error_response(
      ErrorCode::RECORD_TOO_LARGE, "batch of " + std::to_string(batch.size()) + " bytes exceeds the topic's limit of "
                                     + std::to_string(st.args.config.max_batch_bytes) + " bytes"));
    return;
  }
  auto appended = st.log->append({reinterpret_cast<const char*>(batch.begin()), batch.size()}, 0);
  if (!appended) {
    const auto& err = appended.error();
    if (err.code == storage::errc::io_error || err.code == storage::errc::no_space)
      spdlog::error("{}/{}: append failed: {}", st.args.topic, st.args.partition, err.message);
    rp.deliver(wire::error_response(to_error_code(err.code), err.message));
    return;
  }
  bool durable_ack = req.getAcks() == schema::Acks::ALL && st.args.config.fsync == cluster::fsync_policy::always;
  if (st.args.config.fsync == cluster::fsync_policy::always)
    schedule_sync(self);
  else
    wake_parked_fetches(self);
  if (durable_ack)
    st.waiting.push_back({rp, *appended});
  else
    rp.deliver(produce_response(*appended, st.high_watermark()));
}

void handle_fetch(self_ptr self, schema::FetchRequest::Reader req, promise& rp) {
  auto& st = self->state;
  auto offset = req.getOffset();
  auto hw = st.high_watermark();
  auto start = st.log->log_start_offset();
  if (offset < 0 || static_cast<std::uint64_t>(offset) < start || static_cast<std::uint64_t>(offset) > hw) {
    rp.deliver(fetch_response(st, ErrorCode::OFFSET_OUT_OF_RANGE,
                              "offset " + std::to_string(offset) + " is outside [" + std::to_string(start) + ", "
                                + std::to_string(hw) + "]",
                              {}));
    return;
  }
  auto max_bytes = std::clamp<std::uint32_t>(req.getMaxBytes(), 1, max_fetch_bytes);
  auto pos = static_cast<std::uint64_t>(offset);
  if (pos < hw || req.getMaxWaitMs() == 0) {
    rp.deliver(serve_fetch(st, pos, max_bytes));
    return;
  }
  auto id = st.next_fetch_id++;
  st.parked.emplace(id, parked_fetch{rp, pos, max_bytes});
  auto wait = std::chrono::milliseconds{std::min(req.getMaxWaitMs(), max_fetch_wait_ms)};
  self->delayed_send(self, wait, fetch_timeout_atom::value, id);
}

void handle_list_offsets(self_ptr self, schema::ListOffsetsRequest::Reader req, promise& rp) {
  auto& st = self->state;
  std::int64_t offset = -1;
  switch (req.which()) {
    case schema::ListOffsetsRequest::EARLIEST:
      offset = static_cast<std::int64_t>(st.log->log_start_offset());
      break;
    case schema::ListOffsetsRequest::LATEST:
      offset = static_cast<std::int64_t>(st.high_watermark());
      break;
    case schema::ListOffsetsRequest::TIMESTAMP: {
      auto found = st.log->offset_for_timestamp(req.getTimestamp());
      if (!found) {
        rp.deliver(wire::error_response(to_error_code(found.error().code), found.error().message));
        return;
      }
      if (*found < st.high_watermark())
        offset = static_cast<std::int64_t>(*found);
      break;
    }
  }
  capnp::MallocMessageBuilder builder;
  auto response = builder.initRoot<schema::Response>();
  response.initError().setCode(ErrorCode::NONE);
  response.initListOffsets().setOffset(offset);
  rp.deliver(wire::to_bytes(builder));
}

caf::behavior partition_actor(self_ptr self, partition_args args) {
  auto& st = self->state;
  st.args = std::move(args);
  storage::log_config cfg;
  cfg.segment_bytes = st.args.config.segment_bytes;
  cfg.max_batch_bytes = st.args.config.max_batch_bytes + storage::batch_header_size;
  auto opened = storage::partition_log::open(st.args.dir, cfg);
  if (!opened) {
    spdlog::error("{}/{}: cannot open log in {}: {}", st.args.topic, st.args.partition, st.args.dir.string(),
                  opened.error().message);
    self->quit(caf::make_error(caf::sec::runtime_error, opened.error().message));
    return {};
  }
  st.log = std::move(*opened);
  const auto& rec = st.log->recovery();
  if (rec.truncated_bytes > 0)
    spdlog::warn("{}/{}: recovery cut {} bytes from the log tail: {}", st.args.topic, st.args.partition,
                 rec.truncated_bytes, rec.detail);
  spdlog::info("{}/{}: opened, offsets [{}, {}), {} segment(s)", st.args.topic, st.args.partition,
               st.log->log_start_offset(), st.log->log_end_offset(), st.log->segment_count());
  if (st.args.config.fsync == cluster::fsync_policy::interval)
    self->delayed_send(self, std::chrono::milliseconds{st.args.config.fsync_interval_ms}, sync_tick_atom::value);
  if (st.args.config.retention_ms >= 0 || st.args.config.retention_bytes >= 0)
    self->send(self, retention_atom::value);

  return {
    [=](request_atom, const bytes& request) -> promise {
      auto rp = self->make_response_promise<bytes>();
      try {
        wire::message_reader reader(request);
        auto req = reader.root<schema::Request>();
        switch (req.which()) {
          case schema::Request::PRODUCE: handle_produce(self, req.getProduce(), rp); break;
          case schema::Request::FETCH: handle_fetch(self, req.getFetch(), rp); break;
          case schema::Request::LIST_OFFSETS: handle_list_offsets(self, req.getListOffsets(), rp); break;
          default:
            rp.deliver(wire::error_response(ErrorCode::INVALID_REQUEST, "not a partition request"));
        }
      } catch (const kj::Exception& e) {
        if (rp.pending())
          rp.deliver(wire::error_response(ErrorCode::INVALID_REQUEST,
                                          std::string{"malformed request: "} + e.getDescription().cStr()));
      }
      return rp;
    },
    [=](sync_atom) {
      auto& st = self->state;
      st.sync_scheduled = false;
      auto status = st.log->sync();
      auto waiting = std::move(st.waiting);
      st.waiting.clear();
      if (!status) {
        spdlog::error("{}/{}: fsync failed, restarting to re-validate the log: {}", st.args.topic,
                      st.args.partition, status.message);
        for (auto& w : waiting)
          w.rp.deliver(wire::error_response(ErrorCode::STORAGE_ERROR, "fsync failed: " + status.message));
        // After a failed fsync the page cache may not match the disk; only
        // recovery from what the disk really holds is trustworthy.
        self->quit(caf::make_error(caf::sec::runtime_error, "fsync failed"));
        return;
      }
      auto hw = st.high_watermark();
      for (auto& w : waiting)
        w.rp.deliver(produce_response(w.appended, hw));
      wake_parked_fetches(self);
    },
    [=](sync_tick_atom) {
      auto& st = self->state;
      if (st.log->durable_end_offset() < st.log->log_end_offset())
        if (auto status = st.log->sync(); !status)
          spdlog::error("{}/{}: interval fsync failed: {}", st.args.topic, st.args.partition, status.message);
      self->delayed_send(self, std::chrono::milliseconds{st.args.config.fsync_interval_ms}, sync_tick_atom::value);
    },
    [=](retention_atom) {
      auto& st = self->state;
      auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
      auto applied = st.log->apply_retention(now, st.args.config.retention_ms, st.args.config.retention_bytes);
      if (!applied)
        spdlog::error("{}/{}: retention failed: {}", st.args.topic, st.args.partition, applied.error().message);
      else if (applied->segments_removed > 0)
        spdlog::info("{}/{}: retention removed {} segment(s), {} bytes; log now starts at {}", st.args.topic,
                     st.args.partition, applied->segments_removed, applied->bytes_removed,
                     applied->log_start_offset);
      self->delayed_send(self, retention_check_interval, retention_atom::value);
    },
    [=](fetch_timeout_atom, std::uint64_t id) {
      auto& st = self->state;
      auto i = st.parked.find(id);
      if (i == st.parked.end())
        return;
      i->second.rp.deliver(serve_fetch(st, i->second.offset, i->second.max_bytes));
      st.parked.erase(i);
    },
    [=](stats_atom) -> caf::result<std::uint64_t, std::uint64_t> {
      return {self->state.log->log_start_offset(), self->state.high_watermark()};
    },
  };
}

} // namespace

caf::actor spawn_partition(caf::event_based_actor* parent, partition_args args) {
  return parent->spawn<caf::detached + caf::monitored>(partition_actor, std::move(args));
}

} // namespace herald::actors
