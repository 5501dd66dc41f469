// TLS on the client listener, end to end: heraldd with --tls-* and the herald
// CLI with --tls-* (the client library's wire connections), real processes.

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/security/tls_socket.hpp"
#include "tests/security/tls_test_support.hpp"
#include "tests/support/broker.hpp"

using namespace herald::test;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> tls_flags(const std::string& cert = "broker", const std::string& client_auth = "none") {
  return {"--tls-cert=" + ca_file(cert + ".crt"), "--tls-key=" + ca_file(cert + ".key"),
          "--tls-ca=" + ca_file("ca.crt"), "--tls-client-auth=" + client_auth, "--log-level=debug"};
}

std::string cli_tls(const std::string& client_cert = "", const std::string& ca = "ca") {
  std::string flags = "--tls-ca=" + ca_file(ca + ".crt");
  if (!client_cert.empty())
    flags += " --tls-cert=" + ca_file(client_cert + ".crt") + " --tls-key=" + ca_file(client_cert + ".key");
  return flags + " ";
}

struct cli_result {
  int status;
  std::string out, err;
};

cli_result run(broker_process& broker, const fs::path& dir, const std::string& args) {
  auto out = dir / "cli.out", err = dir / "cli.err";
  int status = run_cli(broker.address(), args, out, err);
  return {status, read_file(out), read_file(err)};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("client TLS: records produced over TLS are consumed back over TLS") {
  temp_dir dir;
  broker_process broker(dir.path() / "data", dir.path(), tls_flags());
  REQUIRE(run(broker, dir.path(), cli_tls() + "topic create secure --partitions 2").status == 0);
  {
    std::ofstream in(dir.path() / "in");
    for (int i = 1; i <= 2000; ++i)
      in << "value-" << i << "\n";
  }
  auto produced = run(broker, dir.path(), cli_tls() + "produce secure < " + (dir.path() / "in").string());
  REQUIRE_MESSAGE(produced.status == 0, produced.err);
  CHECK(produced.out.starts_with("acknowledged 2000 of 2000 records"));
  auto consumed = run(broker, dir.path(), cli_tls() + "consume secure --from-beginning --max-messages 2000");
  REQUIRE_MESSAGE(consumed.status == 0, consumed.err);
  CHECK(std::count(consumed.out.begin(), consumed.out.end(), '\n') == 2000);
  CHECK(contains(consumed.out, "value-1999\n"));
}

TEST_CASE("client TLS: a wrong CA, an expired server certificate and plaintext are refused with clear errors") {
  temp_dir dir;
  broker_process broker(dir.path() / "data", dir.path(), tls_flags());
  auto wrong_ca = run(broker, dir.path(), cli_tls("", "other-ca") + "topic list");
  CHECK(wrong_ca.status != 0);
  CHECK_MESSAGE(contains(wrong_ca.err, "server certificate signed by an unknown CA"), wrong_ca.err);

  // A client without TLS: the broker cuts it off in the TLS layer.
  auto plain = run(broker, dir.path(), "topic list");
  CHECK(plain.status != 0);
  CHECK(eventually([&] { return contains(broker.log(), "TLS refused: the client does not speak TLS"); }));

  temp_dir dir2;
  broker_process expired(dir2.path() / "data", dir2.path(), tls_flags("expired"));
  auto old = run(expired, dir2.path(), cli_tls() + "topic list");
  CHECK(old.status != 0);
  CHECK_MESSAGE(contains(old.err, "server certificate expired"), old.err);

  // TLS to a plaintext listener.
  temp_dir dir3;
  broker_process plain_broker(dir3.path() / "data", dir3.path());
  auto mismatch = run(plain_broker, dir3.path(), cli_tls() + "topic list");
  CHECK(mismatch.status != 0);
  CHECK_MESSAGE(contains(mismatch.err, "the server does not speak TLS"), mismatch.err);
}

TEST_CASE("client TLS: mutual TLS required refuses missing, expired and foreign certificates, and names the principal") {
  temp_dir dir;
  broker_process broker(dir.path() / "data", dir.path(), tls_flags("broker", "required"));
  auto none = run(broker, dir.path(), cli_tls() + "topic list");
  CHECK(none.status != 0);
  CHECK_MESSAGE(contains(none.err, "the server requires a client certificate"), none.err);

  auto expired = run(broker, dir.path(), cli_tls("expired") + "topic list");
  CHECK(expired.status != 0);
  CHECK_MESSAGE(contains(expired.err, "the server refused our certificate: certificate expired"), expired.err);
  CHECK(eventually([&] { return contains(broker.log(), "TLS refused: client certificate expired"); }));

  auto stranger = run(broker, dir.path(), cli_tls("stranger") + "topic list");
  CHECK(stranger.status != 0);
  CHECK_MESSAGE(contains(stranger.err, "the server refused our certificate: unknown CA"), stranger.err);
  CHECK(eventually([&] { return contains(broker.log(), "TLS refused: client certificate signed by an unknown CA"); }));

  // Client certificates name principals, so `--authorizer auto` enforces
  // ACLs from the start: alice, with no ACL, is refused by name.
  auto alice = run(broker, dir.path(), cli_tls("client-alice") + "topic create alices");
  CHECK(alice.status != 0);
  CHECK_MESSAGE(contains(alice.err, "User:alice"), alice.err);
  // The certificate's CN is the connection's principal, handed to its session.
  CHECK(eventually([&] { return contains(broker.log(), "principal User:alice"); }));
}

TEST_CASE("client TLS: a client certificate's principal is authorized like any other") {
  temp_dir dir;
  auto flags = tls_flags("broker", "required");
  flags.push_back("--super-users=User:alice");
  broker_process broker(dir.path() / "data", dir.path(), flags);
  auto alice = run(broker, dir.path(), cli_tls("client-alice") + "topic create alices");
  CHECK_MESSAGE(alice.status == 0, alice.err);
}

TEST_CASE("client TLS: a replaced certificate serves new connections after SIGHUP") {
  temp_dir dir;
  fs::path cert = dir.path() / "server.crt", key = dir.path() / "server.key";
  fs::copy_file(ca_file("broker.crt"), cert);
  fs::copy_file(ca_file("broker.key"), key);
  broker_process broker(dir.path() / "data", dir.path(),
                        {"--tls-cert=" + cert.string(), "--tls-key=" + key.string(), "--tls-reload-check-ms=3600000"});
  CHECK(run(broker, dir.path(), cli_tls() + "topic list").status == 0);
  // Swap in the expired certificate (atomically, as an operator would).
  fs::copy_file(ca_file("expired.crt"), dir.path() / "new.crt");
  fs::copy_file(ca_file("expired.key"), dir.path() / "new.key");
  fs::rename(dir.path() / "new.key", key);
  fs::rename(dir.path() / "new.crt", cert);
  broker.process().signal(SIGHUP);
  CHECK(eventually([&] { return contains(broker.log(), "SIGHUP"); }));
  auto after = run(broker, dir.path(), cli_tls() + "topic list");
  CHECK(after.status != 0);
  CHECK_MESSAGE(contains(after.err, "server certificate expired"), after.err);
}

namespace {

// Milliseconds until the server closes `fd` (EOF or reset), reading and
// dropping what it sends first; -1 if still open after `limit`.
long long ms_until_closed(int fd, std::chrono::milliseconds limit) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + limit;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return -1;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      continue;
    if (::recv(fd, buf, sizeof buf, 0) <= 0)
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  }
}

} // namespace

TEST_CASE("client TLS: a TLS handshake that never finishes is closed at the handshake timeout") {
  // The frame timeout (the write-stall bound) far above the handshake
  // timeout: a close that waited for an unencryptable goodbye to drain would
  // come only after it.
  temp_dir dir;
  auto flags = tls_flags();
  flags.insert(flags.end(), {"--handshake-timeout-ms=1000", "--frame-timeout-ms=120000"});
  broker_process broker(dir.path() / "data", dir.path(), flags);
  int silent = connect_tcp(broker.address());
  REQUIRE(silent >= 0);
  // A real ClientHello, then nothing: the server's flight goes unanswered.
  std::string error;
  auto context = herald::security::tls_context::make_client(client_options(), error);
  REQUIRE_MESSAGE(context, error);
  herald::security::tls_channel hello(context);
  std::vector<char> client_hello;
  hello.take_ciphertext(client_hello);
  REQUIRE(!client_hello.empty());
  int stalled = connect_tcp(broker.address());
  REQUIRE(stalled >= 0);
  REQUIRE(::send(stalled, client_hello.data(), client_hello.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(client_hello.size()));
  for (int fd : {silent, stalled}) {
    auto ms = ms_until_closed(fd, std::chrono::seconds{30});
    CHECK_MESSAGE(ms >= 0, "still open after 30 s");
    CHECK(ms < 10'000);
    ::close(fd);
  }
  CHECK(eventually([&] { return contains(broker.log(), "handshake not complete within 1000 ms"); }));
  // And the listener still serves a real TLS client.
  CHECK(run(broker, dir.path(), cli_tls() + "topic list").status == 0);
}
