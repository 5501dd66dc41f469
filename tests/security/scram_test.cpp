// SCRAM-SHA-256: RFC 7677's example exchange byte for byte from both halves,
// refusals (wrong password, unknown user, forged server signature, replayed
// or foreign nonces, weak iteration counts), the credential's text encoding,
// and garbage at every step (errors, never exceptions or crashes).

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "security/sasl_base64.hpp"
#include "security/scram.hpp"
#include "security/scram_server.hpp"

using namespace herald::security;

namespace {

// RFC 7677 section 3.
const std::string rfc_user = "user";
const std::string rfc_password = "pencil";
const std::string rfc_client_nonce = "rOprNGfwEbeRWgbNEkqO";
const std::string rfc_server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const std::string rfc_salt_b64 = "W22ZaJ0SNY7soEsUEjb6gQ==";
const std::string rfc_client_first = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const std::string rfc_server_first =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const std::string rfc_client_final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const std::string rfc_server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

scram_credential rfc_credential() {
  auto salt = base64_decode(rfc_salt_b64);
  REQUIRE(salt);
  auto c = make_credential(rfc_password, *salt, 4096);
  REQUIRE(c);
  return *c;
}

// A store with one user.
scram_credential_lookup store_of(std::string user, scram_credential credential) {
  return [user, credential](const std::string& name) -> std::optional<scram_credential> {
    if (name == user)
      return credential;
    return std::nullopt;
  };
}

// A whole exchange between a fresh client and server; true when both sides
// agree the client is authenticated.
struct exchange_result {
  bool client_ok = false;
  bool server_ok = false;
  std::string error;
};
exchange_result run_exchange(scram_client& client, scram_server& server) {
  exchange_result r;
  auto c1 = client.first_message();
  if (!c1.ok())
    return {false, false, c1.error};
  auto s1 = server.first_response(c1.message);
  if (!s1.ok())
    return {false, false, s1.error};
  auto c2 = client.final_message(s1.message);
  if (!c2.ok())
    return {false, false, c2.error};
  auto s2 = server.final_response(c2.message);
  if (!s2.ok())
    return {false, server.authenticated(), s2.error};
  auto c3 = client.verify_server_final(s2.message);
  return {client.authenticated(), server.authenticated(), c3.error};
}

} // namespace

TEST_CASE("base64: RFC 4648 vectors, and non-canonical text refused") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x80", 3)})
    CHECK(base64_decode(base64_encode(s)) == s);
  CHECK(base64_encode("n,,") == "biws");
  for (const char* bad : {"Zg", "Zg=", "Z===", "====", "Zm9v\n", "Zm 9", "Zm9v=Zm9", "Zh==", "Zm9=", "Zg==Zg==", "Zm-v"})
    CHECK_MESSAGE(!base64_decode(bad), bad);
}

TEST_CASE("scram: the client produces RFC 7677's messages and accepts its server-final") {
  scram_client client(rfc_user, rfc_password, rfc_client_nonce);
  auto first = client.first_message();
  REQUIRE(first.ok());
  CHECK(first.message == rfc_client_first);
  auto final = client.final_message(rfc_server_first);
  REQUIRE(final.ok());
  CHECK(final.message == rfc_client_final);
  CHECK(!client.authenticated());
  auto verified = client.verify_server_final(rfc_server_final);
  CHECK(verified.ok());
  CHECK(client.authenticated());
}

TEST_CASE("scram: the server produces RFC 7677's messages from the stored credential") {
  scram_server server(store_of(rfc_user, rfc_credential()), rfc_server_nonce);
  auto first = server.first_response(rfc_client_first);
  REQUIRE(first.ok());
  CHECK(first.message == rfc_server_first);
  auto final = server.final_response(rfc_client_final);
  REQUIRE_MESSAGE(final.ok(), final.error);
  CHECK(final.message == rfc_server_final);
  CHECK(server.authenticated());
  CHECK(server.user() == "user");
}

TEST_CASE("scram: a full exchange with random nonces and salt, and a user name that needs escaping") {
  auto credential = make_credential("s3cret, with = signs", scram_min_iterations);
  REQUIRE(credential);
  CHECK(credential->salt.size() == 16);
  scram_client client("ops,team=1", "s3cret, with = signs");
  scram_server server(store_of("ops,team=1", *credential));
  auto r = run_exchange(client, server);
  CHECK_MESSAGE(r.client_ok, r.error);
  CHECK(r.server_ok);
  CHECK(server.user() == "ops,team=1");
  CHECK(scram_escape_name("ops,team=1") == "ops=2Cteam=3D1");
  CHECK(scram_unescape_name("ops=2Cteam=3D1") == "ops,team=1");
  CHECK(!scram_unescape_name("a=2"));
  CHECK(!scram_unescape_name("a=41"));
  CHECK(!scram_unescape_name("a,b"));
}

TEST_CASE("scram: a wrong password is refused with the same error as an unknown user") {
  auto credential = rfc_credential();
  scram_client wrong("user", "pencil2");
  scram_server server(store_of("user", credential));
  auto r = run_exchange(wrong, server);
  CHECK(!r.client_ok);
  CHECK(!r.server_ok);
  CHECK(r.error == "unknown user or wrong password");
  CHECK(server.log_detail() == "SCRAM: wrong password for user 'user'");

  scram_client stranger("nobody", "pencil");
  scram_server server2(store_of("user", credential));
  auto first = stranger.first_message();
  auto s1 = server2.first_response(first.message);
  // The decoy server-first looks like a real one (and is stable per name).
  REQUIRE(s1.ok());
  CHECK(s1.message.find(",s=") != std::string::npos);
  CHECK(s1.message.find(",i=8192") != std::string::npos);
  scram_server server3(store_of("user", credential));
  scram_client stranger2("nobody", "pencil");
  auto s1b = server3.first_response(stranger2.first_message().message);
  CHECK(s1.message.substr(s1.message.find(",s=")) == s1b.message.substr(s1b.message.find(",s=")));
  auto c2 = stranger.final_message(s1.message);
  REQUIRE(c2.ok());
  auto s2 = server2.final_response(c2.message);
  CHECK(!s2.ok());
  CHECK(s2.error == "unknown user or wrong password");
  CHECK(s2.message == "e=invalid-proof");
  CHECK(server2.log_detail() == "SCRAM: unknown user 'nobody'");
  CHECK(!server2.authenticated());
}

TEST_CASE("scram: a client refuses a server that does not know the credential") {
  scram_client client(rfc_user, rfc_password, rfc_client_nonce);
  REQUIRE(client.first_message().ok());
  REQUIRE(client.final_message(rfc_server_first).ok());
  // One flipped character of the signature.
  std::string tampered = rfc_server_final;
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  auto r = client.verify_server_final(tampered);
  CHECK(!r.ok());
  CHECK(r.error.find("signature is wrong") != std::string::npos);
  CHECK(!client.authenticated());
  // Nothing more is accepted afterwards, not even the right answer.
  CHECK(!client.verify_server_final(rfc_server_final).ok());

  // A server error is reported as such.
  scram_client client2(rfc_user, rfc_password, rfc_client_nonce);
  client2.first_message();
  client2.final_message(rfc_server_first);
  auto e = client2.verify_server_final("e=invalid-proof");
  CHECK(e.error == "SCRAM: the server refused: invalid-proof");
}

TEST_CASE("scram: nonces that do not belong to this exchange are refused") {
  // The server's nonce must extend the client's.
  for (const std::string& server_first : std::vector<std::string>{"r=someoneElsesNonce123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", // foreign
        "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  // no server part
        "r=rOprNGfwEbeRWgbNEk,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"}) {  // truncated
    scram_client client(rfc_user, rfc_password, rfc_client_nonce);
    client.first_message();
    auto r = client.final_message(server_first);
    CHECK_MESSAGE(!r.ok(), server_first);
    CHECK(r.error.find("nonce") != std::string::npos);
  }
  // A client-final replayed to a new exchange (another server nonce) fails.
  scram_server other(store_of(rfc_user, rfc_credential()), "differentServerNonce");
  REQUIRE(other.first_response(rfc_client_first).ok());
  auto replay = other.final_response(rfc_client_final);
  CHECK(!replay.ok());
  CHECK(replay.error.find("nonce does not match") != std::string::npos);
  CHECK(!other.authenticated());
  // A client-final whose nonce was changed (the proof no longer covers it) fails.
  scram_server server(store_of(rfc_user, rfc_credential()), rfc_server_nonce);
  REQUIRE(server.first_response(rfc_client_first).ok());
  std::string changed = rfc_client_final;
  changed.replace(changed.find("k0,"), 2, "k1");
  CHECK(!server.final_response(changed).ok());
}

TEST_CASE("scram: iteration counts below 4096 are refused everywhere") {
  scram_client client(rfc_user, rfc_password, rfc_client_nonce);
  client.first_message();
  auto r = client.final_message("r=rOprNGfwEbeRWgbNEkqO%hvYD,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095");
  CHECK(!r.ok());
  CHECK(r.error.find("fewer than 4096") != std::string::npos);
  scram_client client2(rfc_user, rfc_password, rfc_client_nonce);
  client2.first_message();
  CHECK(!client2.final_message("r=rOprNGfwEbeRWgbNEkqO%hvYD,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4294967295").ok());
  CHECK(!make_credential("pw", "salt", 4095));
  CHECK(!make_credential("pw", "salt", scram_max_iterations + 1));
  CHECK(!make_credential("pw", "", 4096));
  CHECK(make_credential("pw", "salt", 4096));
}

TEST_CASE("scram: the credential's one-line encoding round-trips and is parsed strictly") {
  auto c = rfc_credential();
  std::string line = encode_credential(c);
  CHECK(line.rfind("SCRAM-SHA-256:iterations=4096,salt=W22ZaJ0SNY7soEsUEjb6gQ==,stored_key=", 0) == 0);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(decode_credential(line) == c);
  CHECK(decode_credential(line + "\n") == c);
  std::string error;
  for (const std::string& bad : std::vector<std::string>{std::string(""), std::string("SCRAM-SHA-1:") + line.substr(14), line + ",extra=1",
                          line.substr(0, line.find(",server_key")), "SCRAM-SHA-256:iterations=4095" + line.substr(29),
                          "SCRAM-SHA-256:iterations=04096" + line.substr(29), line.substr(0, line.size() - 4) + "AAB=",
                          line + "\n\n", "SCRAM-SHA-256:salt=x,iterations=4096,stored_key=x,server_key=x"}) {
    error.clear();
    CHECK_MESSAGE(!decode_credential(bad, &error), bad);
    CHECK(error.rfind("invalid SCRAM credential: ", 0) == 0);
  }
}

TEST_CASE("scram: malformed messages at every step are clear errors") {
  auto lookup = store_of(rfc_user, rfc_credential());
  for (const std::string& bad : std::vector<std::string>{"", ",", "n", "n,", "n,,", "x,,n=user,r=abc", "p=tls-server-end-point,,n=user,r=abc",
                          "n,a=admin,n=user,r=abc", "n,,m=ext,n=user,r=abc", "n,,r=abc,n=user", "n,,n=,r=abc",
                          "n,,n=us=er,r=abc", "n,,n=user,r=", "n,,n=user,r=a,b", "n,,n=user,r=a b",
                          "n,,n=user", "n,,n=user\x01,r=abc", std::string("n,,n=u\0,r=abc", 13),
                          "n,,n=user,r=" + std::string(300, 'x'), "n,,n=user,r=x," + std::string(5000, 'y')}) {
    scram_server server(lookup, "srv");
    auto r = server.first_response(bad);
    CHECK_MESSAGE(!r.ok(), bad);
    CHECK(r.message.rfind("e=", 0) == 0);
    CHECK(!r.error.empty());
    CHECK(!server.authenticated());
    // Failed is final.
    CHECK(!server.final_response(rfc_client_final).ok());
  }
  for (const std::string& bad : std::vector<std::string>{"", "c=biws", "c=biws,r=x", "c=biws,r=rOprNGfwEbeRWgbNEkqOsrv,p=",
                          "c=biws,r=rOprNGfwEbeRWgbNEkqOsrv,p=AAAA", "c=eSws,r=rOprNGfwEbeRWgbNEkqOsrv,p=" + std::string(44, 'A'),
                          "r=rOprNGfwEbeRWgbNEkqOsrv,c=biws,p=" + std::string(43, 'A') + "=",
                          "c=biws,p=" + std::string(43, 'A') + "=,r=rOprNGfwEbeRWgbNEkqOsrv", "garbage"}) {
    scram_server server(lookup, "srv");
    REQUIRE(server.first_response(rfc_client_first).ok());
    auto r = server.final_response(bad);
    CHECK_MESSAGE(!r.ok(), bad);
    CHECK(!r.error.empty());
    CHECK(!server.authenticated());
  }
  for (const std::string& bad : std::vector<std::string>{"", "garbage", "m=x,r=rOprNGfwEbeRWgbNEkqOx,s=AAAA,i=4096", "r=rOprNGfwEbeRWgbNEkqOx",
                          "r=rOprNGfwEbeRWgbNEkqOx,s=!!,i=4096", "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096",
                          "r=rOprNGfwEbeRWgbNEkqOx,s=AAAA,i=-1", "r=rOprNGfwEbeRWgbNEkqOx,s=AAAA,i=4096x",
                          "s=AAAA,r=rOprNGfwEbeRWgbNEkqOx,i=4096", "e=unknown-user"}) {
    scram_client client(rfc_user, rfc_password, rfc_client_nonce);
    client.first_message();
    auto r = client.final_message(bad);
    CHECK_MESSAGE(!r.ok(), bad);
    CHECK(!r.error.empty());
  }
  // Out of order.
  scram_client client(rfc_user, rfc_password, rfc_client_nonce);
  CHECK(!client.final_message(rfc_server_first).ok());
  scram_server server(lookup, rfc_server_nonce);
  CHECK(!server.final_response(rfc_client_final).ok());
  scram_client empty("", "pw");
  CHECK(!empty.first_message().ok());
}

TEST_CASE("scram: random bytes never crash either half") {
  std::mt19937 rng(11);
  auto lookup = store_of(rfc_user, rfc_credential());
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 120, '\0');
    for (auto& ch : junk)
      ch = static_cast<char>(rng() % 4 == 0 ? ",=nrcpsi"[rng() % 8] : rng());
    scram_server server(lookup, "srv");
    auto s1 = server.first_response(i % 2 ? junk : "n,,n=user,r=" + junk);
    if (s1.ok())
      CHECK(!server.final_response(junk).ok());
    scram_client client(rfc_user, rfc_password, rfc_client_nonce);
    client.first_message();
    CHECK(!client.final_message(junk).ok());
  }
}
