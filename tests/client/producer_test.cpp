// The producer actor against a fake session (tests/client/fake_session.hpp):
// what it sends, in what order, and what each record's caller is told.

#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "protocol/atoms.hpp"
#include "protocol/errors.hpp"
#include "client/actors.hpp"
#include "schema/wire.hpp"
#include "tests/client/fake_session.hpp"

using namespace herald;
using schema::ErrorCode;
using test::held_request;

namespace {

using send_handle = decltype(std::declval<caf::scoped_actor&>()->request(
  std::declval<caf::actor&>(), caf::infinite, send_atom::value, std::string{}, std::optional<std::string>{},
  std::string{}));

struct outcome {
  bool ok = false;
  std::int64_t offset = -2;
  ErrorCode code = ErrorCode::NONE;
};

outcome settle(send_handle& h) {
  outcome o;
  h.receive([&](std::uint32_t, std::int64_t offset) { o = {true, offset, ErrorCode::NONE}; },
            [&](caf::error& e) { o = {false, -2, decode_error(e).code}; });
  return o;
}

std::vector<held_request> produces(const std::vector<held_request>& held) {
  std::vector<held_request> out;
  for (const auto& h : held)
    if (h.which() == schema::Request::PRODUCE)
      out.push_back(h);
  return out;
}

struct producer_fixture {
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  test::fake_session_handle session{system};
  caf::scoped_actor self{system};
  caf::actor producer;

  explicit producer_fixture(client::producer_options options) {
    producer = client::spawn_producer(system, session.actor(), options);
  }
  ~producer_fixture() { self->send_exit(producer, caf::exit_reason::kill); }

  send_handle send(const std::string& value) {
    return self->request(producer, std::chrono::seconds{30}, send_atom::value, std::string{"t"},
                         std::optional<std::string>{}, value);
  }

  // Answers the metadata request for topic t (one partition).
  void answer_metadata() {
    auto held = session.wait_held(1);
    REQUIRE(held.size() == 1);
    REQUIRE(held[0].which() == schema::Request::METADATA);
    session.answer(held[0].id, test::metadata_response("t", 1));
  }

  std::vector<held_request> wait_produces(std::size_t n) {
    bool ok = false;
    auto h = session.wait_for([n](const std::vector<held_request>& h) { return produces(h).size() >= n; }, ok);
    REQUIRE(ok);
    return produces(h);
  }

  void flush() {
    // (A delivered caf::unit arrives as an empty message.)
    self->request(producer, std::chrono::seconds{30}, flush_atom::value).receive([] {}, [](caf::error& e) {
      FAIL(caf::to_string(e));
    });
  }
};

client::producer_options one_record_batches() {
  client::producer_options o;
  o.batch_records = 1;  // each record its own batch
  return o;
}

} // namespace

TEST_CASE("a failed batch stops its partition's pipeline: nothing queued behind it is sent") {
  producer_fixture f{one_record_batches()};
  std::vector<send_handle> sends;
  for (int i = 0; i < 3; ++i)
    sends.push_back(f.send("r" + std::to_string(i)));
  f.answer_metadata();
  auto first = f.wait_produces(1);
  // One batch in flight per partition by default: the others wait.
  CHECK(f.session.held().size() == 1);
  f.session.answer(first[0].id, test::error_response(ErrorCode::STORAGE_ERROR, "no space left on device"));
  for (auto& s : sends) {
    auto o = settle(s);
    CHECK(!o.ok);
    CHECK(o.code == ErrorCode::STORAGE_ERROR);
  }
  // Records sent before the caller flushed fail the same way, unsent.
  auto late = f.send("late");
  CHECK(settle(late).code == ErrorCode::STORAGE_ERROR);
  CHECK(f.session.held().empty());

  // After a flush (where the caller saw every outcome) the partition takes
  // records again.
  f.flush();
  auto again = f.send("again");
  auto next = f.wait_produces(1);
  f.session.answer(next[0].id, test::produce_ok(7, 7));
  auto o = settle(again);
  CHECK(o.ok);
  CHECK(o.offset == 7);
}

TEST_CASE("acks=0 is a request the partition answers: a refusal fails the records") {
  auto options = one_record_batches();
  options.acks = schema::Acks::NONE;
  producer_fixture f{options};
  auto s = f.send("lost?");
  f.answer_metadata();
  auto p = f.wait_produces(1);
  f.session.answer(p[0].id, test::error_response(ErrorCode::NOT_LEADER, "node 2 does not lead t/0"));
  auto o = settle(s);
  CHECK(!o.ok);
  CHECK(o.code == ErrorCode::NOT_LEADER);

  f.flush();
  auto s2 = f.send("taken");
  auto p2 = f.wait_produces(1);
  f.session.answer(p2[0].id, test::produce_ok(-1, -1));
  auto o2 = settle(s2);
  CHECK(o2.ok);
  CHECK(o2.offset == -1);
}

TEST_CASE("the producer fails what is outstanding and quits when its session dies") {
  producer_fixture f{one_record_batches()};
  auto s = f.send("r");
  f.answer_metadata();
  f.wait_produces(1);
  f.self->monitor(f.producer);
  f.session.kill();
  CHECK(settle(s).code == ErrorCode::PARTITION_UNAVAILABLE);
  bool down = false;
  f.self->receive([&](caf::down_msg& dm) { down = dm.source == f.producer.address(); },
                  caf::after(std::chrono::seconds{10}) >> [] {});
  CHECK(down);
}

TEST_CASE("a record over the topic's limit is refused before sending, compressed or not") {
  auto options = one_record_batches();
  options.compression = storage::codec::zstd;  // would squeeze it under the limit
  producer_fixture f{options};
  auto big = f.send(std::string(4096, 'x'));
  auto held = f.session.wait_held(1);
  REQUIRE(held.size() == 1);
  f.session.answer(held[0].id, test::metadata_response("t", 1, 2048));
  auto o = settle(big);
  CHECK(!o.ok);
  CHECK(o.code == ErrorCode::RECORD_TOO_LARGE);
  CHECK(f.session.held().empty());  // nothing was sent
  // It fails alone: the next record goes.
  auto small = f.send("fits");
  auto p = f.wait_produces(1);
  f.session.answer(p[0].id, test::produce_ok(3, 3));
  CHECK(settle(small).ok);
}
