// Mutual TLS on the cluster listener (BASP through CAF's libcaf-openssl),
// against real heraldd processes: only a peer with a certificate of the
// cluster CA gets past the handshake, and nothing before it reaches BASP.

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <poll.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "security/cluster_exposure.hpp"
#include "tests/security/tls_socket.hpp"
#include "tests/security/tls_test_support.hpp"
#include "tests/support/broker.hpp"
#include "tests/support/cluster.hpp"

using namespace herald::test;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> cluster_tls_flags(const std::string& cert = "broker") {
  return {"--cluster-tls-cert=" + ca_file(cert + ".crt"), "--cluster-tls-key=" + ca_file(cert + ".key"),
          "--cluster-tls-ca=" + ca_file("ca.crt")};
}


// Waits until the server closes a raw connection (recv 0 or an error);
// false if it is still open at the deadline.
bool closed_by_server(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, int(left.count())) <= 0)
      continue;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0)
      return true;
  }
}

} // namespace

TEST_CASE("cluster TLS: only a certificate of the cluster CA gets through the handshake") {
  temp_dir dir;
  // A static cluster of one: it has a cluster listener (BASP), which is
  // what TLS protects; a single node without peers publishes none.
  static_cluster cluster(dir.path(), 1, cluster_tls_flags());
  auto address = cluster.cluster_address(1);

  // A certificate of the CA: the handshake completes and BASP speaks (CAF's
  // server handshake message is the first plaintext).
  auto ok = tls_probe(address, client_options("client-alice"));
  CHECK_MESSAGE(ok.handshake_done, ok.error);
  CHECK_FALSE(ok.failed);
  CHECK(ok.received.size() > 0);

  auto none = tls_probe(address, client_options());
  CHECK(none.failed);
  CHECK(none.error == "the server requires a client certificate");
  CHECK(none.received.empty());

  auto stranger = tls_probe(address, client_options("stranger"));
  CHECK(stranger.error == "the server refused our certificate: unknown CA");
  CHECK(stranger.received.empty());

  auto expired = tls_probe(address, client_options("expired"));
  CHECK(expired.error == "the server refused our certificate: certificate expired");
  CHECK(expired.received.empty());

  // The broker's own certificate is checked too: a client that trusts
  // another CA refuses it.
  auto wrong_trust = tls_probe(address, client_options("client-alice", "other-ca"));
  CHECK(wrong_trust.error == "server certificate signed by an unknown CA");
}

TEST_CASE("cluster TLS: a plain TCP client's BASP header claiming 2 GiB is never parsed and RSS stays small") {
  temp_dir dir;
  // A static cluster of one: it has a cluster listener (BASP), which is
  // what TLS protects; a single node without peers publishes none.
  static_cluster cluster(dir.path(), 1, cluster_tls_flags());
  auto& broker = cluster.node(1);
  auto address = cluster.cluster_address(1);
  const long before = rss_kib(broker.process().pid());
  REQUIRE(before > 0);

  // CAF 0.17's BASP header (32 bytes, network order): operation
  // server_handshake (0), 3 bytes padding/flags, payload_len 0x7fffffff,
  // then operation data and two actor ids. Without TLS a broker allocated
  // the claimed 2 GiB on reading it (issue 11).
  std::vector<char> header(32, 0);
  header[4] = 0x7f;
  header[5] = header[6] = header[7] = char(0xff);
  std::vector<char> filler(64 * 1024, 'x');
  for (int i = 0; i < 20; ++i) {
    int fd = connect_tcp(address);
    REQUIRE(fd >= 0);
    ::send(fd, header.data(), header.size(), MSG_NOSIGNAL);
    ::send(fd, filler.data(), filler.size(), MSG_NOSIGNAL);
    CHECK_MESSAGE(closed_by_server(fd, 5s), "connection " << i << " still open");
    ::close(fd);
  }
  const long after = rss_kib(broker.process().pid());
  MESSAGE("heraldd RSS before " << before << " KiB, after 20 hostile connections " << after << " KiB");
  CHECK(after < before + 32 * 1024);
  CHECK(after < 200 * 1024);

  // Still serving: a proper peer gets through.
  auto ok = tls_probe(address, client_options("client-alice"));
  CHECK_MESSAGE(ok.received.size() > 0, ok.error);
}

TEST_CASE("cluster TLS: brokers of a static cluster connect to each other over mutual TLS") {
  temp_dir dir;
  static_cluster cluster(dir.path(), 3, cluster_tls_flags());
  for (int id = 1; id <= 3; ++id) {
    CAPTURE(id);
    CHECK(eventually([&] {
      auto log = cluster.node(id).log();
      int peers = 0;
      for (std::size_t at = 0; (at = log.find("connected to peer", at)) != std::string::npos; ++at)
        ++peers;
      return peers >= 2;
    }, 30s));
  }
}

TEST_CASE("cluster TLS: heraldd refuses to start with an incomplete or unreadable setting") {
  temp_dir dir;
  auto run = [&](const std::string& flags) {
    return run_shell(heraldd_path() + " --data-dir=" + (dir.path() / "d").string() + " --listen=127.0.0.1:0 " + flags,
                     dir.path() / "out", dir.path() / "err", 30s);
  };
  CHECK(run("--cluster-tls-cert=" + ca_file("broker.crt")) != 0);
  CHECK(read_file(dir.path() / "err").find(
          "cluster TLS needs all of --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca") != std::string::npos);
  CHECK(run("--cluster-tls-cert=" + ca_file("broker.crt") + " --cluster-tls-key=" + ca_file("client-bob.key") +
            " --cluster-tls-ca=" + ca_file("ca.crt")) != 0);
  CHECK(read_file(dir.path() / "err").find("does not match certificate") != std::string::npos);
}

// Without TLS, the cluster listener is for loopback only, unless the
// operator says the network is trusted (--cluster-insecure, with a warning).
TEST_CASE("cluster listener exposure: loopback addresses are recognised, only TLS or --cluster-insecure open others") {
  using herald::security::cluster_exposure;
  using herald::security::classify_cluster_listener;
  using herald::security::is_loopback_host;
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LocalHost", "::ffff:127.0.0.1"})
    CHECK_MESSAGE(is_loopback_host(host), host);
  for (const char* host : {"0.0.0.0", "::", "[::]", "10.0.0.11", "128.0.0.1", "::2", "broker1.example", "", "[::1"})
    CHECK_FALSE_MESSAGE(is_loopback_host(host), host);
  CHECK(classify_cluster_listener("127.0.0.1", false, false) == cluster_exposure::allowed);
  CHECK(classify_cluster_listener("0.0.0.0", true, false) == cluster_exposure::allowed);
  CHECK(classify_cluster_listener("0.0.0.0", false, false) == cluster_exposure::refused);
  CHECK(classify_cluster_listener("0.0.0.0", false, true) == cluster_exposure::allowed_insecure);
  CHECK(classify_cluster_listener("127.0.0.1", false, true) == cluster_exposure::allowed);  // nothing to warn of
}

TEST_CASE("cluster listener exposure: heraldd refuses a non-loopback --cluster-listen without TLS and says what to do") {
  temp_dir dir;
  const auto peer = " --node-id=1 --peer=1=127.0.0.1:" + std::to_string(free_port()) + "/127.0.0.1:" +
                    std::to_string(free_port());
  auto run = [&](const std::string& flags) {
    return run_shell(heraldd_path() + " --data-dir=" + (dir.path() / "d").string() + " --listen=127.0.0.1:0" + peer +
                       " " + flags,
                     dir.path() / "out", dir.path() / "err", 30s);
  };
  for (const char* listen : {"0.0.0.0:0", ":::0", "[::]:0", "10.1.2.3:0"}) {
    CAPTURE(listen);
    CHECK(run(std::string{"--cluster-listen="} + listen) == 1);
    const auto err = read_file(dir.path() / "err");
    CHECK(err.find(std::string{"--cluster-listen "} + listen + " is reachable from the network but has no TLS") !=
          std::string::npos);
    CHECK(err.find("--cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca") != std::string::npos);
    CHECK(err.find("deploy/make-test-ca.sh") != std::string::npos);
    CHECK(err.find("--cluster-insecure") != std::string::npos);
  }
  // The config file key says the same as the flag.
  {
    std::ofstream conf(dir.path() / "c.conf");
    conf << "cluster-listen = \"0.0.0.0:0\"\n";
  }
  CHECK(run("--config=" + (dir.path() / "c.conf").string()) == 1);
  CHECK(read_file(dir.path() / "err").find("has no TLS") != std::string::npos);
}

TEST_CASE("cluster listener exposure: --cluster-insecure starts on 0.0.0.0 with a warning, TLS and loopback need nothing") {
  temp_dir dir;
  auto start = [&](const std::string& name, const std::string& cluster_listen, std::vector<std::string> extra) {
    std::vector<std::string> flags{"--node-id=1", "--cluster-listen=" + cluster_listen,
                                   "--peer=1=127.0.0.1:" + std::to_string(free_port()) + "/127.0.0.1:" +
                                     std::to_string(free_port())};
    flags.insert(flags.end(), extra.begin(), extra.end());
    std::filesystem::create_directories(dir.path() / name);
    return std::make_unique<broker_process>(dir.path() / name / "data", dir.path() / name, flags);
  };
  const std::string warning = "--cluster-insecure: the cluster listener 0.0.0.0:0 runs plain BASP without TLS";
  {
    auto b = start("insecure", "0.0.0.0:0", {"--cluster-insecure"});
    CHECK(b->log().find(warning) != std::string::npos);
    CHECK(b->stop());
  }
  {
    auto b = start("tls", "0.0.0.0:0", cluster_tls_flags());
    CHECK(b->log().find("--cluster-insecure") == std::string::npos);
    CHECK(b->stop());
  }
  {
    auto b = start("loopback", "127.0.0.1:0", {});
    CHECK(b->log().find("--cluster-insecure") == std::string::npos);
    CHECK(b->stop());
  }
}
