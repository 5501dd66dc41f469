// tls_channel: two channels in memory, with the test CA's certificates.

#include <doctest/doctest.h>

#include <string>

#include "security/tls_write_ledger.hpp"
#include "tests/security/tls_test_support.hpp"

using namespace herald::security;
using namespace herald::test;

namespace {

struct pair_of_channels {
  std::shared_ptr<const tls_context> server_ctx, client_ctx;
  std::unique_ptr<tls_channel> server, client;

  pair_of_channels(const tls_server_options& so, const tls_client_options& co, const std::string& name = "localhost") {
    std::string error;
    server_ctx = tls_context::make_server(so, error);
    REQUIRE_MESSAGE(server_ctx, error);
    client_ctx = tls_context::make_client(co, error);
    REQUIRE_MESSAGE(client_ctx, error);
    server = std::make_unique<tls_channel>(server_ctx);
    client = std::make_unique<tls_channel>(client_ctx, name);
  }
};

std::string pattern(std::size_t size, char seed) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i)
    s[i] = char(seed + i * 31 % 251);
  return s;
}

} // namespace

TEST_CASE("tls: two channels handshake and carry data both ways in any chunking") {
  for (std::size_t chunk : {std::size_t(0), std::size_t(1), std::size_t(7), std::size_t(1000)}) {
    CAPTURE(chunk);
    pair_of_channels p(server_options(), client_options());
    // Written before the handshake: kept, then sent in order.
    p.client->write_plaintext("hello ", 6);
    p.client->write_plaintext("server", 6);
    CHECK(p.client->pending_plaintext() == 12);
    pump(*p.client, *p.server, chunk);
    REQUIRE_MESSAGE(p.server->handshake_done(), p.server->error());
    REQUIRE_MESSAGE(p.client->handshake_done(), p.client->error());
    CHECK(p.client->pending_plaintext() == 0);
    CHECK(take_text(*p.server) == "hello server");
    CHECK(p.client->protocol_version() == "TLSv1.3");
    CHECK(p.server->peer_principal() == ""); // no client certificate asked for

    // Large both ways, several records each.
    std::string up = pattern(300'000, 'a'), down = pattern(200'001, 'z');
    p.client->write_plaintext(up.data(), up.size());
    p.server->write_plaintext(down.data(), down.size());
    pump(*p.client, *p.server, chunk == 0 ? 0 : chunk * 97);
    CHECK(take_text(*p.server) == up);
    CHECK(take_text(*p.client) == down);
    CHECK_FALSE(p.server->failed());
    CHECK_FALSE(p.client->failed());

    p.client->close();
    pump(*p.client, *p.server, chunk);
    CHECK(p.server->peer_closed());
  }
}

TEST_CASE("tls: take_plaintext and take_ciphertext append to what the caller's vector holds") {
  pair_of_channels p(server_options(), client_options());
  pump(*p.client, *p.server);
  REQUIRE(p.server->handshake_done());
  // Many records (1 byte, 16 KiB, odd sizes) fed in one piece, then in two
  // pieces split inside a record: all of it, in order, after what out held.
  std::string sent;
  for (std::size_t size : {std::size_t(1), std::size_t(16384), std::size_t(5), std::size_t(40'000), std::size_t(3)}) {
    std::string part = pattern(size, char('a' + sent.size() % 26));
    p.client->write_plaintext(part.data(), part.size());
    sent += part;
  }
  std::vector<char> wire{'#'};
  p.client->take_ciphertext(wire); // appended, not swapped over the '#'
  REQUIRE(wire.size() > sent.size() + 1);
  CHECK(wire[0] == '#');
  const std::size_t split = wire.size() / 2 + 3;
  p.server->feed_ciphertext(wire.data() + 1, split - 1);
  std::vector<char> got{'>'};
  p.server->take_plaintext(got);
  p.server->feed_ciphertext(wire.data() + split, wire.size() - split);
  p.server->take_plaintext(got);
  CHECK(std::string(got.begin(), got.end()) == ">" + sent);

  // close_notify and more bytes behind it in one feed: the peer is closed and
  // nothing after it comes out, now or later.
  p.client->close();
  std::vector<char> closing;
  p.client->take_ciphertext(closing);
  const std::size_t close_size = closing.size();
  closing.insert(closing.end(), wire.begin() + 1, wire.end());
  p.server->feed_ciphertext(closing.data(), closing.size());
  CHECK(p.server->peer_closed());
  CHECK_FALSE(p.server->failed());
  p.server->feed_ciphertext(wire.data() + 1, wire.size() - 1);
  CHECK(take_text(*p.server) == "");
  CHECK(close_size > 0);
}

TEST_CASE("tls: the client checks the server's name (DNS or IP SAN)") {
  {
    pair_of_channels p(server_options(), client_options(), "127.0.0.1");
    pump(*p.client, *p.server);
    CHECK_MESSAGE(p.client->handshake_done(), p.client->error());
  }
  {
    pair_of_channels p(server_options(), client_options(), "broker.example.com");
    pump(*p.client, *p.server);
    CHECK(p.client->failed());
    CHECK(p.client->error() == "server certificate does not name broker.example.com");
    CHECK(p.server->failed());
    CHECK_FALSE(p.server->handshake_done());
  }
  {
    pair_of_channels p(server_options(), client_options(), "10.0.0.1");
    pump(*p.client, *p.server);
    CHECK(p.client->error() == "server certificate does not name 10.0.0.1");
  }
}

TEST_CASE("tls: a server certificate from an unknown CA is refused, and both sides say why") {
  // The client trusts another CA.
  pair_of_channels p(server_options(), client_options("", "other-ca"));
  pump(*p.client, *p.server);
  CHECK(p.client->failed());
  CHECK(p.client->error() == "server certificate signed by an unknown CA");
  CHECK(p.server->failed());
  CHECK(p.server->error() == "the client refused our certificate: unknown CA");
  // The server's certificate comes from another CA.
  pair_of_channels q(server_options("stranger"), client_options());
  pump(*q.client, *q.server);
  CHECK(q.client->error() == "server certificate signed by an unknown CA");
}

TEST_CASE("tls: an expired server certificate is refused") {
  pair_of_channels p(server_options("expired"), client_options());
  pump(*p.client, *p.server);
  CHECK(p.client->failed());
  CHECK(p.client->error() == "server certificate expired");
  CHECK(p.server->error() == "the client refused our certificate: certificate expired");
}

TEST_CASE("tls: mutual TLS, client certificate required") {
  auto required = server_options("broker", tls_client_auth::required);
  SUBCASE("a valid client certificate: the principal is User:<CN>") {
    pair_of_channels p(required, client_options("client-alice"));
    p.client->write_plaintext("x", 1);
    pump(*p.client, *p.server);
    REQUIRE_MESSAGE(p.server->handshake_done(), p.server->error());
    CHECK(p.server->peer_principal() == "User:alice");
    CHECK(p.server->peer_common_name() == "alice");
    CHECK(p.client->peer_common_name() == "broker");
    CHECK(take_text(*p.server) == "x");
  }
  SUBCASE("no client certificate: refused") {
    pair_of_channels p(required, client_options());
    p.client->write_plaintext("x", 1);
    pump(*p.client, *p.server);
    CHECK(p.server->failed());
    CHECK(p.server->error() == "the client sent no certificate; this listener requires one");
    // TLS 1.3: the client finished its part first, then reads the alert.
    CHECK(p.client->failed());
    CHECK(p.client->error() == "the server requires a client certificate");
    CHECK(take_text(*p.server) == "");
  }
  SUBCASE("an expired client certificate: refused") {
    pair_of_channels p(required, client_options("expired"));
    p.client->write_plaintext("x", 1);
    pump(*p.client, *p.server);
    CHECK(p.server->error() == "client certificate expired");
    CHECK(p.client->error() == "the server refused our certificate: certificate expired");
    CHECK(take_text(*p.server) == "");
  }
  SUBCASE("a client certificate from another CA: refused") {
    pair_of_channels p(required, client_options("stranger"));
    p.client->write_plaintext("x", 1);
    pump(*p.client, *p.server);
    CHECK(p.server->error() == "client certificate signed by an unknown CA");
    CHECK(p.client->error() == "the server refused our certificate: unknown CA");
    CHECK(take_text(*p.server) == "");
  }
}

TEST_CASE("tls: mutual TLS optional: no certificate is fine, a bad one is not") {
  auto optional = server_options("broker", tls_client_auth::optional);
  {
    pair_of_channels p(optional, client_options());
    pump(*p.client, *p.server);
    CHECK_MESSAGE(p.server->handshake_done(), p.server->error());
    CHECK(p.server->peer_principal() == "");
  }
  {
    pair_of_channels p(optional, client_options("client-bob"));
    pump(*p.client, *p.server);
    CHECK(p.server->peer_principal() == "User:bob");
  }
  {
    pair_of_channels p(optional, client_options("stranger"));
    pump(*p.client, *p.server);
    CHECK(p.server->error() == "client certificate signed by an unknown CA");
  }
}

TEST_CASE("tls: bytes that are not TLS fail the server channel with a clear error") {
  std::string error;
  auto ctx = tls_context::make_server(server_options(), error);
  REQUIRE(ctx);
  tls_channel server(ctx);
  std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  server.feed_ciphertext(junk.data(), junk.size());
  CHECK(server.failed());
  CHECK(server.error() == "the client does not speak TLS (or not a version we accept)");
  // Feeding more after a failure is ignored, and nothing comes out.
  server.feed_ciphertext(junk.data(), junk.size());
  CHECK(take_text(server) == "");
  // A header claiming a huge record allocates nothing ahead: OpenSSL refuses
  // records over 16 KiB + overhead by their header.
  tls_channel other(ctx);
  const char big_record[] = {0x17, 0x03, 0x03, char(0xff), char(0xff)};
  other.feed_ciphertext(big_record, sizeof big_record);
  CHECK_FALSE(other.handshake_done());
}

TEST_CASE("tls: contexts refuse bad files with messages naming them") {
  std::string error;
  auto o = server_options();
  o.cert_file = ca_file("missing.crt");
  CHECK_FALSE(tls_context::make_server(o, error));
  CHECK(error == "cannot read certificate " + o.cert_file + ": No such file or directory");

  o = server_options();
  o.key_file = ca_file("client-alice.key");
  CHECK_FALSE(tls_context::make_server(o, error));
  CHECK(error == "key " + o.key_file + " does not match certificate " + o.cert_file);

  o = server_options("broker", tls_client_auth::required);
  o.ca_file.clear();
  CHECK_FALSE(tls_context::make_server(o, error));
  CHECK(error == "client authentication 'required' needs a CA file to verify client certificates");

  auto c = client_options("client-alice");
  c.key_file.clear();
  CHECK_FALSE(tls_context::make_client(c, error));
  CHECK(error == "a TLS client certificate needs its key, and a key its certificate");

  c = client_options();
  c.ca_file = ca_file("nope.crt");
  CHECK_FALSE(tls_context::make_client(c, error));
  CHECK(error == "cannot read CA file " + c.ca_file + ": No such file or directory");

  tls_client_auth mode;
  CHECK(parse_tls_client_auth("required", mode));
  CHECK(mode == tls_client_auth::required);
  CHECK_FALSE(parse_tls_client_auth("yes", mode));
}

TEST_CASE("tls write ledger: socket progress in ciphertext maps back to the plaintext it carried") {
  herald::security::tls_write_ledger ledger;
  ledger.sent(0, 300);     // a handshake flight
  ledger.sent(100, 129);   // one record
  ledger.sent(1000, 1100); // a bigger write
  CHECK(ledger.pending_ciphertext() == 1529);
  CHECK(ledger.written(300) == 0);
  CHECK(ledger.written(100) == 77); // 100 * 100 / 129, rounded down
  CHECK(ledger.written(29) == 23);  // the rest of the record, exactly
  std::size_t total = 0;
  for (int i = 0; i < 11; ++i)
    total += ledger.written(100);
  CHECK(total == 1000);
  CHECK(ledger.pending_ciphertext() == 0);
  CHECK(ledger.written(50) == 0); // more than was sent: nothing to report
}
