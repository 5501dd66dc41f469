// zk_session against a real ZooKeeper server started by the test
// (tests/support/zookeeper_server). Label: zookeeper.

#include "cluster/zk_session.hpp"
#include "tests/support/zookeeper_server.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <mutex>

#include <signal.h>

using namespace herald::cluster;
using herald::test::eventually;
using herald::test::zookeeper_server;
using namespace std::chrono_literals;

namespace {

// What the callbacks saw: they run on ZooKeeper's thread and only record.
struct recorder {
  std::mutex mutex;
  std::vector<zk_state> states;
  std::vector<zk_watch_event> events;

  zk_options options(const std::string& connect, std::chrono::milliseconds timeout = 4000ms) {
    zk_options o;
    o.connect = connect;
    o.session_timeout = timeout;
    o.on_state = [this](zk_state s) {
      std::lock_guard<std::mutex> lock{mutex};
      states.push_back(s);
    };
    o.on_watch = [this](const zk_watch_event& e) {
      std::lock_guard<std::mutex> lock{mutex};
      events.push_back(e);
    };
    return o;
  }
  bool saw(zk_event type, const std::string& path) {
    std::lock_guard<std::mutex> lock{mutex};
    return std::any_of(events.begin(), events.end(),
                       [&](const zk_watch_event& e) { return e.type == type && e.path == path; });
  }
  bool saw(zk_state s) {
    std::lock_guard<std::mutex> lock{mutex};
    return std::find(states.begin(), states.end(), s) != states.end();
  }
};

} // namespace

TEST_CASE("zk_session: create, get, set and delete round trip with version checks and a chroot") {
  SKIP_WITHOUT_ZOOKEEPER();
  zookeeper_server server;
  server.start();
  recorder rec;
  zk_session root{rec.options(server.connect_string())};
  REQUIRE(root.wait_connected(10s));
  CHECK(rec.saw(zk_state::connected));
  CHECK(root.session_id() != 0);
  REQUIRE(root.create("/herald", "").ok());

  zk_session s{rec.options(server.connect_string() + "/herald")};
  REQUIRE(s.wait_connected(10s));
  auto created = s.create("/topic", "v1");
  REQUIRE(created.ok());
  CHECK(created.value == "/topic");
  auto again = s.create("/topic", "v1");
  CHECK(again.status.node_exists());
  CHECK(again.status.message.find("ZNODEEXISTS") != std::string::npos);
  CHECK(again.status.message.find("/topic") != std::string::npos);

  // Seen from outside the chroot.
  auto outside = root.get("/herald/topic");
  REQUIRE(outside.ok());
  CHECK(outside.value.data == "v1");

  auto got = s.get("/topic");
  REQUIRE(got.ok());
  CHECK(got.value.data == "v1");
  CHECK(got.value.version == 0);
  CHECK(got.value.ephemeral_owner == 0);

  // Larger than the first read buffer (4 KiB): read again at the node's size.
  std::string big(100 * 1024, 'x');
  big.back() = 'y';
  REQUIRE(s.create("/big", big).ok());
  auto big_read = s.get("/big");
  REQUIRE(big_read.ok());
  CHECK(big_read.value.data == big);
  REQUIRE(s.remove("/big").ok());

  auto set = s.set("/topic", "v2", 0);
  REQUIRE(set.ok());
  CHECK(set.value == 1);
  auto stale = s.set("/topic", "v3", 0);
  CHECK(stale.status.bad_version());
  CHECK(stale.status.message.find("ZBADVERSION") != std::string::npos);
  CHECK(s.get("/topic").value.data == "v2");
  CHECK(s.remove("/topic", 0).bad_version());

  auto seq1 = s.create("/topic/p-", "", zk_create_mode::persistent_sequential);
  auto seq2 = s.create("/topic/p-", "", zk_create_mode::persistent_sequential);
  REQUIRE(seq1.ok());
  REQUIRE(seq2.ok());
  CHECK(seq1.value == "/topic/p-0000000000");
  CHECK(seq2.value == "/topic/p-0000000001");
  auto kids = s.children("/topic");
  REQUIRE(kids.ok());
  std::sort(kids.value.begin(), kids.value.end());
  CHECK(kids.value == std::vector<std::string>{"p-0000000000", "p-0000000001"});
  CHECK(s.remove("/topic", 1).message.find("ZNOTEMPTY") != std::string::npos);
  REQUIRE(s.remove(seq1.value).ok());
  REQUIRE(s.remove(seq2.value).ok());
  REQUIRE(s.remove("/topic", 1).ok());

  auto gone = s.get("/topic");
  CHECK(gone.status.no_node());
  CHECK(gone.status.message.find("ZNONODE") != std::string::npos);
  auto exists = s.exists("/topic");
  REQUIRE(exists.ok());
  CHECK_FALSE(exists.value);
  CHECK(s.set("/topic", "x").status.no_node());
}

TEST_CASE("zk_session: an ephemeral node goes with its session and a watch on it fires") {
  SKIP_WITHOUT_ZOOKEEPER();
  zookeeper_server server;
  server.start();
  recorder owner_rec, watcher_rec;
  auto owner = std::make_unique<zk_session>(owner_rec.options(server.connect_string()));
  zk_session watcher{watcher_rec.options(server.connect_string())};
  REQUIRE(owner->wait_connected(10s));
  REQUIRE(watcher.wait_connected(10s));

  REQUIRE(owner->create("/brokers", "").ok());
  REQUIRE(owner->create("/brokers/1", "127.0.0.1:9092", zk_create_mode::ephemeral).ok());
  CHECK(owner->create("/brokers/1/x", "").status.code != 0); // no children under ephemerals
  auto node = watcher.get("/brokers/1", true);
  REQUIRE(node.ok());
  CHECK(node.value.ephemeral_owner == owner->session_id());
  auto exists = watcher.exists("/brokers/1", true);
  REQUIRE(exists.ok());
  CHECK(exists.value);

  owner.reset(); // closes the session
  CHECK(owner_rec.saw(zk_state::closed));
  REQUIRE(eventually([&] { return watcher_rec.saw(zk_event::deleted, "/brokers/1"); }, 10s));
  auto after = watcher.exists("/brokers/1");
  REQUIRE(after.ok());
  CHECK_FALSE(after.value);

  // A watch on a missing node fires on its creation.
  REQUIRE(watcher.exists("/brokers/2", true).ok());
  zk_session other{owner_rec.options(server.connect_string())};
  REQUIRE(other.wait_connected(10s));
  REQUIRE(other.create("/brokers/2", "", zk_create_mode::ephemeral).ok());
  CHECK(eventually([&] { return watcher_rec.saw(zk_event::created, "/brokers/2"); }, 10s));
}

TEST_CASE("zk_session: a children watch fires on a new child, a data watch on a change") {
  SKIP_WITHOUT_ZOOKEEPER();
  zookeeper_server server;
  server.start();
  recorder rec;
  zk_session a{rec.options(server.connect_string())};
  zk_session b{rec.options(server.connect_string())};
  REQUIRE(a.wait_connected(10s));
  REQUIRE(b.wait_connected(10s));
  REQUIRE(a.create("/topics", "").ok());
  auto kids = b.children("/topics", true);
  REQUIRE(kids.ok());
  CHECK(kids.value.empty());
  CHECK_FALSE(rec.saw(zk_event::children, "/topics"));
  REQUIRE(a.create("/topics/orders", "{}").ok());
  REQUIRE(eventually([&] { return rec.saw(zk_event::children, "/topics"); }, 10s));

  REQUIRE(b.get("/topics/orders", true).ok());
  REQUIRE(a.set("/topics/orders", "{\"partitions\":3}").ok());
  CHECK(eventually([&] { return rec.saw(zk_event::changed, "/topics/orders"); }, 10s));
}

TEST_CASE("zk_session: a server restart within the session timeout loses the connection, not the session") {
  SKIP_WITHOUT_ZOOKEEPER();
  zookeeper_server server;
  server.start();
  recorder rec;
  // The session must outlast the restart, and a JVM restart took up to 20 s
  // on a loaded 2-core machine: the timeout is far above that (the server
  // allows up to 60 s). What is asserted is that the session survives, not
  // how fast the server comes back.
  zk_session s{rec.options(server.connect_string(), 60s)};
  REQUIRE(s.wait_connected(10s));
  auto id = s.session_id();
  REQUIRE(s.create("/mine", "", zk_create_mode::ephemeral).ok());

  server.stop();
  REQUIRE(eventually([&] { return s.state() == zk_state::connecting; }, 10s));
  CHECK(rec.saw(zk_state::connecting));
  auto lost = s.get("/mine");
  CHECK(lost.status.connection_loss());
  CHECK(lost.status.message.find("ZCONNECTIONLOSS") != std::string::npos);

  server.start();
  REQUIRE(s.wait_connected(30s));
  CHECK(s.session_id() == id);
  CHECK_FALSE(rec.saw(zk_state::expired));
  // The same session: its ephemeral node survived the restart.
  auto still = s.exists("/mine");
  REQUIRE(still.ok());
  CHECK(still.value);
}

TEST_CASE("zk_session: a malformed connect string is a clear error") {
  zk_options bad;
  bad.connect = "";
  CHECK_THROWS_WITH_AS(zk_session{bad}, doctest::Contains("host:port"), std::runtime_error);
}

TEST_CASE("zk_session: a session away longer than its timeout is reported expired and its ephemeral node goes") {
  SKIP_WITHOUT_ZOOKEEPER();
  zookeeper_server server;
  server.start();
  recorder rec;
  zk_session watcher{rec.options(server.connect_string())};
  REQUIRE(watcher.wait_connected(10s));

  herald::test::temp_dir dir;
  auto out = dir.path() / "probe.out";
  herald::test::child_process probe{{HERALD_ZK_PROBE_PATH, server.connect_string(), out.string()},
                                    dir.path() / "probe.stdout", dir.path() / "probe.stderr"};
  // Waits, not what is asserted: an ASan child on a loaded machine is slow to start.
  REQUIRE(eventually([&] { return herald::test::read_file(out).find("ready") != std::string::npos; }, 30s));
  auto seen = watcher.exists("/probe", true);
  REQUIRE(seen.ok());
  REQUIRE(seen.value);

  // Paused, the probe cannot ping: the server expires its session.
  probe.signal(SIGSTOP);
  REQUIRE(probe.wait_stopped());
  REQUIRE(eventually([&] { return rec.saw(zk_event::deleted, "/probe"); }, 10s));
  probe.signal(SIGCONT);
  auto status = probe.wait_for(30s);
  INFO("probe wrote: " << herald::test::read_file(out));
  REQUIRE(status);
  CHECK(*status == 0);
  auto report = herald::test::read_file(out);
  CHECK(report.find("state expired") != std::string::npos);
  CHECK(report.find("expired-check yes") != std::string::npos);
}

TEST_CASE("zookeeper_server: java does not outlive a test process that is SIGKILLed") {
  SKIP_WITHOUT_ZOOKEEPER();
  herald::test::temp_dir dir;
  auto out = dir.path() / "java.pid";
  int java = -1;
  std::string server_dir;
  {
    herald::test::child_process holder{{HERALD_ZK_HOLDER_PATH, out.string()}, dir.path() / "holder.stdout",
                                       dir.path() / "holder.stderr"};
    // The holder writes once its server serves: a JVM start took 20 s under load.
    REQUIRE(eventually([&] { return herald::test::read_file(out).find('\n') != std::string::npos; }, 60s));
    std::istringstream written{herald::test::read_file(out)};
    written >> java >> server_dir;
    REQUIRE(java > 0);
    REQUIRE(::kill(java, 0) == 0);
    holder.signal(SIGKILL);
    REQUIRE(holder.wait_for(10s));
  }
  // Gone, or a zombie waiting for init to reap it: either way not running.
  auto running = [&] {
    std::ifstream stat{"/proc/" + std::to_string(java) + "/stat"};
    std::string pid, comm, state;
    return stat >> pid >> comm >> state && state != "Z";
  };
  CHECK(eventually([&] { return !running(); }, 10s));
  if (running()) ::kill(java, SIGKILL);  // the check failed: do not leave java behind
  const auto tmp = std::filesystem::temp_directory_path().string();
  if (server_dir.rfind(tmp, 0) == 0)
    std::filesystem::remove_all(server_dir);  // the holder's destructor never ran
}
