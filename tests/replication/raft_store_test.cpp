// replication::raft_store: Raft's log over a partition log (raft_store.hpp).
#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "raft/configuration.hpp"
#include "raft/ready.hpp"
#include "raft/types.hpp"
#include "replication/raft_store.hpp"
#include "storage/atomic_file.hpp"
#include "storage/batch_header.hpp"
#include "storage/checksummed_file.hpp"
#include "storage/control_batch.hpp"
#include "storage/fault_injection.hpp"
#include "storage/little_endian.hpp"
#include "storage/record_batch.hpp"
#include "tests/support/process.hpp"

using namespace herald;
using herald::replication::raft_store;
using herald::replication::storage_failure;
using herald::test::temp_dir;
using configs = std::vector<std::pair<raft::index_t, raft::configuration>>;

namespace {

const raft::configuration no_founders{};
const raft::configuration solo{{1}, {}};
const raft::configuration pair12{{1, 2}, {}};
const raft::configuration trio{{1, 2, 3}, {}};
constexpr std::uint64_t unlimited = std::numeric_limits<std::uint64_t>::max();

// Tiny segments, so a few dozen entries cross several of them.
std::unique_ptr<raft_store> open_store(const std::filesystem::path& dir, const raft::configuration& founders) {
  storage::log_config cfg;
  cfg.segment_bytes = 1024;
  cfg.index_interval_bytes = 200;
  auto s = raft_store::open(dir, cfg, founders);
  REQUIRE_MESSAGE(s.has_value(), s.error().message);
  return std::move(*s);
}

raft::entry normal(raft::index_t i, raft::term_t t, std::uint32_t records) {
  storage::batch_builder b;
  for (std::uint32_t k = 0; k < records; ++k)
    b.add(100 + k, "k" + std::to_string(1000 + i), std::string(40, static_cast<char>('a' + k % 26)));
  return {i, t, raft::entry_kind::normal, std::make_shared<const raft::bytes>(b.build())};
}
raft::entry noop(raft::index_t i, raft::term_t t) { return {i, t, raft::entry_kind::normal, nullptr}; }
raft::entry config_entry(raft::index_t i, raft::term_t t, const raft::configuration& c) {
  return {i, t, raft::entry_kind::configuration, std::make_shared<const raft::bytes>(raft::encode_configuration(c))};
}

void persist(raft_store& s, const raft::ready& r) {
  const auto st = s.persist(r, true);
  REQUIRE_MESSAGE(st.is_ok(), st.message);
}
// As Raft emits them: the hard state's term covers every entry's.
raft::ready with(std::vector<raft::entry> es) {
  raft::ready r;
  raft::term_t term = 1;
  for (const auto& e : es) term = std::max(term, e.term);
  r.hard = raft::hard_state{term, raft::no_node};
  r.entries = std::move(es);
  return r;
}

// What the store should hold: the snapshot, where the log starts and the
// entries after the snapshot as they were given to persist().
struct model {
  raft::snapshot_meta snap;
  std::uint64_t start = 0;
  std::vector<raft::entry> log;

  static bool is_batch(const raft::entry& e) { return e.kind == raft::entry_kind::normal && e.payload_size() > 0; }
  static std::uint64_t width(const raft::entry& e) {
    return is_batch(e) ? storage::decode_batch_header(*e.data).last_offset_delta + 1 : 1;
  }
  void add(const std::vector<raft::entry>& es) { log.insert(log.end(), es.begin(), es.end()); }
  void truncate(raft::index_t from) { log.resize(from - snap.index - 1); }
  std::uint64_t offset(raft::index_t i) const {
    std::uint64_t o = start;
    for (raft::index_t k = snap.index + 1; k < i; ++k) o += width(log[k - snap.index - 1]);
    return o;
  }
  raft::index_t last() const { return snap.index + log.size(); }
  configs log_configs() const {
    configs out;
    for (const auto& e : log)
      if (e.kind == raft::entry_kind::configuration) out.emplace_back(e.index, *raft::decode_configuration(*e.data));
    return out;
  }
};

// What entries() gives back for `given`: a batch stamped with its offset and
// term, a no-op without data, a configuration as it was.
void check_entry(const raft::entry& got, const raft::entry& given, std::uint64_t offset) {
  CHECK(got.index == given.index);
  CHECK(got.term == given.term);
  CHECK(got.kind == given.kind);
  REQUIRE(static_cast<bool>(got.data) == (given.payload_size() > 0));
  if (!got.data) return;
  raft::bytes want = *given.data;
  if (model::is_batch(given)) storage::stamp_batch(want, offset, given.term);
  CHECK(*got.data == want);
}

void check(const raft_store& s, const model& m) {
  CHECK(s.snapshot() == m.snap);
  REQUIRE(s.last_index() == m.last());
  CHECK(s.term_at(m.snap.index) == m.snap.term);
  CHECK(s.end_offset_of(m.snap.index) == m.start);
  CHECK(s.log().log_start_offset() == m.start);
  CHECK(s.log().log_end_offset() == m.offset(m.last() + 1));
  CHECK(s.durable_state().log_configs == m.log_configs());
  for (raft::index_t i = m.snap.index + 1; i <= m.last(); ++i) {
    CAPTURE(i);
    const std::uint64_t o = m.offset(i);
    CHECK(s.term_at(i) == m.log[i - m.snap.index - 1].term);
    CHECK(s.offset_of(i) == o);
    CHECK(s.end_offset_of(i) == m.offset(i + 1));
    CHECK(s.index_starting_at(o) == i);
    if (m.offset(i + 1) > o + 1) CHECK_FALSE(s.index_starting_at(o + 1).has_value());
  }
  CHECK_FALSE(s.index_starting_at(m.offset(m.last() + 1)).has_value());
  CHECK_THROWS_AS(s.term_at(m.last() + 1), storage_failure);
  CHECK_THROWS_AS(s.offset_of(m.last() + 1), storage_failure);  // not std::out_of_range
  CHECK_THROWS_AS(s.offset_of(m.snap.index), storage_failure);
  if (m.snap.index > 0) CHECK_THROWS_AS(s.term_at(m.snap.index - 1), storage_failure);
  if (m.log.empty()) return;
  std::vector<raft::entry> out;
  s.entries(m.snap.index + 1, m.last(), unlimited, out);
  REQUIRE(out.size() == m.log.size());
  for (std::size_t k = 0; k < out.size(); ++k) check_entry(out[k], m.log[k], m.offset(m.log[k].index));
}

// Entries 2 to `last` after a bootstrap of `solo`: batches of 1 to 4
// records, a no-op at 3 and configurations where `cfg_at` says.
model fill(raft_store& s, raft::index_t last, raft::term_t term, const configs& cfg_at = {}) {
  model m;
  m.add({raft::bootstrap_entry(solo)});
  std::vector<raft::entry> es;
  for (raft::index_t i = 2; i <= last; ++i) {
    raft::entry e = i == 3 ? noop(i, term) : normal(i, term, static_cast<std::uint32_t>(1 + i % 4));
    for (const auto& [at, c] : cfg_at)
      if (at == i) e = config_entry(i, term, c);
    es.push_back(e);
  }
  persist(s, with(es));
  m.add(es);
  check(s, m);
  return m;
}

// The raft_snapshot file as raft_store.hpp documents it.
void write_snapshot_file(const std::filesystem::path& dir, const raft::snapshot_meta& meta, std::uint64_t next,
                         bool discard) {
  std::vector<char> body(1024, 0);
  storage::le::put<std::uint64_t>(body.data(), meta.index);
  storage::le::put<std::uint64_t>(body.data() + 8, meta.term);
  storage::le::put<std::uint64_t>(body.data() + 16, next);
  body[24] = discard ? 1 : 0;
  const raft::bytes c = raft::encode_configuration(meta.config);
  storage::le::put<std::uint32_t>(body.data() + 32, static_cast<std::uint32_t>(c.size()));
  std::memcpy(body.data() + 36, c.data(), c.size());
  REQUIRE(storage::save_checksummed_file(dir / "raft_snapshot", 0x4e535248, 1, body).is_ok());
}

// The store's own raft_snapshot file, read by the documented format: its
// fields, and the discard_log byte returned.
int discard_byte(const std::filesystem::path& dir, const raft::snapshot_meta& meta, std::uint64_t next) {
  auto body = storage::load_checksummed_file(dir / "raft_snapshot", 0x4e535248, 1, 1024);
  REQUIRE((body.has_value() && body->has_value()));
  const char* b = (*body)->data();
  const auto size = storage::le::get<std::uint32_t>(b + 32);
  CHECK(raft::snapshot_meta{storage::le::get<std::uint64_t>(b), storage::le::get<std::uint64_t>(b + 8),
                            *raft::decode_configuration(raft::bytes(b + 36, b + 36 + size))} == meta);
  CHECK(storage::le::get<std::uint64_t>(b + 16) == next);
  return b[24];
}

raft::bytes snapshot_bytes(const raft_store& s, raft::index_t index) {
  raft::bytes out;
  bool done = false;
  REQUIRE(s.read_snapshot(index, 0, 1 << 20, out, done));
  CHECK(done);
  return out;
}
raft::bytes le64(std::uint64_t v) {
  raft::bytes out(8);
  storage::le::put<std::uint64_t>(out.data(), v);
  return out;
}

} // namespace

TEST_CASE("a store opened with founders bootstraps entry 1 as a term 1 configuration") {
  temp_dir dir;
  model m;
  m.add({raft::bootstrap_entry(trio)});
  {
    auto s = open_store(dir.path() / "a", trio);
    check(*s, m);  // entry 1 reads back as the configuration entry, term 1
    CHECK(s->durable_state().hard == raft::hard_state{1, raft::no_node});
    CHECK(s->durable_state().log_configs == configs{{1, trio}});
    CHECK(s->log().durable_end_offset() == 1);
  }
  SUBCASE("a reopen gives the same durable state and does not bootstrap again") {
    for (const auto* founders : {&trio, &no_founders, &solo}) {
      auto s = open_store(dir.path() / "a", *founders);
      check(*s, m);
      CHECK(s->durable_state().hard == raft::hard_state{1, raft::no_node});
    }
  }
  SUBCASE("every founder writes the same bytes") {
    auto a = open_store(dir.path() / "a", trio);
    auto b = open_store(dir.path() / "b", trio);
    CHECK(a->log().read(0, 1 << 20, 1)->bytes == b->log().read(0, 1 << 20, 1)->bytes);
    CHECK(storage::is_control_batch(a->log().read(0, 1 << 20, 1)->bytes));
  }
}

TEST_CASE("a store opened without founders starts empty") {
  temp_dir dir;
  for (int round = 0; round < 2; ++round) {
    auto s = open_store(dir.path(), no_founders);
    check(*s, model{});
    CHECK(s->durable_state().hard == raft::hard_state{});
    CHECK(s->durable_state().log_configs.empty());
    CHECK_FALSE(std::filesystem::exists(dir.path() / "hard_state"));
  }
}

TEST_CASE("persisted batches no-ops and configurations read back with their offsets and terms also after a reopen") {
  temp_dir dir;
  model m;
  {
    auto s = open_store(dir.path(), solo);
    m = fill(*s, 12, 2, {{5, pair12}});
    // A second ready in a new term, long enough to cross several segments.
    std::vector<raft::entry> es = {noop(13, 3), config_entry(14, 3, trio)};
    for (raft::index_t i = 15; i <= 40; ++i) es.push_back(normal(i, i < 30 ? 3 : 4, 1 + i % 3));
    persist(*s, with(es));
    m.add(es);
    check(*s, m);
    CHECK(s->log().segment_count() >= 4);
    CHECK(storage::is_control_batch(s->log().read(s->offset_of(13), 1, s->end_offset_of(13))->bytes));
  }
  auto s = open_store(dir.path(), solo);
  check(*s, m);
  CHECK(s->durable_state().log_configs == configs{{1, solo}, {5, pair12}, {14, trio}});
  raft::ready gap = with({normal(m.last() + 2, 4, 1)});
  CHECK(s->persist(gap, true).code == storage::errc::invalid_argument);
}

TEST_CASE("truncate_from drops entries and their configurations and later appends continue") {
  temp_dir dir;
  auto s = open_store(dir.path(), solo);
  model m = fill(*s, 12, 2, {{5, pair12}, {9, trio}});

  raft::ready r = with({normal(8, 3, 2), config_entry(9, 3, pair12), noop(10, 3)});
  r.truncate_from = 8;
  persist(*s, r);
  m.truncate(8);
  m.add(r.entries);
  check(*s, m);
  CHECK(s->durable_state().log_configs == configs{{1, solo}, {5, pair12}, {9, pair12}});

  raft::ready cut;
  cut.truncate_from = 5;
  persist(*s, cut);
  m.truncate(5);
  check(*s, m);
  CHECK(s->durable_state().log_configs == configs{{1, solo}});

  // A truncation past the last index cuts nothing.
  raft::ready more = with({normal(5, 4, 3)});
  more.truncate_from = 5;
  persist(*s, more);
  m.add(more.entries);
  check(*s, m);

  s.reset();
  s = open_store(dir.path(), solo);
  check(*s, m);
}

TEST_CASE("hard state in a ready is persisted and a reopen shows it") {
  temp_dir dir;
  for (const raft::hard_state hs : {raft::hard_state{5, 2}, raft::hard_state{6, raft::no_node}}) {
    raft::ready r;
    r.hard = hs;
    persist(*open_store(dir.path(), no_founders), r);
    CHECK(open_store(dir.path(), no_founders)->durable_state().hard == hs);
  }
}

TEST_CASE("compact moves the log start and read_snapshot serves the next offset") {
  temp_dir dir;
  auto s = open_store(dir.path(), solo);
  model m = fill(*s, 20, 2, {{10, pair12}});
  std::vector<raft::entry> es;
  for (raft::index_t i = 21; i <= 30; ++i)
    es.push_back(i == 24 ? config_entry(i, 3, trio) : normal(i, i < 26 ? 3 : 4, 2));
  persist(*s, with(es));
  m.add(es);
  const std::size_t segments = s->log().segment_count();

  // Inside the run of term 3.
  const raft::snapshot_meta meta{22, 3, pair12};
  const std::uint64_t next = s->end_offset_of(22);
  REQUIRE(s->compact(meta).is_ok());
  m.start = next;
  m.log.erase(m.log.begin(), m.log.begin() + 22);
  m.snap = meta;
  check(*s, m);
  CHECK(s->durable_state().log_configs == configs{{24, trio}});
  CHECK(s->log().segment_count() < segments);
  CHECK(discard_byte(dir.path(), meta, next) == 0);

  const raft::bytes data = le64(next);
  CHECK(snapshot_bytes(*s, 22) == data);
  raft::bytes part;
  bool done = true;
  REQUIRE(s->read_snapshot(22, 0, 3, part, done));
  CHECK(part == raft::bytes(data.begin(), data.begin() + 3));
  CHECK_FALSE(done);
  REQUIRE(s->read_snapshot(22, 3, 100, part, done));
  CHECK(part == raft::bytes(data.begin() + 3, data.end()));
  CHECK(done);
  CHECK_FALSE(s->read_snapshot(21, 0, 100, part, done));
  CHECK_FALSE(s->read_snapshot(22, 9, 100, part, done));

  CHECK(s->compact({22, 3, pair12}).code == storage::errc::invalid_argument);
  CHECK(s->compact({31, 4, trio}).code == storage::errc::invalid_argument);

  s.reset();
  s = open_store(dir.path(), solo);
  check(*s, m);
  CHECK(snapshot_bytes(*s, 22) == data);

  // Up to the last entry: an empty log at its end, and appends continue there
  // in the same term and the next.
  const raft::snapshot_meta all{30, 4, trio};
  const std::uint64_t end = s->end_offset_of(30);
  REQUIRE(s->compact(all).is_ok());
  m.start = end;
  m.log.clear();
  m.snap = all;
  check(*s, m);
  es = {normal(31, 4, 2), noop(32, 5)};
  persist(*s, with(es));
  m.add(es);
  check(*s, m);
  s.reset();
  check(*open_store(dir.path(), solo), m);
}

// A failed save (a full disk: when retention runs) must leave the store as
// it was: the partition actor keeps using it. (Found by this test: the
// snapshot used to change in memory first.)
TEST_CASE("a compaction that cannot save its snapshot changes nothing") {
  namespace fi = storage::fault_injection;
  temp_dir dir;
  auto s = open_store(dir.path(), solo);
  const model m = fill(*s, 12, 2, {{8, pair12}});
  {
    auto inj = std::make_shared<fi::injector>(fi::injector_config{1, false});
    fi::scoped_install scope(inj);
    inj->add(fi::fault(fi::op::write, ENOSPC).forever().on_paths_containing("raft_snapshot"));
    CHECK(s->compact({6, 2, solo}).code == storage::errc::no_space);
  }
  check(*s, m);
  // When space returns it succeeds.
  REQUIRE(s->compact({6, 2, solo}).is_ok());
  CHECK(s->last_index() == 12);
  CHECK(s->log().log_start_offset() == m.offset(7));
}

TEST_CASE("a ready with a snapshot resets the log to start at the snapshot's next offset") {
  temp_dir dir;
  auto s = open_store(dir.path(), solo);
  fill(*s, 10, 2, {{4, pair12}});

  raft::ready bad;
  bad.snapshot = raft::snapshot_meta{40, 6, trio};
  bad.snapshot_data = raft::bytes(7, 0);
  CHECK(s->persist(bad, true).code == storage::errc::invalid_argument);

  raft::ready r = with({normal(41, 6, 3), noop(42, 7)});
  r.snapshot = raft::snapshot_meta{40, 6, trio};
  r.snapshot_data = le64(1000);
  r.hard = raft::hard_state{7, 1};
  persist(*s, r);
  model m{*r.snapshot, 1000, r.entries};
  check(*s, m);
  CHECK(snapshot_bytes(*s, 40) == le64(1000));
  CHECK(discard_byte(dir.path(), m.snap, 1000) == 1);

  // The install is done: a reopen must not reset again and lose 41 and 42.
  s.reset();
  s = open_store(dir.path(), solo);
  check(*s, m);
  CHECK(s->durable_state().hard == raft::hard_state{7, 1});
}

TEST_CASE("a crash between the raft_snapshot file and the log reset is repaired at open") {
  temp_dir dir;
  model old;
  {
    auto s = open_store(dir.path(), solo);
    old = fill(*s, 20, 2, {{6, pair12}});
    // The install's ready saves the hard state (term >= the snapshot's)
    // before the snapshot file.
    raft::ready hard;
    hard.hard = raft::hard_state{5, raft::no_node};
    persist(*s, hard);
  }
  const raft::snapshot_meta meta{50, 5, pair12};
  std::uint64_t next = 0;
  SUBCASE("next offset past the old log") { next = old.offset(21) + 100; }
  SUBCASE("next offset inside the old log") { next = old.offset(7); }
  CAPTURE(next);
  write_snapshot_file(dir.path(), meta, next, true);

  model m{meta, next, {}};
  {
    auto s = open_store(dir.path(), solo);
    check(*s, m);
    CHECK(s->log().segment_count() == 1);
    CHECK(s->durable_state().hard == raft::hard_state{5, raft::no_node});
    persist(*s, with({normal(51, 5, 2)}));
    m.add({normal(51, 5, 2)});
    check(*s, m);
  }
  check(*open_store(dir.path(), solo), m);
}

TEST_CASE("a crash between the raft_snapshot file and a compaction's prefix removal is repaired at open") {
  temp_dir dir;
  model m;
  {
    auto s = open_store(dir.path(), solo);
    m = fill(*s, 20, 2, {{12, pair12}});
  }
  const raft::snapshot_meta meta{9, 2, solo};
  m.start = m.offset(10);
  m.log.erase(m.log.begin(), m.log.begin() + 9);
  m.snap = meta;
  write_snapshot_file(dir.path(), meta, m.start, false);
  auto s = open_store(dir.path(), solo);
  check(*s, m);
  CHECK(s->durable_state().log_configs == configs{{12, pair12}});
}

TEST_CASE("entries stops before max_bytes would be passed but returns at least one entry") {
  temp_dir dir;
  auto s = open_store(dir.path(), solo);
  std::vector<raft::entry> es;
  for (raft::index_t i = 2; i <= 10; ++i) es.push_back(normal(i, 2, 2));
  persist(*s, with(es));
  const std::uint64_t size = es[0].size_bytes();  // every entry has the same size

  auto count = [&](raft::index_t lo, raft::index_t hi, std::uint64_t max_bytes) {
    std::vector<raft::entry> out;
    s->entries(lo, hi, max_bytes, out);
    for (std::size_t k = 0; k < out.size(); ++k) CHECK(out[k].index == lo + k);
    return out.size();
  };
  CHECK(count(2, 10, 0) == 1);
  CHECK(count(2, 10, 1) == 1);
  CHECK(count(2, 10, size) == 1);
  CHECK(count(2, 10, 2 * size) == 2);
  CHECK(count(2, 10, 3 * size - 1) == 2);
  CHECK(count(4, 10, 3 * size) == 3);
  CHECK(count(4, 5, 3 * size) == 2);
  CHECK(count(2, 10, unlimited) == 9);

  // Appends to what `out` already holds, still at least one.
  std::vector<raft::entry> out(1);
  s->entries(6, 10, 0, out);
  REQUIRE(out.size() == 2);
  CHECK(out[1].index == 6);
  CHECK_THROWS_AS(s->entries(2, 11, unlimited, out), storage_failure);
  CHECK_THROWS_AS(s->entries(0, 3, unlimited, out), storage_failure);
}

// A no-op or configuration entry counts far fewer bytes (payload + 24) than
// its control batch takes on disk; a read limited to max_bytes of batch
// bytes used to stop short.
TEST_CASE("entries counts no-ops and configurations by their entry size not their batch size") {
  temp_dir dir;
  auto s = open_store(dir.path(), solo);
  std::vector<raft::entry> es;
  for (raft::index_t i = 2; i <= 6; ++i) es.push_back(noop(i, 2));
  persist(*s, with(es));
  std::vector<raft::entry> out;
  s->entries(2, 6, 3 * noop(2, 2).size_bytes(), out);
  CHECK(out.size() == 3);
}

namespace {
// Where the batch with base offset `offset` sits: its segment file and byte.
std::pair<std::filesystem::path, std::uint64_t> batch_position(const std::filesystem::path& dir, std::uint64_t offset) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".log") continue;
    const std::string bytes = herald::test::read_file(e.path());
    for (std::uint64_t pos = 0; pos + storage::batch_header_size <= bytes.size();) {
      const auto h = storage::decode_batch_header(std::span<const char>(bytes).subspan(pos));
      if (h.length == 0) break;
      if (h.base_offset == offset) return {e.path(), pos};
      pos += h.length;
    }
  }
  FAIL("no batch at offset " << offset);
  return {};
}
}  // namespace

TEST_CASE("a flipped bit in a stored term makes open fail as damaged and keeps the bytes") {
  // Issue 9 item 3: the term is outside the batch CRC. A higher last term
  // makes a replica look more up to date than it is (it could win an
  // election while missing committed entries); a term lower than the one
  // before it cannot come from Raft either.
  temp_dir dir;
  raft::index_t victim = 0;
  std::uint64_t bit = 0;
  std::uint64_t offset = 0;
  {
    auto s = open_store(dir.path(), solo);
    model m = fill(*s, 12, 2);
    std::vector<raft::entry> es;
    for (raft::index_t i = 13; i <= 20; ++i) es.push_back(normal(i, 3, 1));
    persist(*s, with(es));
    SUBCASE("the last entry's term gains a high bit") {
      victim = 20;
      bit = 8 * 16 + 40;
    }
    SUBCASE("a middle entry's term gains a high bit, above the terms after it") {
      victim = 8;
      bit = 8 * 16 + 33;
    }
    SUBCASE("a middle entry's term loses a bit, below the term before it") {
      victim = 16;
      bit = 8 * 16 + 1;  // 3 -> 1
    }
    offset = s->offset_of(victim);
  }
  CAPTURE(victim);
  const auto [path, pos] = batch_position(dir.path(), offset);
  REQUIRE(storage::fault_injection::flip_bit(path, pos * 8 + bit).is_ok());
  const std::string before = herald::test::read_file(path);
  storage::log_config cfg;
  cfg.segment_bytes = 1024;
  cfg.index_interval_bytes = 200;
  auto reopened = raft_store::open(dir.path(), cfg, solo);
  REQUIRE_FALSE(reopened.has_value());
  CHECK(reopened.error().code == storage::errc::damaged);
  CHECK(herald::test::read_file(path) == before);
}

TEST_CASE("persist refuses entries whose terms break Raft's invariants and writes nothing") {
  temp_dir dir;
  auto s = open_store(dir.path(), solo);
  model m = fill(*s, 6, 3);
  const auto end = s->log().log_end_offset();

  raft::ready above = with({normal(7, 4, 1)});
  above.hard = raft::hard_state{3, raft::no_node};  // entry term 4 > hard term 3
  CHECK(s->persist(above, true).code == storage::errc::invalid_argument);

  raft::ready below = with({normal(7, 2, 1)});  // after term 3
  below.hard = raft::hard_state{3, raft::no_node};
  CHECK(s->persist(below, true).code == storage::errc::invalid_argument);

  raft::ready back;
  back.hard = raft::hard_state{2, raft::no_node};  // the hard term went down
  CHECK(s->persist(back, true).code == storage::errc::invalid_argument);

  CHECK(s->log().log_end_offset() == end);
  CHECK(s->durable_state().hard.term == 3);
  check(*s, m);
  auto again = open_store(dir.path(), solo);
  check(*again, m);
}

TEST_CASE("a hard state whose directory fsync failed is not trusted by a reopen in the same process") {
  // Issue 9 item 6: the rename of hard_state succeeded, the directory fsync
  // failed, and the restarted actor read the new (maybe not durable) vote.
  namespace fi = storage::fault_injection;
  temp_dir dir;
  {
    auto s = open_store(dir.path(), solo);
    auto inj = std::make_shared<fi::injector>(fi::injector_config{1, false});
    fi::scoped_install scope(inj);
    inj->add(fi::fault(fi::op::sync).on_directories());
    raft::ready r;
    r.hard = raft::hard_state{4, 1};
    CHECK_FALSE(s->persist(r, true).is_ok());
  }
  storage::log_config cfg;
  cfg.segment_bytes = 1024;
  auto refused = raft_store::open(dir.path(), cfg, solo);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == storage::errc::io_error);
  storage::forget_failed_directory_syncs();  // a reboot: the disk decides again
  CHECK(open_store(dir.path(), solo)->durable_state().hard.term >= 1);
}
