// A child process for the session-expiry test: it owns a ZooKeeper session
// with an ephemeral node, the test SIGSTOPs it past the session timeout (the
// only reliable way to expire a session of the threaded client, see
// TOOLCHAIN.md), and after SIGCONT this process reports what its zk_session
// saw. Usage: zk_expiry_probe CONNECT OUT_FILE
//   OUT_FILE gets "ready <session id>", then "state expired" and the message
//   of a call made after the expiry.

#include "cluster/zk_session.hpp"

#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

using namespace herald::cluster;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: zk_expiry_probe CONNECT OUT_FILE\n";
    return 2;
  }
  std::ofstream out{argv[2]};
  zk_options options;
  options.connect = argv[1];
  options.session_timeout = 800ms;
  zk_session session{options};
  if (!session.wait_connected(10s) || !session.create("/probe", "", zk_create_mode::ephemeral).ok())
    return 3;
  out << "ready " << session.session_id() << std::endl;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (session.state() != zk_state::expired && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  out << "state " << to_string(session.state()) << std::endl;
  auto after = session.exists("/probe");
  out << "call " << (after.ok() ? "ok" : after.status.message) << std::endl;
  out << "expired-check " << (after.status.session_expired() ? "yes" : "no") << std::endl;
  return session.state() == zk_state::expired ? 0 : 1;
}
