#pragma once
// Hostile patterns that need a real session, so they go through Herald's own
// client library (whatever it speaks: BASP before issue 11's switch, the
// framed protocol after):
//   noread-client  a session through a local proxy that stops reading the broker's
//             bytes once the session is open; then `count` fetches of ~1 MiB
//             each are sent and never read (default 400)
//   sessions  `count` sessions opened one after another and held (default 2000):
//             a flood of hellos that the broker must answer
// With tls_ca (a CA file) both speak TLS to the broker (its listener has
// --tls-*). No CAF in this header (build speed); the implementation links
// herald_client.

#include <chrono>
#include <string>

namespace herald::hostile {

struct flood_result {
  bool ok = false;          // the pattern ran (connected, data in place)
  int sent = 0;             // requests or sessions actually sent/opened
  std::string note;
};

flood_result run_noread(const std::string& host, std::uint16_t port, int count, std::chrono::milliseconds hold,
                        const std::string& tls_ca = "");
flood_result run_sessions(const std::string& host, std::uint16_t port, int count, std::chrono::milliseconds hold,
                          const std::string& tls_ca = "");

} // namespace herald::hostile
