// The session actor between a client and a partition it routes to (a fake
// partition that holds requests until the test answers them).

#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/session_actor.hpp"
#include "schema/wire.hpp"
#include "storage/record_batch.hpp"
#include "tests/client/fake_session.hpp"

using namespace herald;
using schema::ErrorCode;
using bytes = std::vector<char>;

namespace {

// Stands in for the node actor: spawns the session as its child.
caf::behavior test_node(caf::event_based_actor* self, caf::actor owner, actors::routing_ptr routes,
                        actors::session_limits limits) {
  self->set_down_handler([](caf::down_msg&) {});
  auto session = actors::spawn_session(self, std::move(owner), std::move(routes), limits);
  return {[=](caf::get_atom) { return session; }};
}

struct session_fixture {
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  caf::scoped_actor self{system};
  test::fake_session_handle partition{system};  // holds what the session forwards
  caf::actor node;
  caf::actor session;

  explicit session_fixture(actors::session_limits limits = {}) {
    auto table = std::make_shared<actors::routing_table>();
    table->partitions["t"] = {partition.actor()};
    node = system.spawn(test_node, caf::actor_cast<caf::actor>(self), actors::routing_ptr{table}, limits);
    self->request(node, std::chrono::seconds{10}, caf::get_atom::value)
      .receive([&](caf::actor& s) { session = std::move(s); }, [&](caf::error& e) { FAIL(caf::to_string(e)); });
  }
  ~session_fixture() {
    self->send_exit(session, caf::exit_reason::kill);
    self->send_exit(node, caf::exit_reason::kill);
  }

  static bytes produce(schema::Acks acks, std::uint32_t timeout_ms) {
    storage::batch_builder b;
    b.add(1, std::nullopt, "v");
    auto batch = b.build();
    capnp::MallocMessageBuilder builder;
    auto p = builder.initRoot<schema::Request>().initProduce();
    p.setTopic("t");
    p.setPartition(0);
    p.setAcks(acks);
    p.setTimeoutMs(timeout_ms);
    p.setBatch(kj::arrayPtr(reinterpret_cast<const kj::byte*>(batch.data()), batch.size()));
    return wire::to_bytes(builder);
  }

  // Sends `request` through the session and waits for its answer's code.
  ErrorCode call(bytes request, std::chrono::milliseconds& took) {
    ErrorCode code = ErrorCode::INTERNAL;
    const auto start = std::chrono::steady_clock::now();
    self->request(session, std::chrono::seconds{60}, request_atom::value, std::move(request))
      .receive(
        [&](bytes& r) {
          wire::message_reader reader(r);
          code = reader.root<schema::Response>().getError().getCode();
        },
        [&](caf::error& e) { FAIL(caf::to_string(e)); });
    took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    return code;
  }
};

} // namespace

TEST_CASE("a produce the partition does not answer times out after its own timeoutMs, not a fixed 30 s") {
  actors::session_limits limits;
  limits.produce_answer_margin = std::chrono::milliseconds{100};
  session_fixture f{limits};
  std::chrono::milliseconds took{};
  CHECK(f.call(session_fixture::produce(schema::Acks::ALL, 300), took) == ErrorCode::TIMEOUT);
  CHECK(took >= std::chrono::milliseconds{300});
  CHECK(took < std::chrono::seconds{10});
  CHECK(f.partition.held().size() == 1);  // it was forwarded
}

TEST_CASE("acks=0 is forwarded as a request and the partition's answer goes back") {
  session_fixture f;
  auto caller = caf::scoped_actor{f.system};
  auto pending = caller->request(f.session, std::chrono::seconds{30}, request_atom::value,
                                 session_fixture::produce(schema::Acks::NONE, 0));
  auto held = f.partition.wait_held(1);
  REQUIRE(held.size() == 1);
  CHECK(held[0].which() == schema::Request::PRODUCE);
  f.partition.answer(held[0].id, test::error_response(ErrorCode::NOT_LEADER, "node 1 does not lead t/0"));
  ErrorCode code = ErrorCode::INTERNAL;
  pending.receive(
    [&](bytes& r) {
      REQUIRE(!r.empty());
      wire::message_reader reader(r);
      code = reader.root<schema::Response>().getError().getCode();
    },
    [&](caf::error& e) { FAIL(caf::to_string(e)); });
  CHECK(code == ErrorCode::NOT_LEADER);
}
