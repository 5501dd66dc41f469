// Raft messages on the wire: every kind round-trips, and malformed input is
// rejected with a reason instead of reaching the Raft core.

#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>

#include "raft/configuration.hpp"
#include "schema/raft.capnp.h"
#include "schema/raft_wire.hpp"
#include "schema/wire.hpp"

using namespace herald;
using namespace herald::raft;
using wire::decode_raft;
using wire::encode_raft;
using wire::raft_envelope;

namespace {

raft_envelope envelope(message_body body) {
  return {"orders.eu-west", 4'000'000'007u, message{0x1122334455667788ull, 3, 1ull << 40, std::move(body)}};
}

shared_bytes payload(std::size_t n, char seed) {
  auto b = std::make_shared<bytes>(n);
  for (std::size_t i = 0; i < n; ++i) (*b)[i] = static_cast<char>(seed + i * 7);
  return b;
}

// Decodes `in`'s encoding from an aligned and from an unaligned buffer, checks
// the envelope fields and that re-encoding gives the same bytes.
raft_envelope round_trip(const raft_envelope& in) {
  const std::vector<char> bytes = encode_raft(in);
  REQUIRE(bytes.size() % 8 == 0);
  std::string why;
  auto out = decode_raft(bytes, &why);
  INFO(why);
  REQUIRE(out);
  CHECK(out->topic == in.topic);
  CHECK(out->partition == in.partition);
  CHECK(out->message.from == in.message.from);
  CHECK(out->message.to == in.message.to);
  CHECK(out->message.term == in.message.term);
  CHECK(out->message.body.index() == in.message.body.index());
  CHECK(encode_raft(*out) == bytes);

  std::vector<char> shifted(bytes.size() + 1);
  std::memcpy(shifted.data() + 1, bytes.data(), bytes.size());
  auto unaligned = decode_raft(std::span<const char>(shifted).subspan(1), &why);
  REQUIRE(unaligned);
  CHECK(encode_raft(*unaligned) == bytes);
  return *out;
}

template <class T>
T body_of(const raft_envelope& e) {
  REQUIRE(std::holds_alternative<T>(e.message.body));
  return std::get<T>(e.message.body);
}

void expect_rejected(std::span<const char> bytes, const char* reason_part = "") {
  std::string why;
  std::optional<raft_envelope> out;
  CHECK_NOTHROW(out = decode_raft(bytes, &why));
  CHECK(!out);
  CHECK(!why.empty());
  CHECK(why.find(reason_part) != std::string::npos);
  CHECK_NOTHROW(out = decode_raft(bytes));  // and without a `why`
  CHECK(!out);
}

}  // namespace

TEST_CASE("request_vote and its response round-trip") {
  auto v = body_of<request_vote>(round_trip(envelope(request_vote{987654321012ull, 77, true, false})));
  CHECK(v.last_log_index == 987654321012ull);
  CHECK(v.last_log_term == 77);
  CHECK(v.pre_vote);
  CHECK(!v.leadership_transfer);
  auto t = body_of<request_vote>(round_trip(envelope(request_vote{5, 4, false, true})));
  CHECK(!t.pre_vote);
  CHECK(t.leadership_transfer);

  auto r = body_of<request_vote_response>(round_trip(envelope(request_vote_response{true, true})));
  CHECK(r.vote_granted);
  CHECK(r.pre_vote);
  r = body_of<request_vote_response>(round_trip(envelope(request_vote_response{false, false})));
  CHECK(!r.vote_granted);
  CHECK(!r.pre_vote);
}

TEST_CASE("append_entries carries normal and no-op and configuration entries") {
  const configuration config{{1, 2, 5}, {9}};
  append_entries a{1000, 6, {}, 998};
  a.entries.push_back(entry{1001, 6, entry_kind::normal, payload(3000, 'a')});
  a.entries.push_back(entry{1002, 7, entry_kind::normal, nullptr});  // leader's no-op
  a.entries.push_back(entry{1003, 7, entry_kind::normal, std::make_shared<const bytes>()});  // empty
  a.entries.push_back(entry{1004, 7, entry_kind::configuration,
                            std::make_shared<const bytes>(encode_configuration(config))});
  auto got = body_of<append_entries>(round_trip(envelope(a)));
  CHECK(got.prev_log_index == 1000);
  CHECK(got.prev_log_term == 6);
  CHECK(got.leader_commit == 998);
  REQUIRE(got.entries.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(got.entries[i].index == a.entries[i].index);
    CHECK(got.entries[i].term == a.entries[i].term);
    CHECK(got.entries[i].kind == a.entries[i].kind);
  }
  REQUIRE(got.entries[0].data);
  CHECK(*got.entries[0].data == *a.entries[0].data);
  CHECK(got.entries[0].data != a.entries[0].data);  // a fresh copy, not aliased
  CHECK(!got.entries[1].data);                      // empty payloads decode to null
  CHECK(!got.entries[2].data);
  REQUIRE(got.entries[3].data);
  CHECK(decode_configuration(*got.entries[3].data) == config);

  auto heartbeat = body_of<append_entries>(round_trip(envelope(append_entries{12, 3, {}, 11})));
  CHECK(heartbeat.entries.empty());
  CHECK(heartbeat.leader_commit == 11);
  CHECK_FALSE(heartbeat.quiesce);
  auto quiet = body_of<append_entries>(round_trip(envelope(append_entries{12, 3, {}, 11, true})));
  CHECK(quiet.quiesce);
}

TEST_CASE("append_entries_response round-trips on success and on rejection") {
  using response = append_entries_response;
  auto ok = body_of<response>(round_trip(envelope(response{true, 4242, 0, 0, 0, 4242})));
  CHECK(ok.success);
  CHECK(ok.match_index == 4242);
  CHECK(ok.last_log_index == 4242);
  auto no = body_of<response>(round_trip(envelope(response{false, 0, 900, 850, 5, 1200})));
  CHECK(!no.success);
  CHECK(no.match_index == 0);
  CHECK(no.rejected_index == 900);
  CHECK(no.hint_index == 850);
  CHECK(no.hint_term == 5);
  CHECK(no.last_log_index == 1200);
}

TEST_CASE("install_snapshot round-trips with voters and learners and data") {
  install_snapshot s;
  s.meta = snapshot_meta{123456, 12, configuration{{1, 4, 7}, {2, 10}}};
  s.offset = 1ull << 33;
  s.data = *payload(5000, 'z');
  s.done = true;
  auto got = body_of<install_snapshot>(round_trip(envelope(s)));
  CHECK(got.meta == s.meta);
  CHECK(got.offset == s.offset);
  CHECK(got.data == s.data);
  CHECK(got.done);

  install_snapshot first_chunk{snapshot_meta{9, 2, configuration{{3}, {}}}, 0, {}, false};
  auto empty = body_of<install_snapshot>(round_trip(envelope(first_chunk)));
  CHECK(empty.meta == first_chunk.meta);
  CHECK(empty.data.empty());
  CHECK(!empty.done);
}

TEST_CASE("install_snapshot_response and timeout_now round-trip") {
  using response = install_snapshot_response;
  auto r = body_of<response>(round_trip(envelope(response{123456, false, true, 65536})));
  CHECK(r.snapshot_index == 123456);
  CHECK(!r.done);
  CHECK(r.rejected);
  CHECK(r.next_offset == 65536);
  r = body_of<response>(round_trip(envelope(response{77, true, false, 0})));
  CHECK(r.done);
  CHECK(!r.rejected);
  CHECK(body_of<timeout_now>(round_trip(envelope(timeout_now{42}))).last_index == 42);
}

TEST_CASE("a 64 MiB append_entries round-trips") {
  append_entries a{0, 0, {}, 0};
  const shared_bytes batch = payload(1 << 20, 'b');
  for (index_t i = 1; i <= 64; ++i) a.entries.push_back(entry{i, 1, entry_kind::normal, batch});
  const auto bytes = encode_raft(envelope(a));
  CHECK(bytes.size() > (64u << 20));
  std::string why;
  auto out = decode_raft(bytes, &why);
  INFO(why);
  REQUIRE(out);
  auto got = body_of<append_entries>(*out);
  REQUIRE(got.entries.size() == 64);
  CHECK(got.entries.back().index == 64);
  CHECK(*got.entries.back().data == *batch);
}

TEST_CASE("garbage bytes are rejected with a reason") {
  const std::string text = "this is not a Cap'n Proto message";
  expect_rejected(text);
  expect_rejected(std::span<const char>());
  expect_rejected(std::vector<char>(5, 'x'));
  expect_rejected(std::vector<char>(64, '\xff'));
  expect_rejected(std::vector<char>(8, '\0'));  // one empty segment: no root pointer
  std::vector<char> huge_table(16, '\0');       // claims 2^32 - 1 more segments
  std::memset(huge_table.data(), 0xfe, 4);
  expect_rejected(huge_table);
}

TEST_CASE("every truncation of a valid encoding is rejected") {
  append_entries a{10, 2, {}, 9};
  a.entries.push_back(entry{11, 3, entry_kind::normal, payload(100, 'q')});
  a.entries.push_back(entry{12, 3, entry_kind::configuration,
                            std::make_shared<const bytes>(encode_configuration({{1, 2}, {3}}))});
  install_snapshot s{snapshot_meta{50, 4, configuration{{1, 2, 3}, {8}}}, 16, bytes(40, 's'), false};
  for (const auto& e : {envelope(a), envelope(s)}) {
    const auto bytes = encode_raft(e);
    REQUIRE(decode_raft(bytes));
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      CAPTURE(n);
      expect_rejected(std::span<const char>(bytes).first(n));
    }
  }
}

TEST_CASE("install_snapshot with an invalid configuration is rejected") {
  const std::vector<std::pair<configuration, const char*>> bad = {
      {{{2, 1}, {}}, "voters are not sorted"},
      {{{1, 1, 2}, {}}, "voters are not sorted and unique"},
      {{{0, 1}, {}}, "voters contain node id 0"},
      {{{1, 2}, {5, 4}}, "learners are not sorted"},
      {{{1, 2}, {0}}, "learners contain node id 0"},
      {{{1, 2}, {2, 3}}, "node 2 is both voter and learner"},
  };
  for (const auto& [config, reason] : bad) {
    CAPTURE(reason);
    install_snapshot s{snapshot_meta{7, 2, config}, 0, bytes(16, 'd'), true};
    expect_rejected(encode_raft(envelope(s)), reason);
  }
}

TEST_CASE("unknown entry kinds and unknown message kinds are rejected") {
  capnp::MallocMessageBuilder entry_msg;
  auto root = entry_msg.initRoot<schema::RaftEnvelope>();
  auto entries = root.initAppendEntries().initEntries(1);
  entries[0].setIndex(1);
  entries[0].setKind(static_cast<schema::EntryKind>(2));
  expect_rejected(wire::to_bytes(entry_msg), "entry 1 has unknown kind 2");

  // A newer peer's union member: write a discriminant past the last one.
  capnp::MallocMessageBuilder kind_msg;
  kind_msg.initRoot<schema::RaftEnvelope>().setTimeoutNow();
  const auto offset =
      capnp::Schema::from<schema::RaftEnvelope>().getProto().getStruct().getDiscriminantOffset();
  auto data = capnp::AnyStruct::Builder(kind_msg.getRoot<schema::RaftEnvelope>()).getDataSection();
  REQUIRE(data.size() >= 2 * offset + 2);
  data[2 * offset] = 42;
  data[2 * offset + 1] = 0;
  expect_rejected(wire::to_bytes(kind_msg), "unknown message kind 42");
}

TEST_CASE("a list of empty entries cannot claim more entries than the message holds") {
  // Zero-sized structs take no space, so a few words could otherwise make the
  // decoder allocate millions of entries.
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::RaftEnvelope>().initAppendEntries();
  const auto slot =
      capnp::Schema::from<schema::AppendEntries>().getFieldByName("entries").getProto().getSlot().getOffset();
  capnp::AnyStruct::Builder(msg.getRoot<schema::RaftEnvelope>().getAppendEntries())
      .getPointerSection()[slot]
      .initAsListOfAnyStruct(0, 0, 1u << 24);
  const auto bytes = wire::to_bytes(msg);
  CHECK(bytes.size() < 1024);
  expect_rejected(bytes, "more entries than the message has words");
}
