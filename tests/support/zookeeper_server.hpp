#pragma once
// A real standalone ZooKeeper server for a test: its own temp dir and a free
// loopback port, tickTime=200 (sessions of 400 ms .. 60 s). The java process is
// killed and reaped on every exit path (destructor), including a failing
// assertion, and killed by the kernel if the test process itself is killed
// (parent-death signal). stop() and start() again keep the port and the data directory,
// so sessions survive a restart within their timeout.

#include "tests/support/process.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace herald::test {

class zookeeper_server {
public:
  // Empty when java and the ZooKeeper jars are installed; otherwise why not
  // (tests then MESSAGE it and return: deploy/install-deps.sh installs them).
  static std::string unavailable_reason();

  zookeeper_server(); // picks the port and writes zoo.cfg; does not start
  ~zookeeper_server();
  zookeeper_server(const zookeeper_server&) = delete;
  zookeeper_server& operator=(const zookeeper_server&) = delete;

  // Starts the server and waits until it serves requests (healthy()); throws
  // std::runtime_error (with the server's log) if it does not within timeout.
  // The timeout is generous: a JVM start on a loaded 2-core machine (an ASan
  // suite running beside it) took 20 s here.
  void start(std::chrono::milliseconds timeout = std::chrono::seconds{90});
  // SIGTERM and wait for exit (SIGKILL if it does not exit in time).
  void stop();
  bool running() const { return process_ != nullptr; }
  // Whether the server serves client requests right now (`srvr` reports its
  // mode; `ruok` says imok earlier, while it still closes every connection).
  bool healthy() const;

  uint16_t port() const {
    published_ = true;
    return port_;
  }
  int pid() const { return process_ ? process_->pid() : -1; } // java's, while running
  std::string connect_string() const; // "127.0.0.1:PORT"
  const std::filesystem::path& dir() const { return dir_.path(); } // zoo.cfg, data/, logs

private:
  temp_dir dir_;
  uint16_t port_ = 0;
  int starts_ = 0;  // java processes launched (names their logs)
  int started_ = 0; // starts that became ready
  mutable bool published_ = false; // port() or connect_string() was asked: the port must stay
  void write_config() const;
  std::unique_ptr<child_process> process_;
};

} // namespace herald::test

// In a doctest case: returns (with a MESSAGE saying why) when no ZooKeeper
// server can be started here. CI installs one (deploy/install-deps.sh).
#define SKIP_WITHOUT_ZOOKEEPER()                                                                   \
  if (auto why = ::herald::test::zookeeper_server::unavailable_reason(); !why.empty()) {           \
    MESSAGE("skipped, no ZooKeeper server: " << why);                                              \
    return;                                                                                        \
  }
