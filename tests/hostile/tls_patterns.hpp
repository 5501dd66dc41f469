#pragma once
// Hostile patterns against a TLS client listener (heraldd --tls-*), inside
// or around the TLS handshake, on raw sockets. The ClientHello is a real one
// (OpenSSL, memory BIOs): the broker sees a genuine handshake start, then
// whatever the pattern does with it. A listener that bounds nothing here
// would keep half-open TLS connections for ever: the handshake timeout
// (connection_logic, --handshake-timeout-ms) must cover the TLS handshake.
//   tls-silent     connect and send nothing (default 50)
//   tls-slowhello  a real ClientHello, one byte per second (default 50)
//   tls-stall      a whole ClientHello, the server's answer read, then nothing:
//                  the handshake never finishes (default 50)
//   tls-oversize   a record header claiming 65535 bytes (over TLS's 16 KiB +
//                  2048 maximum), or a whole 16 KiB record whose handshake
//                  header claims a 16 MiB ClientHello, then hold (default 10)
// Plain hostile bytes to a TLS listener (random, partial, ...) are the
// patterns of patterns.hpp run as they are; TLS clients that never read are
// client_floods.hpp's noread-client with a CA.

#include <string>
#include <vector>

#include "tests/hostile/patterns.hpp"

namespace herald::hostile {

pattern_result run_tls_pattern(const std::string& name, const target& t, const pattern_options& o);
std::vector<std::string> tls_pattern_names();

// The first flight of a TLS client (a ClientHello record), as OpenSSL makes it.
std::vector<char> client_hello();

} // namespace herald::hostile
