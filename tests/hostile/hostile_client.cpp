// hostile_client: runs one hostile pattern against a heraldd listener and
// prints one line of what the server did, for bench/hostile_rss.sh and the
// hostile CTest. Patterns: tests/hostile/patterns.hpp (raw sockets) and
// tests/hostile/client_floods.hpp (through the client library), and against a
// TLS listener tests/hostile/tls_patterns.hpp (tls-*; --tls-ca makes the
// client-library patterns speak TLS).
//   hostile_client --target 127.0.0.1:9092 --proto framed --pattern oversize

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "tests/hostile/client_floods.hpp"
#include "tests/hostile/patterns.hpp"
#include "tests/hostile/tls_patterns.hpp"

using namespace herald::hostile;

int main(int argc, char** argv) {
  CLI::App app{"Hostile client patterns against a heraldd listener"};
  std::string address, protocol = "framed", pattern, tls_ca;
  int connections = 0;
  long hold_ms = 3000;
  std::string names = "noread-client sessions";
  for (auto& n : pattern_names())
    names += " " + n;
  for (auto& n : tls_pattern_names())
    names += " " + n;
  app.add_option("--target", address, "HOST:PORT of the listener")->required();
  app.add_option("--proto", protocol, "basp or framed (ignored by noread-client and sessions: the client library decides)")
    ->check(CLI::IsMember({"basp", "framed"}));
  app.add_option("--pattern", pattern, "One of: " + names)->required();
  app.add_option("--connections", connections, "Connections, requests or sessions (0: the pattern's default)");
  app.add_option("--hold-ms", hold_ms, "How long the pattern holds its connections afterwards")->capture_default_str();
  app.add_option("--tls-ca", tls_ca, "The listener speaks TLS: noread-client and sessions trust this CA (PEM)");
  CLI11_PARSE(app, argc, argv);

  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "--target wants HOST:PORT\n");
    return 2;
  }
  target t;
  t.host = address.substr(0, colon);
  t.port = static_cast<std::uint16_t>(std::stoul(address.substr(colon + 1)));
  t.kind = protocol == "basp" ? proto::basp : proto::framed;
  const std::chrono::milliseconds hold{hold_ms};

  // Over BASP a session needs CAF's handshake, over TLS a TLS client: noread
  // goes through the client library then.
  if (pattern == "noread" && (t.kind == proto::basp || !tls_ca.empty()))
    pattern = "noread-client";
  if (pattern == "noread-client" || pattern == "sessions") {
    auto r = pattern == "noread-client" ? run_noread(t.host, t.port, connections > 0 ? connections : 400, hold, tls_ca)
                                 : run_sessions(t.host, t.port, connections > 0 ? connections : 2000, hold, tls_ca);
    std::printf("pattern=%s ok=%d sent=%d note=\"%s\"\n", pattern.c_str(), r.ok ? 1 : 0, r.sent, r.note.c_str());
    return r.ok ? 0 : 1;
  }
  try {
    pattern_options o;
    o.connections = connections;
    o.hold = hold;
    auto r = pattern.rfind("tls-", 0) == 0 ? run_tls_pattern(pattern, t, o) : run_pattern(pattern, t, o);
    std::printf("pattern=%s proto=%s opened=%d refused=%d closed_by_server=%d goodbyes=%d still_open=%d "
                "first_close_ms=%lld note=\"%s\"\n",
                pattern.c_str(), protocol.c_str(), r.opened, r.refused, r.closed_by_server, r.goodbyes, r.still_open,
                static_cast<long long>(r.first_close.count()), r.note.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  return 0;
}
