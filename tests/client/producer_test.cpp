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

// The record values of a held produce request's batch.
std::vector<std::string> decode_batch_values(const held_request& h) {
  wire::message_reader reader(h.bytes);
  auto data = reader.root<schema::Request>().getProduce().getBatch();
  std::vector<std::string> out;
  auto st = storage::for_each_record({reinterpret_cast<const char*>(data.begin()), data.size()}, 0,
                                     [&](storage::record&& r) { out.push_back(r.value); });
  REQUIRE(st);
  return out;
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

TEST_CASE("acks=0 is a request the partition answers: a refusal is retried, not silently dropped") {
  auto options = one_record_batches();
  options.acks = schema::Acks::NONE;
  producer_fixture f{options};
  auto s = f.send("lost?");
  f.answer_metadata();
  auto p = f.wait_produces(1);
  f.session.answer(p[0].id, test::error_response(ErrorCode::NOT_LEADER, "node 2 does not lead t/0"));
  auto again = f.wait_produces(1);
  CHECK(decode_batch_values(again[0]) == std::vector<std::string>{"lost?"});
  f.session.answer(again[0].id, test::produce_ok(-1, -1));
  auto o = settle(s);
  CHECK(o.ok);
  CHECK(o.offset == -1);
}

TEST_CASE("a batch refused with notLeader is resent before anything behind it, and counted as resent") {
  producer_fixture f{one_record_batches()};
  std::vector<send_handle> sends;
  for (int i = 0; i < 3; ++i)
    sends.push_back(f.send("r" + std::to_string(i)));
  f.answer_metadata();
  auto first = f.wait_produces(1);
  const auto refused_at = std::chrono::steady_clock::now();
  f.session.answer(first[0].id, test::error_response(ErrorCode::NOT_LEADER, "node 1 does not lead t/0"));
  // The same batch again, after the back-off, and nothing else meanwhile.
  auto retry = f.wait_produces(1);
  CHECK(std::chrono::steady_clock::now() - refused_at >= std::chrono::milliseconds{50});
  REQUIRE(retry.size() == 1);
  CHECK(decode_batch_values(retry[0]) == std::vector<std::string>{"r0"});
  // A lost connection (unknown outcome) is retried the same way.
  f.session.fail(retry[0].id, make_herald_error(ErrorCode::PARTITION_UNAVAILABLE, "connection to broker lost"));
  retry = f.wait_produces(1);
  CHECK(decode_batch_values(retry[0]) == std::vector<std::string>{"r0"});
  f.session.answer(retry[0].id, test::produce_ok(0, 0));
  for (int i = 1; i < 3; ++i) {
    auto next = f.wait_produces(1);
    CHECK(decode_batch_values(next[0]) == std::vector<std::string>{"r" + std::to_string(i)});
    f.session.answer(next[0].id, test::produce_ok(i, i));
  }
  for (int i = 0; i < 3; ++i) {
    auto o = settle(sends[static_cast<std::size_t>(i)]);
    CHECK(o.ok);
    CHECK(o.offset == i);
  }
  std::uint64_t resent = 0;
  f.self->request(f.producer, std::chrono::seconds{10}, caf::get_atom::value)
    .receive([&](std::uint64_t n) { resent = n; }, [](caf::error& e) { FAIL(caf::to_string(e)); });
  CHECK(resent == 1);  // one record, resent twice, counted once
}

TEST_CASE("a batch is retried only within its request timeout, then fails and stops its partition") {
  auto options = one_record_batches();
  options.request_timeout_ms = 300;  // back-offs 50, 100, then 200 would pass it
  producer_fixture f{options};
  auto s = f.send("r0");
  auto behind = f.send("r1");
  f.answer_metadata();
  for (int attempt = 0;; ++attempt) {
    REQUIRE(attempt < 10);
    auto p = f.wait_produces(1);
    CHECK(decode_batch_values(p[0]) == std::vector<std::string>{"r0"});
    f.session.answer(p[0].id, test::error_response(ErrorCode::PARTITION_UNAVAILABLE, "no leader"));
    bool more = false;
    f.session.wait_for([](const std::vector<held_request>& h) { return !produces(h).empty(); }, more,
                       std::chrono::milliseconds{600});
    if (!more)
      break;
  }
  CHECK(settle(s).code == ErrorCode::PARTITION_UNAVAILABLE);
  CHECK(settle(behind).code == ErrorCode::PARTITION_UNAVAILABLE);
}

TEST_CASE("an error no retry can cure is not retried") {
  producer_fixture f{one_record_batches()};
  auto s = f.send("r0");
  f.answer_metadata();
  auto p = f.wait_produces(1);
  f.session.answer(p[0].id, test::error_response(ErrorCode::UNKNOWN_TOPIC, "topic t does not exist"));
  CHECK(settle(s).code == ErrorCode::UNKNOWN_TOPIC);
  CHECK(produces(f.session.held()).empty());
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
