#include "tests/security/tls_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace herald::test {

namespace {

bool write_all(int fd, const std::vector<char>& bytes) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    at += std::size_t(n);
  }
  return true;
}

} // namespace

tls_probe_result tls_probe(const std::string& address, const security::tls_client_options& options,
                           const std::string& send, std::size_t want_bytes, std::chrono::milliseconds timeout) {
  tls_probe_result result;
  std::string error;
  auto ctx = security::tls_context::make_client(options, error);
  if (!ctx) {
    result.failed = true;
    result.error = error;
    return result;
  }
  int fd = connect_tcp(address);
  if (fd < 0) {
    result.failed = true;
    result.error = "cannot connect to " + address;
    return result;
  }
  security::tls_channel channel(ctx, address.substr(0, address.rfind(':')));
  if (!send.empty())
    channel.write_plaintext(send.data(), send.size());
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<char> out;
  for (;;) {
    out.clear();
    channel.take_ciphertext(out);
    if (!out.empty() && !write_all(fd, out))
      result.closed = true;
    channel.take_plaintext(result.received);
    result.handshake_done = channel.handshake_done();
    if (channel.failed() || result.closed || result.received.size() >= want_bytes)
      break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, int(left.count())) <= 0)
      continue;
    char buffer[16384];
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
      result.closed = true;
      channel.take_plaintext(result.received);
      break;
    }
    channel.feed_ciphertext(buffer, std::size_t(n));
  }
  ::close(fd);
  result.failed = channel.failed();
  result.error = channel.error();
  return result;
}

long rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      long kib = 0;
      fields >> kib;
      return kib;
    }
  return 0;
}

} // namespace herald::test
