// The node actor in-process: a crashed partition actor is restarted by its
// supervisor and recovers its log from disk; one that keeps crashing is
// left offline and requests to it get a clear error.

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/atoms.hpp"
#include "actors/node_actor.hpp"
#include "actors/system_config.hpp"
#include "cluster/local_metadata_store.hpp"
#include "schema/wire.hpp"
#include "storage/control_batch.hpp"
#include "storage/record_batch.hpp"
#include "tests/support/process.hpp"

using namespace herald;
using bytes = std::vector<char>;

namespace {

struct node_fixture {
  test::temp_dir dir;
  caf::actor_system_config cfg;
  caf::actor_system system{(configure_actor_system(cfg), cfg)};
  caf::scoped_actor self{system};
  caf::actor node;

  explicit node_fixture(std::chrono::milliseconds backoff = std::chrono::seconds{30}) {
    actors::node_args args;
    args.data_dir = dir.path();
    args.max_restarts = 3;
    args.restart_backoff = backoff;
    auto store = cluster::local_metadata_store::open(dir.path(), 1);
    REQUIRE(store.has_value());
    args.metadata = std::move(*store);
    node = actors::spawn_node(system, args);
  }

  ~node_fixture() {
    self->send(node, shutdown_atom::value);
  }

  schema::Response::Reader call(const caf::actor& dest, capnp::MallocMessageBuilder& request,
                                std::unique_ptr<wire::message_reader>& keep, bytes& buffer) {
    self->request(dest, std::chrono::seconds{10}, request_atom::value, wire::to_bytes(request))
      .receive([&](bytes& r) { buffer = std::move(r); }, [&](caf::error& e) { FAIL(system.render(e)); });
    keep = std::make_unique<wire::message_reader>(buffer);
    return keep->root<schema::Response>();
  }

  schema::ErrorCode produce(const caf::actor& dest, const std::string& value) {
    storage::batch_builder b;
    b.add(1, std::nullopt, value);
    auto batch = b.build();
    capnp::MallocMessageBuilder req;
    auto p = req.initRoot<schema::Request>().initProduce();
    p.setTopic("t");
    p.setAcks(schema::Acks::ALL);
    p.setBatch(kj::arrayPtr(reinterpret_cast<const kj::byte*>(batch.data()), batch.size()));
    std::unique_ptr<wire::message_reader> keep;
    bytes buffer;
    return call(dest, req, keep, buffer).getError().getCode();
  }

  std::vector<std::string> fetch_all(const caf::actor& dest) {
    capnp::MallocMessageBuilder req;
    auto f = req.initRoot<schema::Request>().initFetch();
    f.setTopic("t");
    f.setOffset(0);
    f.setMaxBytes(1 << 20);
    std::unique_ptr<wire::message_reader> keep;
    bytes buffer;
    auto r = call(dest, req, keep, buffer);
    REQUIRE(r.getError().getCode() == schema::ErrorCode::NONE);
    auto data = r.getFetch().getRecords();
    std::vector<std::string> values;
    const auto split =
        storage::for_each_batch({reinterpret_cast<const char*>(data.begin()), data.size()}, [&](std::span<const char> b) {
          if (storage::is_control_batch(b)) return;
          const auto decoded = storage::for_each_record(b, 0, [&](storage::record&& rec) { values.push_back(rec.value); });
          REQUIRE(decoded.is_ok());
        });
    REQUIRE(split.is_ok());
    return values;
  }

  schema::ErrorCode admin(capnp::MallocMessageBuilder& request, std::string* message = nullptr) {
    std::unique_ptr<wire::message_reader> keep;
    bytes buffer;
    auto r = call(node, request, keep, buffer);
    if (message != nullptr) *message = r.getError().getMessage().cStr();
    return r.getError().getCode();
  }

  schema::ErrorCode create_topic() {
    capnp::MallocMessageBuilder create;
    auto c = create.initRoot<schema::Request>().initCreateTopic();
    c.setName("t");
    c.setPartitions(1);
    return admin(create);
  }

  schema::ErrorCode delete_topic() {
    capnp::MallocMessageBuilder req;
    req.initRoot<schema::Request>().initDeleteTopic().setName("t");
    return admin(req);
  }

  schema::ErrorCode restart_partition(std::string* message = nullptr) {
    capnp::MallocMessageBuilder req;
    auto r = req.initRoot<schema::Request>().initRestartPartition();
    r.setTopic("t");
    r.setPartition(0);
    return admin(req, message);
  }

  // Kills the partition's actor until the node leaves it offline.
  void crash_until_offline() {
    auto current = lookup();
    REQUIRE(current);
    while (current) {
      caf::anon_send_exit(current, caf::exit_reason::kill);
      auto previous = current;
      REQUIRE(test::eventually([&] {
        current = lookup();
        return current != previous;
      }));
    }
  }

  caf::actor lookup() {
    caf::actor found;
    self->request(node, std::chrono::seconds{10}, lookup_atom::value, std::string{"t"}, std::uint32_t{0})
      .receive([&](caf::actor& a) { found = a; }, [&](caf::error& e) { FAIL(system.render(e)); });
    return found;
  }
};

} // namespace

TEST_CASE("a crashed partition actor is restarted and recovers its log") {
  node_fixture f;
  capnp::MallocMessageBuilder create;
  auto c = create.initRoot<schema::Request>().initCreateTopic();
  c.setName("t");
  c.setPartitions(1);
  std::unique_ptr<wire::message_reader> keep;
  bytes buffer;
  REQUIRE(f.call(f.node, create, keep, buffer).getError().getCode() == schema::ErrorCode::NONE);

  auto first = f.lookup();
  REQUIRE(first);
  REQUIRE(f.produce(first, "one") == schema::ErrorCode::NONE);
  REQUIRE(f.produce(first, "two") == schema::ErrorCode::NONE);

  caf::anon_send_exit(first, caf::exit_reason::kill);
  caf::actor second;
  REQUIRE(test::eventually([&] {
    second = f.lookup();
    return second && second != first;
  }));
  CHECK(f.fetch_all(second) == std::vector<std::string>{"one", "two"});
  REQUIRE(f.produce(second, "three") == schema::ErrorCode::NONE);
  CHECK(f.fetch_all(second) == std::vector<std::string>{"one", "two", "three"});

  SUBCASE("one that keeps crashing is left offline") {
    auto current = second;
    for (int i = 0; i < 3; ++i) {
      caf::anon_send_exit(current, caf::exit_reason::kill);
      auto previous = current;
      REQUIRE(test::eventually([&] {
        current = f.lookup();
        return current != previous;
      }));
    }
    CHECK(!current);  // 1 + 3 crashes within the window: offline

    SUBCASE("and an admin brings it back at once, its log intact") {
      std::string message;
      REQUIRE(f.restart_partition(&message) == schema::ErrorCode::NONE);
      CHECK(message == "t/0 restarted");
      auto back = f.lookup();
      REQUIRE(back);
      CHECK(f.fetch_all(back) == std::vector<std::string>{"one", "two", "three"});
      REQUIRE(f.restart_partition(&message) == schema::ErrorCode::NONE);
      CHECK(message == "t/0 is already running");
      CHECK(f.lookup() == back);
    }
  }
}

TEST_CASE("an offline partition comes back on its own after the back-off (issue 8 item 4)") {
  node_fixture f{std::chrono::milliseconds{300}};
  REQUIRE(f.create_topic() == schema::ErrorCode::NONE);
  REQUIRE(f.produce(f.lookup(), "kept") == schema::ErrorCode::NONE);
  f.crash_until_offline();
  REQUIRE(!f.lookup());
  caf::actor back;
  REQUIRE(test::eventually([&] { return static_cast<bool>(back = f.lookup()); }));
  CHECK(f.fetch_all(back) == std::vector<std::string>{"kept"});
}

TEST_CASE("restartPartition names what it cannot restart") {
  node_fixture f;
  CHECK(f.restart_partition() == schema::ErrorCode::UNKNOWN_TOPIC);
  REQUIRE(f.create_topic() == schema::ErrorCode::NONE);
  capnp::MallocMessageBuilder req;
  auto r = req.initRoot<schema::Request>().initRestartPartition();
  r.setTopic("t");
  r.setPartition(7);
  CHECK(f.admin(req) == schema::ErrorCode::UNKNOWN_PARTITION);
}

// Issue 8 item 9: the down of a deleted topic's actor used to restart the
// partition of the topic re-created under the same name (two replicas, one
// Raft identity, one directory).
TEST_CASE("a deleted topic's actor going down leaves the re-created topic's partition alone") {
  node_fixture f;
  REQUIRE(f.create_topic() == schema::ErrorCode::NONE);
  auto old_actor = f.lookup();
  REQUIRE(old_actor);
  // Our monitor is attached after the node's, so the node's down message is
  // queued before ours arrives: a lookup sent after we see the down is
  // answered after the node has handled it.
  f.self->monitor(old_actor);
  REQUIRE(f.delete_topic() == schema::ErrorCode::NONE);
  REQUIRE(f.create_topic() == schema::ErrorCode::NONE);
  auto recreated = f.lookup();
  REQUIRE(recreated);
  bool down = false;
  f.self->receive([&](caf::down_msg& dm) { down = dm.source == old_actor.address(); },
                  caf::after(std::chrono::seconds{20}) >> [] {});
  REQUIRE(down);
  CHECK(f.lookup() == recreated);
  REQUIRE(f.produce(recreated, "new") == schema::ErrorCode::NONE);
  CHECK(f.fetch_all(recreated) == std::vector<std::string>{"new"});
}
