#pragma once
// A blocking TLS client over a real socket for system tests: a tls_channel
// driven by poll(2) with a deadline. (connect_tcp: tests/support/frame_client.hpp.)

#include <chrono>
#include <string>
#include <vector>

#include "security/tls_channel.hpp"
#include "tests/support/frame_client.hpp"

namespace herald::test {

struct tls_probe_result {
  bool handshake_done = false;
  bool failed = false;
  bool closed = false;        // the server closed the connection
  std::string error;          // the channel's error when failed
  std::vector<char> received; // plaintext received
};

// Connects, runs the TLS handshake, sends `send` once it is done, and reads
// until the channel failed, the server closed, `want_bytes` of plaintext came
// in, or `timeout` passed.
tls_probe_result tls_probe(const std::string& address, const security::tls_client_options& options,
                           const std::string& send = {}, std::size_t want_bytes = 1,
                           std::chrono::milliseconds timeout = std::chrono::seconds{10});

// Resident set size of a process in KiB (0 if unknown).
long rss_kib(int pid);

} // namespace herald::test
