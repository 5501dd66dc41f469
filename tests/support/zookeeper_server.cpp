#include "tests/support/zookeeper_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace herald::test {

namespace {

const char* const jar_dir = "/usr/share/java/";
const char* const setpriv = "/usr/bin/setpriv"; // util-linux
// What ZooKeeperServerMain 3.8 (Debian libzookeeper-java) needs at run time;
// slf4j-nop keeps its logging quiet.
const std::vector<std::string> jars = {
  "zookeeper.jar",     "zookeeper-jute.jar", "slf4j-api.jar",     "slf4j-nop.jar",
  "netty-handler.jar", "netty-common.jar",   "netty-transport.jar", "netty-buffer.jar",
  "netty-resolver.jar", "netty-codec.jar",   "netty-transport-native-epoll.jar",
  "netty-transport-native-unix-common.jar",  "metrics-core.jar"};

std::string find_java() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs{path ? path : "/usr/bin"};
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    auto candidate = std::filesystem::path{dir} / "java";
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0)
      return candidate.string();
  }
  return {};
}

std::string class_path() {
  std::string cp;
  for (const auto& jar : jars)
    cp += (cp.empty() ? "" : ":") + std::string{jar_dir} + jar;
  return cp;
}

// A port nobody listens on now (the kernel's pick for port 0).
uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0)
      ::close(fd);
    throw std::runtime_error("no free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Sends a four-letter word and returns the whole answer ("" on any failure).
std::string four_letter_word(uint16_t port, const char* word) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return {};
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, word, 4, MSG_NOSIGNAL) == 4) {
    char buf[256];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0)
      answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

} // namespace

std::string zookeeper_server::unavailable_reason() {
  if (find_java().empty())
    return "no java on PATH (deploy/install-deps.sh installs openjdk-17-jre-headless)";
  for (const auto& jar : jars)
    if (::access((std::string{jar_dir} + jar).c_str(), R_OK) != 0)
      return "missing " + std::string{jar_dir} + jar + " (deploy/install-deps.sh installs libzookeeper-java)";
  return {};
}

zookeeper_server::zookeeper_server() : port_(free_loopback_port()) {
  std::filesystem::create_directories(dir_.path() / "data");
  write_config();
}

void zookeeper_server::write_config() const {
  std::ofstream cfg{dir_.path() / "zoo.cfg"};
  // maxSessionTimeout: the default (20 ticks, 4 s) is shorter than a restart
  // of this JVM takes on a loaded 2-core machine, so a test that keeps its
  // session across a restart could not ask for a timeout long enough.
  cfg << "tickTime=200\n"
      << "dataDir=" << (dir_.path() / "data").string() << "\n"
      << "clientPort=" << port_ << "\n"
      << "clientPortAddress=127.0.0.1\n"
      << "admin.enableServer=false\n"
      << "4lw.commands.whitelist=ruok,srvr,stat,mntr\n"
      << "minSessionTimeout=400\n"
      << "maxSessionTimeout=60000\n";
}

zookeeper_server::~zookeeper_server() {
  process_.reset(); // child_process kills and reaps
}

std::string zookeeper_server::connect_string() const {
  published_ = true;
  return "127.0.0.1:" + std::to_string(port_);
}

bool zookeeper_server::healthy() const {
  // Not `ruok`: it answers imok as soon as the port listens, while the server
  // is still loading its data and closes every client connection ("not
  // currently serving requests"); under load that lasted 10 s here. `srvr`
  // reports the mode only once requests are served.
  return four_letter_word(port_, "srvr").find("Mode: ") != std::string::npos;
}

void zookeeper_server::start(std::chrono::milliseconds timeout) {
  if (process_)
    return;
  // The port was free when picked, but another process may bind it before
  // java does (then java exits at once). While nobody has been told the port
  // (no connect_string() yet, no successful start), a new one is fine.
  const bool may_move = started_ == 0 && !published_;
  for (int attempt = 1;; ++attempt) {
    auto log = dir_.path() / ("server-" + std::to_string(++starts_) + ".log");
    std::vector<std::string> argv{find_java(), "-Xmx128m", "-cp", class_path(),
                                  "org.apache.zookeeper.server.ZooKeeperServerMain", (dir_.path() / "zoo.cfg").string()};
    // The destructor cannot run when the test process is SIGKILLed (a CTest
    // timeout): the kernel then kills java, as the parent-death signal that
    // setpriv sets before it execs java. That signal fires when the spawning
    // THREAD ends, so start() belongs on a thread that lives as long as the test.
    if (::access(setpriv, X_OK) == 0)
      argv.insert(argv.begin(), {setpriv, "--pdeathsig", "KILL"});
    process_ = std::make_unique<child_process>(argv, log, log);
    bool exited = false;
    bool ready = eventually(
      [&] {
        if (process_->wait_for(std::chrono::milliseconds{0})) {
          exited = true;
          return true; // exited: fail below
        }
        return healthy();
      },
      timeout);
    if (ready && !exited && healthy()) {
      ++started_;
      return;
    }
    process_.reset();
    if (exited && may_move && attempt < 3) {
      port_ = free_loopback_port();
      write_config();
      continue;
    }
    throw std::runtime_error("ZooKeeper on port " + std::to_string(port_) + " did not become ready:\n" +
                             read_file(log));
  }
}

void zookeeper_server::stop() {
  if (!process_)
    return;
  process_->signal(SIGTERM);
  if (!process_->wait_for(std::chrono::seconds{10}))
    process_->kill_and_reap();
  process_.reset();
}

} // namespace herald::test
