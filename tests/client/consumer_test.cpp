// The consumer actor against a fake session (tests/client/fake_session.hpp):
// where it fetches after errors, what a poll reports, when it quits.

#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "protocol/atoms.hpp"
#include "protocol/errors.hpp"
#include "client/actors.hpp"
#include "client/backoff.hpp"
#include "schema/wire.hpp"
#include "storage/record_batch.hpp"
#include "tests/client/fake_session.hpp"

using namespace herald;
using schema::ErrorCode;
using test::held_request;

namespace {

std::int64_t fetch_offset(const held_request& h) {
  wire::message_reader reader(h.bytes);
  return reader.root<schema::Request>().getFetch().getOffset();
}

struct consumer_fixture {
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  test::fake_session_handle session{system};
  caf::scoped_actor self{system};
  caf::actor consumer;

  consumer_fixture() {
    client::consumer_options options;
    options.start = client::start_position::earliest;
    consumer = client::spawn_consumer(system, session.actor(), "t", options);
  }
  ~consumer_fixture() { self->send_exit(consumer, caf::exit_reason::kill); }

  // The next request of kind `which` (the only one held).
  held_request next(schema::Request::Which which) {
    bool ok = false;
    auto held = session.wait_for([](const std::vector<held_request>& h) { return !h.empty(); }, ok);
    REQUIRE(ok);
    REQUIRE(held.size() == 1);
    REQUIRE(held[0].which() == which);
    return held[0];
  }

  // Metadata (one partition) and the start offset.
  void start_at(std::int64_t offset) {
    session.answer(next(schema::Request::METADATA).id, test::metadata_response("t", 1));
    session.answer(next(schema::Request::LIST_OFFSETS).id, test::list_offsets_response(offset));
  }

  std::vector<client::consumer_partition_status> status() {
    std::vector<client::consumer_partition_status> out;
    self->request(consumer, std::chrono::seconds{10}, consumer_status_atom::value)
      .receive([&](std::vector<client::consumer_partition_status>& s) { out = std::move(s); },
               [&](caf::error& e) { FAIL(caf::to_string(e)); });
    return out;
  }

  // Polls once; the error code when it failed.
  ErrorCode poll(std::vector<client::consumer_record>& out, std::uint32_t timeout_ms = 5000) {
    ErrorCode code = ErrorCode::NONE;
    self->request(consumer, std::chrono::seconds{30}, poll_atom::value, std::uint32_t{100}, timeout_ms)
      .receive([&](std::vector<client::consumer_record>& r) { out = std::move(r); },
               [&](caf::error& e) { code = decode_error(e).code; });
    return code;
  }
};

std::vector<char> one_batch(std::uint64_t base_offset, const std::string& value) {
  storage::batch_builder b;
  b.add(1, std::nullopt, value);
  auto batch = b.build();
  storage::stamp_batch(batch, base_offset, 1);
  return batch;
}

} // namespace

TEST_CASE("an offset above the high watermark is retried where it was, never rewound") {
  consumer_fixture f;
  f.start_at(10);
  auto fetch = f.next(schema::Request::FETCH);
  CHECK(fetch_offset(fetch) == 10);
  // A restarted replica that does not know its commit index yet.
  f.session.answer(fetch.id, test::fetch_response({}, 5, 0, ErrorCode::OFFSET_OUT_OF_RANGE, "offset 10 is outside"));
  auto again = f.next(schema::Request::FETCH);  // not a ListOffsets earliest
  CHECK(fetch_offset(again) == 10);
  auto st = f.status();
  REQUIRE(st.size() == 1);
  CHECK(st[0].position == 10);
  CHECK(st[0].last_error == ErrorCode::OFFSET_OUT_OF_RANGE);
  CHECK(st[0].failures == 1);

  // Retention moved the log start past it: resume at the log start.
  f.session.answer(again.id, test::fetch_response({}, 40, 20, ErrorCode::OFFSET_OUT_OF_RANGE, "below log start"));
  auto moved = f.next(schema::Request::FETCH);
  CHECK(fetch_offset(moved) == 20);
  st = f.status();
  CHECK(st[0].last_error == ErrorCode::NONE);
  CHECK(st[0].position == 20);
}

TEST_CASE("an unavailable partition shows in the status and is retried with back-off") {
  consumer_fixture f;
  f.start_at(0);
  auto fetch = f.next(schema::Request::FETCH);
  const auto failed_at = std::chrono::steady_clock::now();
  f.session.answer(fetch.id, test::error_response(ErrorCode::PARTITION_UNAVAILABLE, "t/0 is offline"));
  auto again = f.next(schema::Request::FETCH);
  CHECK(std::chrono::steady_clock::now() - failed_at >= std::chrono::milliseconds{50});
  auto st = f.status();
  REQUIRE(st.size() == 1);
  CHECK(st[0].last_error == ErrorCode::PARTITION_UNAVAILABLE);
  CHECK(st[0].message == "t/0 is offline");
  f.session.answer(again.id, test::fetch_response(one_batch(0, "v"), 1, 0));
  std::vector<client::consumer_record> records;
  REQUIRE(f.poll(records) == ErrorCode::NONE);
  REQUIRE(records.size() == 1);
  CHECK(records[0].record.value == "v");
  CHECK(f.status()[0].last_error == ErrorCode::NONE);
}

TEST_CASE("a batch that passes its CRC but does not decode fails the poll with corruptBatch") {
  consumer_fixture f;
  f.start_at(0);
  auto good = one_batch(0, "good");
  auto bad = one_batch(1, "bad");
  // Claim two records where the payload holds one, and seal it again: the
  // CRC is right, the payload disagrees with the header.
  auto h = storage::decode_batch_header(bad);
  h.record_count = 2;
  h.last_offset_delta = 1;
  storage::encode_batch_header(h, bad);
  storage::seal_batch(bad);
  REQUIRE(storage::validate_batch(bad).is_ok());
  auto records = good;
  records.insert(records.end(), bad.begin(), bad.end());
  f.session.answer(f.next(schema::Request::FETCH).id, test::fetch_response(records, 3, 0));

  std::vector<client::consumer_record> out;
  CHECK(f.poll(out) == ErrorCode::NONE);  // what came before it is delivered
  REQUIRE(out.size() == 1);
  CHECK(out[0].record.value == "good");
  out.clear();
  CHECK(f.poll(out) == ErrorCode::CORRUPT_BATCH);
}

TEST_CASE("the consumer fails its waiting polls and quits when its session dies") {
  consumer_fixture f;
  f.start_at(0);
  f.next(schema::Request::FETCH);
  f.self->monitor(f.consumer);
  auto pending = f.self->request(f.consumer, std::chrono::seconds{30}, poll_atom::value, std::uint32_t{10},
                                 std::uint32_t{20000});
  f.session.kill();
  ErrorCode code = ErrorCode::NONE;
  pending.receive([](std::vector<client::consumer_record>&) {}, [&](caf::error& e) { code = decode_error(e).code; });
  CHECK(code == ErrorCode::PARTITION_UNAVAILABLE);
  bool down = false;
  f.self->receive([&](caf::down_msg& dm) { down = dm.source == f.consumer.address(); },
                  caf::after(std::chrono::seconds{10}) >> [] {});
  CHECK(down);
}

TEST_CASE("back-off doubles from 50 ms to 2 s and resets on success") {
  using ms = std::chrono::milliseconds;
  client::backoff b;
  std::vector<ms> delays;
  for (int i = 0; i < 8; ++i)
    delays.push_back(b.next());
  CHECK(delays == std::vector<ms>{ms{50}, ms{100}, ms{200}, ms{400}, ms{800}, ms{1600}, ms{2000}, ms{2000}});
  CHECK(b.failures() == 8);
  b.reset();
  CHECK(b.failures() == 0);
  CHECK(b.next() == ms{50});
}
