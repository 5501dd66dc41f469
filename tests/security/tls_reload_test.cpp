// tls_context_holder: a listener's certificate replaced on disk is used by
// new connections, while connections made before keep going.

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>

#include "tests/security/tls_test_support.hpp"
#include "tests/support/process.hpp"

using namespace herald::security;
using namespace herald::test;
namespace fs = std::filesystem;

namespace {

// Replaces dest atomically (a new inode, as an operator's `mv` would).
void install(const std::string& from, const fs::path& dest) {
  fs::path tmp = dest;
  tmp += ".new";
  fs::copy_file(ca_file(from), tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, dest);
}

// A handshake of a new client against the holder's current context.
std::string connect_once(tls_context_holder& holder) {
  auto ctx = holder.current();
  REQUIRE(ctx);
  std::string error;
  auto client_ctx = tls_context::make_client(client_options(), error);
  REQUIRE(client_ctx);
  tls_channel server(ctx), client(client_ctx, "localhost");
  pump(client, server);
  return client.handshake_done() && !client.failed() ? "ok" : client.error();
}

} // namespace

TEST_CASE("tls reload: a replaced certificate is used by new connections, old ones continue") {
  temp_dir dir;
  fs::path cert = dir.path() / "server.crt", key = dir.path() / "server.key";
  install("broker.crt", cert);
  install("broker.key", key);
  tls_server_options options{cert.string(), key.string(), ca_file("ca.crt"), tls_client_auth::none};
  tls_context_holder holder(options, std::chrono::milliseconds{0});
  REQUIRE_MESSAGE(holder.ok(), holder.error());
  CHECK(connect_once(holder) == "ok");

  // A connection made now, kept open across the reloads.
  std::string error;
  auto client_ctx = tls_context::make_client(client_options(), error);
  tls_channel old_server(holder.current()), old_client(client_ctx, "localhost");
  pump(old_client, old_server);
  REQUIRE(old_server.handshake_done());

  // The expired certificate goes in: new clients now see it (and refuse it).
  install("expired.crt", cert);
  install("expired.key", key);
  CHECK(connect_once(holder) == "server certificate expired");
  CHECK(holder.reloads() == 1);

  // A half-done replacement (certificate without its key) is refused and the
  // previous context stays in service.
  install("broker-renewed.crt", cert);
  CHECK(connect_once(holder) == "server certificate expired");
  CHECK(holder.error() == "key " + key.string() + " does not match certificate " + cert.string());
  install("broker-renewed.key", key);
  CHECK(connect_once(holder) == "ok");
  CHECK(holder.error() == "");
  CHECK(holder.reloads() == 2);

  // The connection from before carries data both ways still.
  old_client.write_plaintext("ping", 4);
  pump(old_client, old_server);
  CHECK(take_text(old_server) == "ping");
  old_server.write_plaintext("pong", 4);
  pump(old_client, old_server);
  CHECK(take_text(old_client) == "pong");
}

TEST_CASE("tls reload: files are looked at once per interval, or at once after request_tls_reload (SIGHUP)") {
  temp_dir dir;
  fs::path cert = dir.path() / "server.crt", key = dir.path() / "server.key";
  install("broker.crt", cert);
  install("broker.key", key);
  tls_server_options options{cert.string(), key.string(), "", tls_client_auth::none};
  tls_context_holder holder(options, std::chrono::hours{1});
  REQUIRE(holder.ok());
  auto first = holder.current();

  install("expired.crt", cert);
  install("expired.key", key);
  CHECK(holder.current() == first); // within the interval: not looked at
  request_tls_reload();
  CHECK(holder.current() != first);
  CHECK(connect_once(holder) == "server certificate expired");

  // reload() on demand as well.
  install("broker.crt", cert);
  install("broker.key", key);
  CHECK(holder.reload());
  CHECK(connect_once(holder) == "ok");
}

TEST_CASE("tls reload: a holder whose first load fails says why and gives no context") {
  tls_server_options options{ca_file("none.crt"), ca_file("none.key"), "", tls_client_auth::none};
  tls_context_holder holder(options, std::chrono::milliseconds{0});
  CHECK_FALSE(holder.ok());
  CHECK(holder.error() == "cannot read certificate " + options.cert_file + ": No such file or directory");
  CHECK(holder.current() == nullptr);
}
