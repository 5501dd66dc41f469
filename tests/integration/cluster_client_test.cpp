// The client finds leaders: against a static three-node cluster (real
// heraldd processes), a client started from any one broker produces to and
// consumes from every partition, wherever its leader is, and goes on across
// a SIGKILL of a leader: every acknowledged record is read back, in order
// per partition, duplicated only where a batch was resent (at-least-once).

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <caf/all.hpp>

#include "client/actors.hpp"
#include "client/blocking.hpp"
#include "protocol/atoms.hpp"
#include "protocol/client_system.hpp"
#include "tests/support/cluster.hpp"

using namespace herald;
using namespace herald::test;

namespace {

// Each partition's leader as node `id` sees it (-1 where unknown).
std::vector<std::int32_t> leaders_seen_by(static_cluster& c, int id, const std::string& topic) {
  try {
    client::connection conn{c.address(id)};
    std::vector<std::int32_t> out;
    for (const auto& p : conn.describe_topic(topic).partitions)
      out.push_back(p.leader);
    return out;
  } catch (const std::exception&) {
    return {};
  }
}

// Waits until every partition of `topic` has a leader that itself agrees.
std::vector<std::int32_t> settled_leaders(static_cluster& c, int asking, const std::string& topic) {
  std::vector<std::int32_t> leaders;
  REQUIRE(eventually(
    [&] {
      leaders = leaders_seen_by(c, asking, topic);
      if (leaders.empty())
        return false;
      for (std::size_t p = 0; p < leaders.size(); ++p) {
        if (leaders[p] <= 0 || !c.running(leaders[p]))
          return false;
        auto own = leaders_seen_by(c, leaders[p], topic);
        if (own.size() != leaders.size() || own[p] != leaders[p])
          return false;
      }
      return true;
    },
    std::chrono::seconds{30}));
  return leaders;
}

void create_topic(static_cluster& c, const std::filesystem::path& dir, const std::string& topic, int partitions) {
  REQUIRE(run_cli(c.address(1), "topic create " + topic + " --partitions " + std::to_string(partitions),
                  dir / "out", dir / "err") == 0);
}

// Polls into `out` until it holds `want` distinct values or 30 s passed.
bool read_distinct(client::consumer& consumer, std::vector<client::consumer_record>& out, std::size_t want) {
  std::set<std::string> seen;
  for (const auto& r : out)
    seen.insert(r.record.value);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  while (seen.size() < want && std::chrono::steady_clock::now() < deadline)
    for (auto& r : consumer.poll(std::chrono::milliseconds{200})) {
      seen.insert(r.record.value);
      out.push_back(std::move(r));
    }
  return seen.size() >= want;
}

// Reads the topic from the start until `want` distinct values arrived (or 30 s passed).
std::vector<client::consumer_record> consume(const std::string& brokers, const std::string& topic, std::size_t want) {
  client::connection conn{brokers};
  client::consumer_options options;
  options.start = client::start_position::earliest;
  client::consumer consumer{conn, topic, options};
  std::vector<client::consumer_record> out;
  read_distinct(consumer, out, want);
  return out;
}

// Per key, the values in the order read. Keys name a record's sequence
// ("k3" -> values "k3-0", "k3-1", ...).
std::map<std::string, std::vector<std::string>> by_key(const std::vector<client::consumer_record>& records) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& r : records)
    out[r.record.key.value_or("")].push_back(r.record.value);
  return out;
}

// Every acknowledged value of each key is there, first occurrences in send
// order; returns how many values were read more than once.
std::size_t check_complete_in_order(const std::map<std::string, std::vector<std::string>>& read,
                                    const std::map<std::string, std::vector<std::string>>& acked) {
  std::size_t duplicates = 0;
  for (const auto& [key, values] : acked) {
    auto it = read.find(key);
    REQUIRE_MESSAGE(it != read.end(), "nothing read for key " << key);
    std::map<std::string, std::size_t> first;
    for (std::size_t i = 0; i < it->second.size(); ++i)
      if (!first.emplace(it->second[i], i).second)
        ++duplicates;
    std::size_t previous = 0;
    for (std::size_t k = 0; k < values.size(); ++k) {
      auto at = first.find(values[k]);
      REQUIRE_MESSAGE(at != first.end(), "acknowledged record " << values[k] << " is missing");
      if (k > 0)
        REQUIRE_MESSAGE(at->second > previous, "acknowledged record " << values[k] << " is out of order");
      previous = at->second;
    }
  }
  return duplicates;
}

} // namespace

TEST_CASE("a client started from a broker that leads nothing produces to and consumes from every leader") {
  temp_dir dir;
  static_cluster c(dir.path(), 3);
  create_topic(c, dir.path(), "solo", 1);
  create_topic(c, dir.path(), "spread", 6);
  const auto solo_leader = settled_leaders(c, 1, "solo")[0];
  const int bystander = solo_leader % 3 + 1;  // leads nothing of "solo"
  settled_leaders(c, 1, "spread");

  // The library: acks=all through a broker that does not lead, for one
  // partition and for six led by whichever nodes won them.
  client::connection conn{c.address(bystander)};
  client::producer producer{conn};
  std::map<std::string, std::vector<std::string>> acked;
  for (int i = 0; i < 300; ++i) {
    const std::string key = "k" + std::to_string(i % 12);
    const std::string value = key + "-" + std::to_string(i / 12);
    producer.send("spread", key, value);
    producer.send("solo", key, value);
    acked[key].push_back(value);
  }
  const auto outcome = producer.flush();
  CHECK(outcome.failed == 0);
  CHECK(outcome.acknowledged == 600);
  CHECK(outcome.first_error.empty());

  // Read back through yet another broker, each record exactly once (nothing
  // was resent: no leader moved).
  for (const std::string topic : {"spread", "solo"}) {
    const auto read = consume(c.address(solo_leader), topic, 300);
    CHECK(read.size() == 300);
    CHECK(check_complete_in_order(by_key(read), acked) == 0);
  }

  // The CLI the same way: given one broker, produce and consume go to the leaders.
  std::ofstream(dir.path() / "in") << "a\nb\nc\nd\ne\nf\n";
  const auto out = dir.path() / "out", err = dir.path() / "err";
  CHECK(run_cli(c.address(bystander), "produce solo < " + (dir.path() / "in").string(), out, err) == 0);
  CHECK(read_file(out).starts_with("acknowledged 6 of 6 records"));
  CHECK(run_cli(c.address(bystander), "produce spread --acks 0 < " + (dir.path() / "in").string(), out, err) == 0);
  CHECK(run_cli(c.address(bystander), "consume solo --from-beginning --max-messages 306", out, err) == 0);
  const auto text = read_file(out);
  CHECK(text.ends_with("a\nb\nc\nd\ne\nf\n"));
}

TEST_CASE("a producer goes on across a SIGKILL of the leader: every acknowledged record is read back in order") {
  temp_dir dir;
  static_cluster c(dir.path(), 3);
  create_topic(c, dir.path(), "events", 3);
  const auto leaders = settled_leaders(c, 1, "events");
  // Started from the very broker that will die: the others it knows only
  // from metadata.
  const int victim = leaders[0];

  client::connection conn{c.address(victim)};
  client::producer_options options;
  options.acks = schema::Acks::ALL;
  options.linger_ms = 1;
  client::producer producer{conn, options};
  std::map<std::string, std::vector<std::string>> acked;
  std::uint64_t total = 0, resent = 0;
  for (int round = 0; round < 30; ++round) {
    for (int i = 0; i < 150; ++i) {
      const std::string key = "k" + std::to_string(i % 9);
      producer.send("events", key, key + "-" + std::to_string(round * 150 + i));
    }
    if (round == 8)
      c.kill9(victim);  // records of this round are in flight or queued
    const auto outcome = producer.flush();
    // Nothing fails: batches the dead leader held are resent to the new one.
    REQUIRE_MESSAGE(outcome.failed == 0, outcome.first_error);
    total = outcome.acknowledged;
    resent = outcome.resent;
  }
  for (int round = 0; round < 30; ++round)
    for (int i = 0; i < 150; ++i) {
      const std::string key = "k" + std::to_string(i % 9);
      acked[key].push_back(key + "-" + std::to_string(round * 150 + i));
    }
  CHECK(total == 30 * 150);
  MESSAGE("records resent after the kill: " << resent);

  // The survivors serve everything: complete, in order per key (= per
  // partition), duplicated only within what was resent.
  const int survivor = victim % 3 + 1;
  const auto read = consume(c.address(survivor), "events", total);
  REQUIRE(read.size() >= total);
  const auto duplicates = check_complete_in_order(by_key(read), acked);
  CHECK(duplicates <= resent);
  CHECK(read.size() == total + duplicates);

  // And through the CLI, given one surviving broker.
  const auto out = dir.path() / "out", err = dir.path() / "err";
  CHECK(run_cli(c.address(survivor), "consume events --from-beginning --max-messages " + std::to_string(read.size()),
                out, err) == 0);
}

TEST_CASE("a consumer follows a new leader after a SIGKILL and resumes at its position, without gaps") {
  temp_dir dir;
  static_cluster c(dir.path(), 3);
  create_topic(c, dir.path(), "feed", 2);
  const auto leaders = settled_leaders(c, 1, "feed");
  const int victim = leaders[0];
  const int survivor = victim % 3 + 1;

  client::connection consumer_conn{c.address(victim)};
  client::consumer_options consumer_options;
  consumer_options.start = client::start_position::earliest;
  consumer_options.fetch_max_wait_ms = 100;
  client::consumer consumer{consumer_conn, "feed", consumer_options};
  client::connection producer_conn{c.address(survivor)};
  client::producer producer{producer_conn};

  std::vector<client::consumer_record> read;
  auto read_until = [&](std::size_t n) { return read_distinct(consumer, read, n); };
  std::map<std::string, std::vector<std::string>> acked;
  auto produce = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      const std::string key = "k" + std::to_string(i % 4);
      producer.send("feed", key, key + "-" + std::to_string(i));
      acked[key].push_back(key + "-" + std::to_string(i));
    }
    const auto outcome = producer.flush();
    REQUIRE_MESSAGE(outcome.failed == 0, outcome.first_error);
    return outcome.resent;
  };
  std::uint64_t resent = produce(0, 400);
  REQUIRE(read_until(400));
  const auto read_before_kill = read.size();
  std::map<std::uint32_t, std::int64_t> position;
  for (const auto& s : consumer.status())
    position[s.partition] = s.position;

  c.kill9(victim);
  resent = produce(400, 800);
  REQUIRE(read_until(800));
  // Reading goes on from where it stopped: the first record read after the
  // kill, per partition, is at or past the position reached before it (past
  // it by the new leader's own entry), never before it.
  std::map<std::uint32_t, std::int64_t> first_after;
  for (std::size_t i = read_before_kill; i < read.size(); ++i)
    first_after.emplace(read[i].partition, static_cast<std::int64_t>(read[i].record.offset));
  for (const auto& [p, at] : first_after)
    CHECK(at >= position[p]);
  // No gap: every acknowledged record was read, in order per key.
  const auto duplicates = check_complete_in_order(by_key(read), acked);
  CHECK(duplicates <= resent);
  for (const auto& s : consumer.status())
    CHECK(s.last_error == schema::ErrorCode::NONE);
}

TEST_CASE("the cluster session opens a session per broker it needs and closes those left unused") {
  temp_dir dir;
  static_cluster c(dir.path(), 3);
  create_topic(c, dir.path(), "solo", 1);
  const auto leader = settled_leaders(c, 1, "solo")[0];
  const int bystander = leader % 3 + 1;

  caf::actor_system_config cfg;
  configure_client_system(cfg);
  caf::actor_system system{cfg};
  client::cluster_options options;
  options.bootstrap = {c.address(bystander)};
  options.idle_close_ms = 1500;
  auto session = client::spawn_cluster_session(system, options);
  caf::scoped_actor self{system};
  auto open_sessions = [&] {
    std::vector<std::string> open;
    self->request(session, std::chrono::seconds{10}, caf::get_atom::value)
      .receive([&](std::vector<std::string>& o) { open = std::move(o); }, [](caf::error&) {});
    std::sort(open.begin(), open.end());
    return open;
  };
  CHECK(open_sessions().empty());  // nothing opened before it is needed

  client::producer_options po;
  po.linger_ms = 0;
  auto producer = client::spawn_producer(system, session, po);
  self->request(producer, std::chrono::seconds{30}, send_atom::value, std::string{"solo"}, std::optional<std::string>{},
                std::string{"v"})
    .receive([](std::uint32_t, std::int64_t) {}, [](caf::error& e) { FAIL(caf::to_string(e)); });
  // The bystander answered metadata; the leader took the produce.
  auto open = open_sessions();
  std::vector<std::string> both{c.address(bystander), c.address(leader)};
  std::sort(both.begin(), both.end());
  CHECK(open == both);
  // Unused, both close; the next request opens what it needs again.
  CHECK(eventually([&] { return open_sessions().empty(); }, std::chrono::seconds{10}));
  self->request(producer, std::chrono::seconds{30}, send_atom::value, std::string{"solo"}, std::optional<std::string>{},
                std::string{"w"})
    .receive([](std::uint32_t, std::int64_t offset) { CHECK(offset >= 1); },
             [](caf::error& e) { FAIL(caf::to_string(e)); });
  CHECK(open_sessions() == std::vector<std::string>{c.address(leader)});
  self->send_exit(producer, caf::exit_reason::user_shutdown);
  self->send_exit(session, caf::exit_reason::user_shutdown);
}

TEST_CASE("herald produce and herald consume, given one broker, go on across a SIGKILL of the leader") {
  temp_dir dir;
  static_cluster c(dir.path(), 3);
  create_topic(c, dir.path(), "lines", 3);
  const auto leaders = settled_leaders(c, 1, "lines");
  const int victim = leaders[1];
  const int survivor = victim % 3 + 1;

  // herald produce reads a fifo the test writes into, so the kill falls
  // between lines it has sent and lines it has yet to read.
  // (Opened read-write first: the child's open for reading then returns at
  // once, and the test is its only writer, so closing it is the end of input.)
  const auto fifo = dir.path() / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  int in = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);  // not inherited: herald must see the end
  REQUIRE(in >= 0);
  child_process produce({herald_path(), "--broker", c.address(victim), "produce", "lines", "--key-separator", ":"},
                        dir.path() / "produce.out", dir.path() / "produce.err", fifo);
  std::map<std::string, std::vector<std::string>> sent;
  auto write = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      const std::string key = "k" + std::to_string(i % 6);
      const std::string line = key + ":" + key + "-" + std::to_string(i) + "\n";
      REQUIRE(::write(in, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
      sent[key].push_back(key + "-" + std::to_string(i));
    }
  };
  auto stored = [&] {
    std::int64_t sum = 0;
    try {
      client::connection conn{c.address(survivor), client::connection::routing::pinned};
      for (const auto& p : conn.describe_topic("lines").partitions)
        sum += std::max<std::int64_t>(p.high_watermark, 0);
    } catch (const std::exception&) {
    }
    return sum;
  };
  write(0, 3000);
  REQUIRE(eventually([&] { return stored() >= 1000; }, std::chrono::seconds{30}));
  c.kill9(victim);
  write(3000, 6000);
  ::close(in);
  const auto rc = produce.wait_for(std::chrono::seconds{90});
  REQUIRE(rc.has_value());
  CHECK_MESSAGE(*rc == 0, read_file(dir.path() / "produce.err"));
  CHECK(read_file(dir.path() / "produce.out").starts_with("acknowledged 6000 of 6000 records"));

  const auto out = dir.path() / "out", err = dir.path() / "err";
  REQUIRE(run_cli(c.address(survivor), "consume lines --from-beginning --print-key --timeout-ms 3000", out, err) == 0);
  std::map<std::string, std::vector<std::string>> read;
  std::istringstream lines(read_file(out));
  for (std::string line; std::getline(lines, line);) {
    const auto tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    read[line.substr(0, tab)].push_back(line.substr(tab + 1));
  }
  check_complete_in_order(read, sent);
}
