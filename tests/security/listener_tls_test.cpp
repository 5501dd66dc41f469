// TLS on the framed client listener, against a real heraldd: a TLS client
// (security/tls_channel over a socket) says hello in frames; the broker's
// hello reply names the principal its certificate proved. Refusals happen in
// the TLS layer, before any frame is read, and the broker says why.

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "protocol/frame.hpp"
#include "schema/wire.capnp.h"
#include "schema/wire.hpp"
#include "tests/security/tls_socket.hpp"
#include "tests/security/tls_test_support.hpp"
#include "tests/support/broker.hpp"

using namespace herald;
using namespace herald::test;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> listener_tls_flags(const std::string& cert, const std::string& client_auth) {
  return {"--tls-cert=" + ca_file(cert + ".crt"), "--tls-key=" + ca_file(cert + ".key"),
          "--tls-ca=" + ca_file("ca.crt"), "--tls-client-auth=" + client_auth, "--log-level=debug"};
}

// A broker whose client listener runs TLS. Until issue 11's switch the framed
// listener is --client-listen (its own port file); after it, --listen.
struct tls_broker {
  temp_dir dir;
  std::unique_ptr<broker_process> broker;
  std::string address;

  explicit tls_broker(std::vector<std::string> flags) {
    auto port_file = dir.path() / "client.port";
    const bool separate = run_shell(heraldd_path() + " --help | grep -q -- --client-listen", dir.path() / "help.out",
                                    dir.path() / "help.err") == 0;
    if (separate) {
      flags.push_back("--client-listen=127.0.0.1:0");
      flags.push_back("--client-port-file=" + port_file.string());
    }
    broker = std::make_unique<broker_process>(dir.path() / "data", dir.path(), flags);
    if (separate) {
      auto text = read_file(port_file);
      REQUIRE(!text.empty());
      address = text.substr(0, text.size() - 1);
    } else {
      address = broker->address();
    }
  }
};

std::string hello_frame() {
  auto bytes = test::hello_frame("tls-test");
  return std::string(bytes.begin(), bytes.end());
}

// The principal of the hello reply in `received` ("" if there is none).
std::string hello_reply_principal(const std::vector<char>& received) {
  protocol::frame_reader reader{protocol::pre_auth_max_frame};
  reader.feed(received.data(), received.size(), protocol::frame_reader::clock::now());
  protocol::frame f;
  if (reader.poll(f) != protocol::frame_reader::status::frame || f.kind != protocol::frame_kind::hello_reply)
    return "";
  wire::message_reader r(f.payload);
  return r.root<schema::HelloReply>().getPrincipal().cStr();
}

constexpr std::size_t hello_reply_min = protocol::frame_header_bytes + 8;

} // namespace

TEST_CASE("listener TLS: the hello reply names the client certificate's CN as the principal") {
  tls_broker b(listener_tls_flags("broker", "optional"));
  auto alice = tls_probe(b.address, client_options("client-alice"), hello_frame(), hello_reply_min);
  REQUIRE_MESSAGE(!alice.failed, alice.error);
  CHECK(hello_reply_principal(alice.received) == "User:alice");

  auto bob = tls_probe(b.address, client_options("client-bob"), hello_frame(), hello_reply_min);
  CHECK(hello_reply_principal(bob.received) == "User:bob");

  // Optional: no certificate is an anonymous connection.
  auto anonymous = tls_probe(b.address, client_options(), hello_frame(), hello_reply_min);
  REQUIRE_MESSAGE(!anonymous.failed, anonymous.error);
  CHECK(hello_reply_principal(anonymous.received) == "User:ANONYMOUS");
  CHECK(eventually([&] { return b.broker->log().find("principal User:alice") != std::string::npos; }));
}

TEST_CASE("listener TLS: client certificates required: missing, expired and foreign ones are refused before any frame") {
  tls_broker b(listener_tls_flags("broker", "required"));
  auto none = tls_probe(b.address, client_options(), hello_frame(), hello_reply_min);
  CHECK(none.failed);
  CHECK(none.error == "the server requires a client certificate");
  CHECK(hello_reply_principal(none.received) == "");

  auto expired = tls_probe(b.address, client_options("expired"), hello_frame(), hello_reply_min);
  CHECK(expired.error == "the server refused our certificate: certificate expired");
  auto stranger = tls_probe(b.address, client_options("stranger"), hello_frame(), hello_reply_min);
  CHECK(stranger.error == "the server refused our certificate: unknown CA");
  CHECK(stranger.received.empty());

  auto log_has = [&](const std::string& text) {
    return eventually([&] { return b.broker->log().find(text) != std::string::npos; });
  };
  CHECK(log_has("TLS refused: the client sent no certificate; this listener requires one"));
  CHECK(log_has("TLS refused: client certificate expired"));
  CHECK(log_has("TLS refused: client certificate signed by an unknown CA"));

  auto alice = tls_probe(b.address, client_options("client-alice"), hello_frame(), hello_reply_min);
  CHECK(hello_reply_principal(alice.received) == "User:alice");

  // The broker's certificate is checked by the client too.
  auto wrong_trust = tls_probe(b.address, client_options("client-alice", "other-ca"), hello_frame());
  CHECK(wrong_trust.error == "server certificate signed by an unknown CA");
}

TEST_CASE("listener TLS: a plaintext hello is cut off in the TLS layer") {
  tls_broker b(listener_tls_flags("broker", "none"));
  int fd = connect_tcp(b.address);
  REQUIRE(fd >= 0);
  auto hello = hello_frame();
  ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
  char buffer[4096];
  std::size_t got = 0;
  for (;;) {
    auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0)
      break;
    got += std::size_t(n);
  }
  ::close(fd);
  CHECK(got < 100);  // at most a TLS alert, never a hello reply
  CHECK(eventually(
    [&] { return b.broker->log().find("TLS refused: the client does not speak TLS") != std::string::npos; }));
}

TEST_CASE("listener TLS: SIGHUP reloads a replaced certificate for new connections") {
  temp_dir files;
  fs::path cert = files.path() / "server.crt", key = files.path() / "server.key";
  fs::copy_file(ca_file("broker.crt"), cert);
  fs::copy_file(ca_file("broker.key"), key);
  tls_broker b({"--tls-cert=" + cert.string(), "--tls-key=" + key.string(), "--tls-reload-check-ms=3600000"});
  auto before = tls_probe(b.address, client_options(), hello_frame(), hello_reply_min);
  CHECK(hello_reply_principal(before.received) == "User:ANONYMOUS");

  // The expired pair goes in, atomically, as an operator would (mv).
  fs::copy_file(ca_file("expired.crt"), files.path() / "new.crt");
  fs::copy_file(ca_file("expired.key"), files.path() / "new.key");
  fs::rename(files.path() / "new.key", key);
  fs::rename(files.path() / "new.crt", cert);
  // Within the check interval and without a signal the old one still serves.
  auto unchanged = tls_probe(b.address, client_options(), hello_frame(), hello_reply_min);
  CHECK_MESSAGE(!unchanged.failed, unchanged.error);
  b.broker->process().signal(SIGHUP);
  CHECK(eventually([&] {
    return tls_probe(b.address, client_options(), hello_frame(), hello_reply_min).error == "server certificate expired";
  }));
}

TEST_CASE("heraldd refuses incomplete or unreadable client-listener TLS settings at start") {
  temp_dir dir;
  auto run = [&](const std::string& flags) {
    return run_shell(heraldd_path() + " --data-dir=" + (dir.path() / "d").string() + " --listen=127.0.0.1:0 " + flags,
                     dir.path() / "out", dir.path() / "err", std::chrono::seconds{30});
  };
  CHECK(run("--tls-cert=" + ca_file("broker.crt")) != 0);
  CHECK(read_file(dir.path() / "err").find("needs --tls-cert and --tls-key") != std::string::npos);
  CHECK(run("--tls-cert=" + ca_file("broker.crt") + " --tls-key=" + ca_file("client-bob.key")) != 0);
  CHECK(read_file(dir.path() / "err").find("does not match certificate") != std::string::npos);
  CHECK(run("--tls-cert=" + ca_file("broker.crt") + " --tls-key=" + ca_file("broker.key") +
            " --tls-client-auth=required") != 0);
  CHECK(read_file(dir.path() / "err").find("needs a CA file") != std::string::npos);
}
