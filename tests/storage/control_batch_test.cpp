#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/batch_header.hpp"
#include "storage/control_batch.hpp"
#include "storage/partition_log.hpp"
#include "storage/record_batch.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using namespace herald::storage::test;

namespace {

// Rewrites the header through `edit` and recomputes the CRC, so that only the
// edited rule can fail.
template <class Edit>
std::vector<char> resealed(std::vector<char> batch, Edit edit) {
  batch_header h = decode_batch_header(batch);
  edit(h);
  encode_batch_header(h, batch);
  seal_batch(batch);
  return batch;
}

std::vector<char> with_control_bit(std::vector<char> batch) {
  return resealed(std::move(batch), [](batch_header& h) { h.attributes |= batch_control_bit; });
}

// A one-record batch with the given key, marked as a control batch.
std::vector<char> control_with_key(std::optional<std::string_view> key, std::string_view value = "") {
  batch_builder b;
  b.add(5, key, value);
  return with_control_bit(b.build());
}

// The single record of a batch, decoded.
record only_record(std::span<const char> batch) {
  std::vector<record> records;
  REQUIRE(for_each_record(batch, 0, [&](record&& r) { records.push_back(std::move(r)); }).is_ok());
  REQUIRE(records.size() == 1);
  return records.front();
}

const std::vector<char> config_bytes = {'\x02', '\0', '\0', '\0', '\x07', '\0', 'z', '\xff', '\0'};

} // namespace

TEST_CASE("a control batch is a sealed one-record batch with only the control bit set") {
  const auto batch = build_control_batch(control_kind::raft_configuration, config_bytes, 1234);
  REQUIRE(validate_batch(batch).is_ok());
  CHECK(validate_batch_deep(batch).is_ok());
  const batch_header h = decode_batch_header(batch);
  CHECK(h.base_offset == 0);
  CHECK(h.term == 0);
  CHECK(h.attributes == batch_control_bit);
  CHECK(h.is_control());
  CHECK(h.record_count == 1);
  CHECK(h.last_offset_delta == 0);
  CHECK(h.first_timestamp == 1234);
  CHECK(h.max_timestamp == 1234);
  CHECK(h.producer_id == -1);

  const record r = only_record(batch);
  CHECK(r.key == std::optional<std::string>("herald.raft.config"));
  CHECK(r.value == std::string(config_bytes.begin(), config_bytes.end()));
  CHECK(r.timestamp == 1234);
}

TEST_CASE("a no-op control batch carries the noop key and an empty value") {
  const auto batch = build_control_batch(control_kind::raft_noop, {}, 0);
  REQUIRE(validate_batch_deep(batch).is_ok());
  const record r = only_record(batch);
  CHECK(r.key == std::optional<std::string>("herald.raft.noop"));
  CHECK(r.value.empty());
}

TEST_CASE("building the same control batch twice gives the same bytes") {
  // Every replica builds its own copy; the logs must stay byte-identical.
  CHECK(build_control_batch(control_kind::raft_noop, {}, 0) == build_control_batch(control_kind::raft_noop, {}, 0));
  CHECK(build_control_batch(control_kind::raft_configuration, config_bytes, 9) ==
        build_control_batch(control_kind::raft_configuration, config_bytes, 9));
  CHECK(build_control_batch(control_kind::raft_noop, {}, 0) !=
        build_control_batch(control_kind::raft_configuration, {}, 0));
}

TEST_CASE("is_control_batch tells control batches from producer batches by the header") {
  CHECK(is_control_batch(build_control_batch(control_kind::raft_noop, {}, 0)));
  CHECK(is_control_batch(build_control_batch(control_kind::raft_configuration, config_bytes, 0)));
  CHECK_FALSE(is_control_batch(make_batch(1)));
  CHECK_FALSE(is_control_batch(make_batch(3)));
  // Codec bits alone do not make a control batch.
  CHECK_FALSE(is_control_batch(resealed(make_batch(1), [](batch_header& h) { h.attributes = 2; })));
  // Too short to hold a header: not a control batch, and no out-of-bounds read.
  CHECK_FALSE(is_control_batch(std::vector<char>(batch_header_size - 1, '\xff')));
  CHECK_FALSE(is_control_batch({}));
}

TEST_CASE("read_control_batch gives back the kind and value that were built") {
  SUBCASE("configuration with binary bytes") {
    auto r = read_control_batch(build_control_batch(control_kind::raft_configuration, config_bytes, 0));
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    CHECK(r->kind == control_kind::raft_configuration);
    CHECK(r->value == config_bytes);
  }
  SUBCASE("no-op") {
    auto r = read_control_batch(build_control_batch(control_kind::raft_noop, {}, 0));
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    CHECK(r->kind == control_kind::raft_noop);
    CHECK(r->value.empty());
  }
  SUBCASE("after the leader stamps offset and term") {
    auto batch = build_control_batch(control_kind::raft_configuration, config_bytes, 0);
    stamp_batch(batch, 987654, 42);
    auto r = read_control_batch(batch);
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    CHECK(r->value == config_bytes);
  }
}

TEST_CASE("read_control_batch refuses producer batches and unsound or unknown control batches") {
  SUBCASE("a producer batch") {
    auto r = read_control_batch(make_batch(1));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_batch);
  }
  SUBCASE("a producer batch that uses a control key") {
    batch_builder b;
    b.add(0, "herald.raft.noop", "");
    auto r = read_control_batch(b.build());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_batch);
  }
  SUBCASE("a control batch with an unknown key") {
    auto r = read_control_batch(control_with_key("herald.raft.other"));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_batch);
  }
  SUBCASE("a control batch whose record has no key") {
    auto r = read_control_batch(control_with_key(std::nullopt, "x"));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_batch);
  }
  SUBCASE("a control batch with a flipped payload bit") {
    auto batch = build_control_batch(control_kind::raft_configuration, config_bytes, 0);
    batch.back() = static_cast<char>(batch.back() ^ 1);
    auto r = read_control_batch(batch);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_batch);
  }
  SUBCASE("a truncated control batch") {
    auto batch = build_control_batch(control_kind::raft_noop, {}, 0);
    batch.resize(batch.size() - 8);
    auto r = read_control_batch(batch);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_batch);
  }
}

TEST_CASE("validate_batch accepts the control bit only on a batch of exactly one record") {
  CHECK(validate_batch(with_control_bit(make_batch(1))).is_ok());
  // With a codec too: the control bit sits beside the codec bits.
  CHECK(validate_batch(resealed(make_batch(1), [](batch_header& h) { h.attributes = batch_control_bit | 1; }))
            .is_ok());

  const status two = validate_batch(with_control_bit(make_batch(2)));
  CHECK(two.code == errc::invalid_batch);
  CHECK(two.message.find("control") != std::string::npos);
  CHECK(validate_batch(with_control_bit(make_batch(5))).code == errc::invalid_batch);
}

TEST_CASE("validate_batch still refuses every unknown attribute bit") {
  const auto one = make_batch(1);
  // Bits 0-2 are the codec, 3 the control bit and 4 the compacted bit.
  for (int bit = 5; bit < 16; ++bit) {
    const auto attributes = static_cast<std::uint16_t>(1u << bit);
    const status s = validate_batch(resealed(one, [&](batch_header& h) { h.attributes = attributes; }));
    CHECK_MESSAGE(s.code == errc::invalid_batch, "bit ", bit);
    const status with_control = validate_batch(resealed(
        one, [&](batch_header& h) { h.attributes = static_cast<std::uint16_t>(attributes | batch_control_bit); }));
    CHECK_MESSAGE(with_control.code == errc::invalid_batch, "bit ", bit, " with the control bit");
  }
}

TEST_CASE("a control batch is appended like any batch and takes one offset") {
  temp_dir dir;
  auto log = open_log(dir.path(), log_config{});
  REQUIRE(log->append(make_batch(3), 1).has_value());
  auto appended = log->append(build_control_batch(control_kind::raft_noop, {}, 0), 2);
  REQUIRE_MESSAGE(appended.has_value(), appended.error().message);
  CHECK(appended->base_offset == 3);
  CHECK(appended->last_offset == 3);
  CHECK(log->log_end_offset() == 4);

  auto read = log->read(3, unlimited, no_upto);
  REQUIRE_MESSAGE(read.has_value(), read.error().message);
  CHECK(is_control_batch(read->bytes));
  CHECK(decode_batch_header(read->bytes).term == 2);
  auto control = read_control_batch(read->bytes);
  REQUIRE_MESSAGE(control.has_value(), control.error().message);
  CHECK(control->kind == control_kind::raft_noop);
}
