#include "tests/client/fake_session.hpp"

#include <map>
#include <thread>

#include "protocol/atoms.hpp"
#include "schema/wire.hpp"

namespace herald::test {

namespace {

using bytes = std::vector<char>;

struct held_entry {
  bytes request;
  caf::response_promise rp;
};

// A class rather than a function: CAF 0.17 dereferences a null pointer when
// it spawns a function that takes no arguments (UBSan reports it).
class fake_session_actor : public caf::event_based_actor {
public:
  explicit fake_session_actor(caf::actor_config& cfg) : caf::event_based_actor(cfg) {}

  caf::behavior make_behavior() override {
    return {
      [this](request_atom, bytes& request) -> caf::response_promise {
        auto rp = make_response_promise();
        held_.emplace(next_id_++, held_entry{std::move(request), rp});
        return rp;
      },
      [this](caf::get_atom) {
        std::vector<held_request> out;
        for (auto& [id, e] : held_)
          out.push_back({id, e.request});
        return out;
      },
      [this](caf::put_atom, std::uint64_t id, bytes& response) {
        auto i = held_.find(id);
        if (i == held_.end())
          return;
        i->second.rp.deliver(std::move(response));
        held_.erase(i);
      },
      [this](caf::put_atom, std::uint64_t id, caf::error& err) {
        auto i = held_.find(id);
        if (i == held_.end())
          return;
        i->second.rp.deliver(std::move(err));
        held_.erase(i);
      },
    };
  }

  // Held promises keep their requesters alive: drop them when the fake
  // ends, not when its last handle goes.
  void on_exit() override { held_.clear(); }

private:
  std::map<std::uint64_t, held_entry> held_;
  std::uint64_t next_id_ = 0;
};

} // namespace

schema::Request::Which held_request::which() const {
  wire::message_reader reader(bytes);
  return reader.root<schema::Request>().which();
}

caf::actor spawn_fake_session(caf::actor_system& system) {
  return system.spawn<fake_session_actor>();
}

fake_session_handle::fake_session_handle(caf::actor_system& system)
  : self_(system), actor_(spawn_fake_session(system)) {}

fake_session_handle::~fake_session_handle() {
  kill();
}

std::vector<held_request> fake_session_handle::held() {
  std::vector<held_request> out;
  self_->request(actor_, std::chrono::seconds{10}, caf::get_atom::value)
    .receive([&](std::vector<held_request>& r) { out = std::move(r); }, [&](caf::error&) {});
  return out;
}

std::vector<held_request> fake_session_handle::wait_for(
  const std::function<bool(const std::vector<held_request>&)>& pred, bool& ok, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    auto h = held();
    if (pred(h)) {
      ok = true;
      return h;
    }
    if (std::chrono::steady_clock::now() >= until) {
      ok = false;
      return {};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{2});  // polling interval, not a condition
  }
}

std::vector<held_request> fake_session_handle::wait_held(std::size_t n, std::chrono::milliseconds deadline) {
  bool ok = false;
  return wait_for([n](const std::vector<held_request>& h) { return h.size() >= n; }, ok, deadline);
}

void fake_session_handle::answer(std::uint64_t id, std::vector<char> response) {
  self_->send(actor_, caf::put_atom::value, id, std::move(response));
}

void fake_session_handle::fail(std::uint64_t id, caf::error err) {
  self_->send(actor_, caf::put_atom::value, id, std::move(err));
}

void fake_session_handle::kill() {
  if (actor_)
    self_->send_exit(actor_, caf::exit_reason::kill);
}

std::vector<char> produce_ok(std::int64_t base_offset, std::int64_t last_offset) {
  capnp::MallocMessageBuilder builder;
  auto r = builder.initRoot<schema::Response>();
  r.initError().setCode(schema::ErrorCode::NONE);
  auto p = r.initProduce();
  p.setBaseOffset(base_offset);
  p.setLastOffset(last_offset);
  p.setHighWatermark(last_offset + 1);
  return wire::to_bytes(builder);
}

std::vector<char> error_response(schema::ErrorCode code, const std::string& message) {
  return wire::error_response(code, message);
}

std::vector<char> metadata_response(const std::string& topic, std::uint32_t partitions,
                                    std::uint32_t max_batch_bytes) {
  capnp::MallocMessageBuilder builder;
  auto r = builder.initRoot<schema::Response>();
  r.initError().setCode(schema::ErrorCode::NONE);
  auto t = r.initMetadata().initTopics(1)[0];
  t.setName(topic);
  t.setPartitionCount(partitions);
  t.setReplicationFactor(1);
  t.initConfig().setMaxBatchBytes(max_batch_bytes);
  return wire::to_bytes(builder);
}

std::vector<char> list_offsets_response(std::int64_t offset) {
  capnp::MallocMessageBuilder builder;
  auto r = builder.initRoot<schema::Response>();
  r.initError().setCode(schema::ErrorCode::NONE);
  r.initListOffsets().setOffset(offset);
  return wire::to_bytes(builder);
}

std::vector<char> fetch_response(const std::vector<char>& records, std::int64_t high_watermark,
                                 std::int64_t log_start, schema::ErrorCode code, const std::string& message) {
  capnp::MallocMessageBuilder builder;
  auto r = builder.initRoot<schema::Response>();
  wire::set_error(r.initError(), code, message);
  auto f = r.initFetch();
  f.setHighWatermark(high_watermark);
  f.setLogStartOffset(log_start);
  if (!records.empty()) {
    auto data = f.initRecords(static_cast<unsigned>(records.size()));
    std::copy(records.begin(), records.end(), reinterpret_cast<char*>(data.begin()));
  }
  return wire::to_bytes(builder);
}

} // namespace herald::test
