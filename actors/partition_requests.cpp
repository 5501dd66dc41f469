// The partition actor's answers to clients: produce (propose and wait),
// fetch (with long polling) and list offsets.

#include <algorithm>

#include <kj/exception.h>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/partition_state.hpp"
#include "schema/wire.hpp"
#include "storage/batch_header.hpp"
#include "storage/record_batch.hpp"

namespace herald::actors {
namespace {

using schema::ErrorCode;

// Bounds on what one fetch may ask for, so a request cannot pin the actor.
constexpr std::uint32_t max_fetch_bytes = 16u << 20;
constexpr std::uint32_t max_fetch_wait_ms = 60'000;
constexpr std::uint32_t default_produce_timeout_ms = 30'000;

ErrorCode to_error_code(storage::errc code) {
  switch (code) {
    case storage::errc::invalid_batch: return ErrorCode::CORRUPT_BATCH;
    case storage::errc::batch_too_large: return ErrorCode::RECORD_TOO_LARGE;
    case storage::errc::offset_out_of_range: return ErrorCode::OFFSET_OUT_OF_RANGE;
    default: return ErrorCode::STORAGE_ERROR;
  }
}

bytes not_leader(const partition_state& st) {
  capnp::MallocMessageBuilder builder;
  auto error = builder.initRoot<schema::Response>().initError();
  const auto leader = st.raft ? st.raft->leader() : raft::no_node;
  wire::set_error(error, ErrorCode::NOT_LEADER,
                  "node " + std::to_string(st.args.node_id) + " does not lead " + st.args.topic + "/" +
                    std::to_string(st.args.partition) +
                    (leader == raft::no_node ? "; no leader is known yet" : "; node " + std::to_string(leader) + " may"));
  error.setLeaderId(leader == raft::no_node ? -1 : static_cast<std::int32_t>(leader));
  return wire::to_bytes(builder);
}

bytes produce_response(std::int64_t base, std::int64_t last, std::uint64_t hw) {
  capnp::MallocMessageBuilder builder;
  auto response = builder.initRoot<schema::Response>();
  response.initError().setCode(ErrorCode::NONE);
  auto p = response.initProduce();
  p.setBaseOffset(base);
  p.setLastOffset(last);
  p.setHighWatermark(static_cast<std::int64_t>(hw));
  return wire::to_bytes(builder);
}

bytes fetch_response(partition_state& st, ErrorCode code, const std::string& message, const bytes& records) {
  capnp::MallocMessageBuilder builder;
  auto response = builder.initRoot<schema::Response>();
  wire::set_error(response.initError(), code, message);
  auto f = response.initFetch();
  f.setHighWatermark(static_cast<std::int64_t>(st.high_watermark()));
  f.setLogStartOffset(static_cast<std::int64_t>(st.log().log_start_offset()));
  if (!records.empty()) {
    auto data = f.initRecords(static_cast<unsigned>(records.size()));
    std::copy(records.begin(), records.end(), reinterpret_cast<char*>(data.begin()));
  }
  return wire::to_bytes(builder);
}

// Answers a fetch at `offset` from what is committed now.
bytes serve_fetch(partition_state& st, std::uint64_t offset, std::uint32_t max_bytes) {
  auto read = st.log().read(offset, max_bytes, st.high_watermark());
  if (!read) {
    spdlog::error("{}/{}: read at offset {} failed: {}", st.args.topic, st.args.partition, offset,
                  read.error().message);
    return fetch_response(st, to_error_code(read.error().code), read.error().message, {});
  }
  return fetch_response(st, ErrorCode::NONE, {}, read->bytes);
}

void handle_produce(partition_ptr self, schema::ProduceRequest::Reader req, promise& rp) {
  auto& st = self->state;
  auto data = req.getBatch();
  const std::span<const char> batch(reinterpret_cast<const char*>(data.begin()), data.size());
  if (batch.size() > st.args.config.max_batch_bytes + storage::batch_header_size) {
    rp.deliver(wire::error_response(
      ErrorCode::RECORD_TOO_LARGE, "batch of " + std::to_string(batch.size()) + " bytes exceeds the topic's limit of "
                                     + std::to_string(st.args.config.max_batch_bytes) + " bytes"));
    return;
  }
  if (!st.is_leader()) {
    rp.deliver(not_leader(st));
    return;
  }
  // Validated before it enters the Raft log: once proposed, every replica
  // must be able to append it.
  if (auto valid = storage::validate_batch_deep(batch); !valid) {
    rp.deliver(wire::error_response(ErrorCode::CORRUPT_BATCH, valid.message));
    return;
  }
  if (const auto h = storage::decode_batch_header(batch); h.is_control() || h.is_compacted()) {
    rp.deliver(wire::error_response(ErrorCode::CORRUPT_BATCH,
                                    "control and compacted batches are written by the broker only"));
    return;
  }
  auto proposed = st.raft->propose(std::make_shared<const raft::bytes>(batch.begin(), batch.end()));
  if (!proposed) {
    if (proposed.code == raft::errc::busy)
      rp.deliver(wire::error_response(ErrorCode::THROTTLED, "too many uncommitted bytes; retry"));
    else
      rp.deliver(not_leader(st));
    return;
  }
  schedule_ready(self);
  switch (req.getAcks()) {
    case schema::Acks::NONE: rp.deliver(produce_response(-1, -1, st.high_watermark())); return;
    case schema::Acks::LEADER: st.await_append[proposed.index] = {rp, proposed.term}; break;
    case schema::Acks::ALL: st.await_commit[proposed.index] = {rp, proposed.term}; break;
  }
  const auto timeout = req.getTimeoutMs() == 0 ? default_produce_timeout_ms : req.getTimeoutMs();
  self->delayed_send(self, std::chrono::milliseconds{timeout}, produce_timeout_atom::value, proposed.index,
                     proposed.term);
}

void handle_fetch(partition_ptr self, schema::FetchRequest::Reader req, promise& rp) {
  auto& st = self->state;
  const auto offset = req.getOffset();
  const auto hw = st.high_watermark();
  const auto start = st.log().log_start_offset();
  if (offset < 0 || static_cast<std::uint64_t>(offset) < start || static_cast<std::uint64_t>(offset) > hw) {
    rp.deliver(fetch_response(st, ErrorCode::OFFSET_OUT_OF_RANGE,
                              "offset " + std::to_string(offset) + " is outside [" + std::to_string(start) + ", " +
                                std::to_string(hw) + "]",
                              {}));
    return;
  }
  const auto max_bytes = std::clamp<std::uint32_t>(req.getMaxBytes(), 1, max_fetch_bytes);
  const auto pos = static_cast<std::uint64_t>(offset);
  if (pos < hw || req.getMaxWaitMs() == 0) {
    rp.deliver(serve_fetch(st, pos, max_bytes));
    return;
  }
  const auto id = st.next_fetch_id++;
  st.parked.emplace(id, parked_fetch{rp, pos, max_bytes});
  const auto wait = std::chrono::milliseconds{std::min(req.getMaxWaitMs(), max_fetch_wait_ms)};
  self->delayed_send(self, wait, fetch_timeout_atom::value, id);
}

void handle_list_offsets(partition_ptr self, schema::ListOffsetsRequest::Reader req, promise& rp) {
  auto& st = self->state;
  std::int64_t offset = -1;
  switch (req.which()) {
    case schema::ListOffsetsRequest::EARLIEST: offset = static_cast<std::int64_t>(st.log().log_start_offset()); break;
    case schema::ListOffsetsRequest::LATEST: offset = static_cast<std::int64_t>(st.high_watermark()); break;
    case schema::ListOffsetsRequest::TIMESTAMP: {
      auto found = st.log().offset_for_timestamp(req.getTimestamp());
      if (!found) {
        rp.deliver(wire::error_response(to_error_code(found.error().code), found.error().message));
        return;
      }
      if (*found < st.high_watermark()) offset = static_cast<std::int64_t>(*found);
      break;
    }
  }
  capnp::MallocMessageBuilder builder;
  auto response = builder.initRoot<schema::Response>();
  response.initError().setCode(ErrorCode::NONE);
  response.initListOffsets().setOffset(offset);
  rp.deliver(wire::to_bytes(builder));
}

// Answers the produces in `waiting` up to index `upto` whose entries are
// still the ones they proposed.
void answer_upto(partition_state& st, std::map<raft::index_t, pending_produce>& waiting, raft::index_t upto) {
  while (!waiting.empty() && waiting.begin()->first <= upto) {
    auto node = waiting.extract(waiting.begin());
    const raft::index_t i = node.key();
    if (i <= st.store->snapshot().index || st.store->term_at(i) != node.mapped().term) {
      node.mapped().rp.deliver(wire::error_response(ErrorCode::NOT_LEADER, "the entry was replaced by another leader's"));
      continue;
    }
    node.mapped().rp.deliver(produce_response(static_cast<std::int64_t>(st.store->offset_of(i)),
                                              static_cast<std::int64_t>(st.store->end_offset_of(i)) - 1,
                                              st.high_watermark()));
  }
}

} // namespace

std::uint64_t partition_state::high_watermark() const {
  const raft::index_t c = std::max(std::min(commit, store->last_index()), store->snapshot().index);
  return std::max(store->end_offset_of(c), store->log().log_start_offset());
}

void handle_client_request(partition_ptr self, const bytes& request, promise rp) {
  try {
    wire::message_reader reader(request);
    auto req = reader.root<schema::Request>();
    switch (req.which()) {
      case schema::Request::PRODUCE: handle_produce(self, req.getProduce(), rp); break;
      case schema::Request::FETCH: handle_fetch(self, req.getFetch(), rp); break;
      case schema::Request::LIST_OFFSETS: handle_list_offsets(self, req.getListOffsets(), rp); break;
      default: rp.deliver(wire::error_response(ErrorCode::INVALID_REQUEST, "not a partition request"));
    }
  } catch (const kj::Exception& e) {
    if (rp.pending())
      rp.deliver(wire::error_response(ErrorCode::INVALID_REQUEST,
                                      std::string{"malformed request: "} + e.getDescription().cStr()));
  }
}

void wake_parked_fetches(partition_ptr self) {
  auto& st = self->state;
  const auto hw = st.high_watermark();
  for (auto i = st.parked.begin(); i != st.parked.end();) {
    if (i->second.offset < hw) {
      i->second.rp.deliver(serve_fetch(st, i->second.offset, i->second.max_bytes));
      i = st.parked.erase(i);
    } else {
      ++i;
    }
  }
}

void answer_fetch_timeout(partition_ptr self, std::uint64_t id) {
  auto& st = self->state;
  auto i = st.parked.find(id);
  if (i == st.parked.end()) return;
  i->second.rp.deliver(serve_fetch(st, i->second.offset, i->second.max_bytes));
  st.parked.erase(i);
}

void answer_produces(partition_ptr self) {
  auto& st = self->state;
  answer_upto(st, st.await_append, st.raft->log().durable_last_index());
  answer_upto(st, st.await_commit, st.commit);
}

void fail_produces(partition_ptr self, ErrorCode code, const std::string& why) {
  auto& st = self->state;
  for (auto* waiting : {&st.await_append, &st.await_commit}) {
    for (auto& [index, p] : *waiting) p.rp.deliver(wire::error_response(code, why));
    waiting->clear();
  }
}

void answer_produce_timeout(partition_ptr self, raft::index_t index, raft::term_t term) {
  auto& st = self->state;
  for (auto* waiting : {&st.await_append, &st.await_commit}) {
    auto i = waiting->find(index);
    if (i == waiting->end() || i->second.term != term) continue;
    i->second.rp.deliver(wire::error_response(
      ErrorCode::TIMEOUT, "entry " + std::to_string(index) + " was not committed in time; it may still be"));
    waiting->erase(i);
  }
}

} // namespace herald::actors
