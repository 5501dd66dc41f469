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

  node_fixture() {
    actors::node_args args;
    args.data_dir = dir.path();
    args.max_restarts = 3;
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
    storage::for_each_batch({reinterpret_cast<const char*>(data.begin()), data.size()}, [&](std::span<const char> b) {
      if (!storage::is_control_batch(b))
        storage::for_each_record(b, 0, [&](storage::record&& rec) { values.push_back(rec.value); });
    });
    return values;
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
  }
}
