// tls_channel_bench CA_DIR WRITE_BYTES READ_BYTES MIB
// CPU cost of security/tls_channel alone, no sockets, one thread: a client
// channel sends MIB MiB of plaintext to a server channel as the connection
// actors do (write_plaintext WRITE_BYTES at a time, take_ciphertext into an
// emptied buffer, feed_ciphertext READ_BYTES at a time as socket reads would
// come, take_plaintext into a fresh vector). Prints thread CPU ns per
// plaintext byte for each half. CA_DIR: deploy/make-test-ca.sh's output
// (build/tests/test-ca). Figures: bench/README.md, "TLS on and off".
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "security/tls_channel.hpp"

using namespace herald::security;

namespace {
double cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e9 + double(t.tv_nsec);
}
} // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: tls_channel_bench CA_DIR WRITE_BYTES READ_BYTES MIB\n");
    return 2;
  }
  const std::string ca = argv[1];
  const std::size_t write_size = std::strtoul(argv[2], nullptr, 10);
  const std::size_t read_size = std::strtoul(argv[3], nullptr, 10);
  const std::size_t total = std::size_t(std::strtoul(argv[4], nullptr, 10)) << 20;
  if (write_size == 0 || read_size == 0) {
    std::fprintf(stderr, "WRITE_BYTES and READ_BYTES must be > 0\n");
    return 2;
  }
  std::string error;
  auto server_ctx = tls_context::make_server(
      {ca + "/broker.crt", ca + "/broker.key", ca + "/ca.crt", tls_client_auth::none}, error);
  tls_client_options client_options;
  client_options.ca_file = ca + "/ca.crt";
  auto client_ctx = server_ctx ? tls_context::make_client(client_options, error) : nullptr;
  if (!server_ctx || !client_ctx) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  tls_channel server(server_ctx), client(client_ctx, "localhost");
  std::vector<char> wire;
  for (int round = 0; round < 10 && !(server.handshake_done() && client.handshake_done()); ++round) {
    wire.clear();
    client.take_ciphertext(wire);
    server.feed_ciphertext(wire.data(), wire.size());
    wire.clear();
    server.take_ciphertext(wire);
    client.feed_ciphertext(wire.data(), wire.size());
  }
  if (!server.handshake_done()) {
    std::fprintf(stderr, "no handshake: %s\n", server.error().c_str());
    return 1;
  }
  const std::vector<char> data(write_size, 'x');
  double send_ns = 0, receive_ns = 0;
  std::size_t sent = 0, received = 0;
  while (sent < total) {
    const double t0 = cpu_ns();
    client.write_plaintext(data.data(), data.size());
    wire.clear();
    client.take_ciphertext(wire);
    const double t1 = cpu_ns();
    for (std::size_t at = 0; at < wire.size(); at += read_size) {
      server.feed_ciphertext(wire.data() + at, std::min(read_size, wire.size() - at));
      std::vector<char> plain;
      server.take_plaintext(plain);
      received += plain.size();
    }
    receive_ns += cpu_ns() - t1;
    send_ns += t1 - t0;
    sent += write_size;
  }
  if (received != sent) {
    std::fprintf(stderr, "sent %zu bytes, received %zu\n", sent, received);
    return 1;
  }
  std::printf("send %.3f ns/B  receive %.3f ns/B  (%zu MiB, writes of %zu, reads of %zu)\n", send_ns / double(sent),
              receive_ns / double(sent), sent >> 20, write_size, read_size);
}
