#pragma once
// A few partition_replicas over real partition logs in temp directories,
// wired by an in-memory network the test drives by hand: deterministic
// (fixed seeds, no clocks, no threads). For tests of the replica's logic
// (tests/replication/partition_replica_test.cpp).

#include <doctest/doctest.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <capnp/message.h>

#include "replication/partition_replica.hpp"
#include "schema/wire.hpp"
#include "storage/record_batch.hpp"
#include "tests/support/process.hpp"

namespace herald::test {

inline std::vector<char> produce_request(const std::string& value, schema::Acks acks = schema::Acks::ALL,
                                         std::uint32_t records = 1) {
  storage::batch_builder b;
  for (std::uint32_t k = 0; k < records; ++k) b.add(1000 + k, "key", value);
  const auto batch = b.build();
  capnp::MallocMessageBuilder builder;
  auto p = builder.initRoot<schema::Request>().initProduce();
  p.setTopic("t");
  p.setAcks(acks);
  p.setTimeoutMs(10'000);
  p.setBatch(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(batch.data()), batch.size()));
  return wire::to_bytes(builder);
}

inline std::vector<char> fetch_request(std::int64_t offset, std::uint32_t max_wait_ms = 0) {
  capnp::MallocMessageBuilder builder;
  auto f = builder.initRoot<schema::Request>().initFetch();
  f.setTopic("t");
  f.setOffset(offset);
  f.setMaxBytes(1 << 20);
  f.setMaxWaitMs(max_wait_ms);
  return wire::to_bytes(builder);
}

inline std::vector<char> latest_request() {
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::Request>().initListOffsets().setLatest();
  return wire::to_bytes(builder);
}

// A decoded response: the error code and the fields tests look at.
struct reply {
  schema::ErrorCode code = schema::ErrorCode::NONE;
  std::string message;
  std::int64_t base_offset = -1;
  std::int64_t high_watermark = -1;
  std::int64_t list_offset = -1;
  std::size_t record_bytes = 0;
};

inline reply decode_reply(const std::vector<char>& bytes) {
  wire::message_reader reader(bytes);
  auto r = reader.root<schema::Response>();
  reply out;
  out.code = r.getError().getCode();
  out.message = r.getError().getMessage();
  switch (r.which()) {
    case schema::Response::PRODUCE:
      out.base_offset = r.getProduce().getBaseOffset();
      out.high_watermark = r.getProduce().getHighWatermark();
      break;
    case schema::Response::FETCH:
      out.high_watermark = r.getFetch().getHighWatermark();
      out.record_bytes = r.getFetch().getRecords().size();
      break;
    case schema::Response::LIST_OFFSETS: out.list_offset = r.getListOffsets().getOffset(); break;
    default: break;
  }
  return out;
}

class replica_group {
public:
  explicit replica_group(std::vector<raft::node_id> ids, cluster::topic_config config = {}) : ids_(std::move(ids)) {
    if (config.segment_bytes == cluster::topic_config{}.segment_bytes) config.segment_bytes = 64 << 10;
    config_ = config;
    for (auto id : ids_) start(id);
  }

  replication::replica_settings settings_of(raft::node_id id) const {
    replication::replica_settings s;
    s.name = "t/0@" + std::to_string(id);
    s.dir = dir_.path() / std::to_string(id);
    s.config = config_;
    s.node_id = id;
    s.replicas = ids_;
    s.election_ticks = 10;
    s.seed = 1000 + id + 7 * restarts_;
    return s;
  }

  const std::filesystem::path& dir() const { return dir_.path(); }

  void start(raft::node_id id, std::optional<replication::replica_settings> custom = std::nullopt) {
    auto opened = replication::partition_replica::open(custom ? *custom : settings_of(id));
    REQUIRE_MESSAGE(opened.has_value(), opened.error().message);
    nodes_[id] = std::move(*opened);
    ++restarts_;
  }
  // A replica added to the group by a membership change: an empty
  // directory, origin joiner, named alone (it learns the group from the log).
  void start_joiner(raft::node_id id) {
    auto s = settings_of(id);
    s.origin = replication::replica_origin::joiner;
    s.replicas = {id};
    start(id, s);
  }
  // Gives every running replica the target (as the broker does).
  void set_target(const std::vector<raft::node_id>& voters, std::uint64_t epoch) {
    for (auto& [id, r] : nodes_) {
      if (failed_.count(id)) continue;
      r->set_target(voters, epoch);
      drain(id);
    }
    settle();
  }
  // Ticks until some replica reported `epoch` settled; the reporter.
  std::optional<raft::node_id> tick_until_settled(std::uint64_t epoch, std::size_t max_ticks = 500) {
    for (std::size_t i = 0; i < max_ticks; ++i) {
      for (const auto& [id, e] : settled)
        if (e == epoch) return id;
      tick_all();
    }
    return std::nullopt;
  }
  void stop(raft::node_id id) {
    nodes_.erase(id);
    failed_.erase(id);
  }
  bool failed(raft::node_id id) const { return failed_.count(id) != 0; }
  bool running(raft::node_id id) const { return nodes_.count(id) != 0; }

  replication::partition_replica& at(raft::node_id id) { return *nodes_.at(id); }

  // Delivers everything in flight and every ready, until quiet.
  void settle(std::size_t max_rounds = 1000) {
    for (std::size_t round = 0; round < max_rounds; ++round) {
      bool any = false;
      for (auto& [id, r] : nodes_) {
        if (failed_.count(id)) continue;
        r->process_readies();
        any |= drain(id);
      }
      while (!wire_.empty()) {
        auto m = wire_.front();
        wire_.pop_front();
        any = true;
        if (cut_.count(m.from) || cut_.count(m.to) || !running(m.to) || failed_.count(m.to)) continue;
        at(m.to).on_raft(m);
        at(m.to).process_readies();
        drain(m.to);
      }
      if (!any) return;
    }
  }

  void tick_all(std::size_t ticks = 1) {
    for (std::size_t i = 0; i < ticks; ++i) {
      for (auto& [id, r] : nodes_) {
        if (failed_.count(id)) continue;
        r->tick();
        drain(id);
      }
      settle();
    }
  }

  // Ticks until some replica leads; its id.
  raft::node_id elect(std::size_t max_ticks = 500) {
    for (std::size_t i = 0; i < max_ticks; ++i) {
      for (auto& [id, r] : nodes_)
        if (r->is_leader()) return id;
      tick_all();
    }
    FAIL("no leader elected");
    return raft::no_node;
  }

  // Sends a client request; the answer if one came by the time it settled.
  std::optional<reply> request(raft::node_id id, const std::vector<char>& req) {
    const auto rid = next_request_++;
    at(id).on_request(rid, req);
    drain(id);
    settle();
    return answer_of(rid);
  }
  replication::request_id last_request() const { return next_request_ - 1; }
  std::optional<reply> answer_of(replication::request_id rid) {
    auto i = answers_.find(rid);
    if (i == answers_.end()) return std::nullopt;
    return decode_reply(i->second);
  }

  // Calls fn(replica) and carries out what it asked for.
  template <class F>
  void poke(raft::node_id id, F&& fn) {
    fn(at(id));
    drain(id);
    settle();
  }

  void isolate(raft::node_id id) { cut_.insert(id); }
  void heal() { cut_.clear(); }

  std::vector<replication::outbox::timer> timers;  // every timer any replica asked for
  std::vector<std::string> fatal;                  // every fatal error reported
  std::vector<std::pair<raft::node_id, std::uint64_t>> settled;  // every outbox::settled, by reporter

private:
  bool drain(raft::node_id id) {
    auto out = at(id).take_output();
    for (auto& [rid, bytes] : out.answers) {
      CHECK_MESSAGE(answers_.count(rid) == 0, "request answered twice");
      answers_[rid] = std::move(bytes);
    }
    timers.insert(timers.end(), out.timers.begin(), out.timers.end());
    if (out.settled) settled.emplace_back(id, *out.settled);
    if (out.fatal) {
      fatal.push_back(*out.fatal);
      failed_.insert(id);  // a shell stops it: nothing more reaches it
    }
    wire_.insert(wire_.end(), out.messages.begin(), out.messages.end());
    return !out.messages.empty() || !out.answers.empty() || out.schedule_ready || out.settled;
  }

  std::vector<raft::node_id> ids_;
  cluster::topic_config config_;
  temp_dir dir_;
  std::map<raft::node_id, std::unique_ptr<replication::partition_replica>> nodes_;
  std::deque<raft::message> wire_;
  std::set<raft::node_id> cut_;
  std::set<raft::node_id> failed_;
  std::map<replication::request_id, std::vector<char>> answers_;
  replication::request_id next_request_ = 0;
  std::uint64_t restarts_ = 0;
};

}  // namespace herald::test
