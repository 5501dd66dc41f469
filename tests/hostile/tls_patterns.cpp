#include "tests/hostile/tls_patterns.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <thread>

namespace herald::hostile {

namespace {

using clock_type = std::chrono::steady_clock;

struct conn {
  int fd = -1;
  bool closed = false;     // by the server (EOF or reset)
  std::size_t received = 0;
};

struct tls_run {
  const target& t;
  std::vector<conn> conns;
  pattern_result result;
  clock_type::time_point start = clock_type::now();

  conn* open() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(t.port);
    if (fd < 0 || ::inet_pton(AF_INET, t.host.c_str(), &addr.sin_addr) != 1 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (fd >= 0)
        ::close(fd);
      ++result.refused;
      return nullptr;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++result.opened;
    conns.push_back(conn{fd});
    return &conns.back();
  }

  void send(conn& c, const char* data, std::size_t n) {
    while (n > 0 && !c.closed) {
      auto w = ::send(c.fd, data, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0) {
        mark_closed(c);
        return;
      }
      data += w;
      n -= static_cast<std::size_t>(w);
    }
  }

  void mark_closed(conn& c) {
    if (c.closed)
      return;
    c.closed = true;
    if (result.first_close.count() < 0)
      result.first_close = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
  }

  // Reads (and drops) what the server sends: its handshake flight, an alert.
  void drain(conn& c) {
    char buf[16384];
    for (;;) {
      auto n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        c.received += static_cast<std::size_t>(n);
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        mark_closed(c);
      return;
    }
  }

  void watch(clock_type::time_point until) {
    for (;;) {
      std::vector<pollfd> fds;
      std::vector<conn*> who;
      for (auto& c : conns)
        if (!c.closed) {
          fds.push_back({c.fd, POLLIN, 0});
          who.push_back(&c);
        }
      auto now = clock_type::now();
      if (fds.empty() || now >= until)
        return;
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
      if (::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(ms, 100)) + 1) <= 0)
        continue;
      for (std::size_t i = 0; i < fds.size(); ++i)
        if (fds[i].revents != 0)
          drain(*who[i]);
    }
  }

  pattern_result finish(std::string note) {
    for (auto& c : conns) {
      if (!c.closed)
        drain(c);
      if (c.closed)
        ++result.closed_by_server;
      else
        ++result.still_open;
      ::close(c.fd);
    }
    result.note = std::move(note);
    return result;
  }
};

int count(const pattern_options& o, int fallback) {
  return o.connections > 0 ? o.connections : fallback;
}

pattern_result silent(const target& t, const pattern_options& o) {
  tls_run s{t, {}, {}};
  s.conns.reserve(static_cast<std::size_t>(count(o, 50)));
  for (int i = 0; i < count(o, 50); ++i)
    s.open();
  s.watch(clock_type::now() + o.hold);
  return s.finish("nothing sent");
}

pattern_result slowhello(const target& t, const pattern_options& o) {
  tls_run s{t, {}, {}};
  const auto hello = client_hello();
  s.conns.reserve(static_cast<std::size_t>(count(o, 50)));
  for (int i = 0; i < count(o, 50); ++i)
    s.open();
  std::size_t sent = 0;
  auto open_left = [&] { return std::any_of(s.conns.begin(), s.conns.end(), [](const conn& c) { return !c.closed; }); };
  while (clock_type::now() - s.start < o.hold && sent < hello.size() && open_left()) {
    for (auto& c : s.conns)
      if (!c.closed)
        s.send(c, &hello[sent], 1);
    ++sent;
    s.watch(clock_type::now() + std::chrono::seconds{1});
  }
  s.watch(s.start + o.hold);
  return s.finish(std::to_string(sent) + " of " + std::to_string(hello.size()) +
                  " ClientHello bytes sent per connection, one a second");
}

pattern_result stall(const target& t, const pattern_options& o) {
  tls_run s{t, {}, {}};
  const auto hello = client_hello();
  s.conns.reserve(static_cast<std::size_t>(count(o, 50)));
  for (int i = 0; i < count(o, 50); ++i)
    if (auto* c = s.open())
      s.send(*c, hello.data(), hello.size());
  s.watch(clock_type::now() + o.hold);
  std::size_t least = SIZE_MAX;
  for (auto& c : s.conns)
    least = std::min(least, c.received);
  return s.finish("ClientHello sent, the server's flight read (at least " +
                  std::to_string(least == SIZE_MAX ? 0 : least) + " bytes), handshake never finished");
}

pattern_result oversize(const target& t, const pattern_options& o) {
  tls_run s{t, {}, {}};
  const int n = count(o, 10);
  s.conns.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto* c = s.open();
    if (c == nullptr)
      continue;
    std::vector<char> bytes;
    if (i % 2 == 0) {
      // Record: handshake (22), TLS 1.0 version, length 65535, then 1000 bytes.
      bytes = {22, 3, 1, '\xff', '\xff'};
      bytes.resize(bytes.size() + 1000, 'x');
    } else {
      // A whole 16 KiB record whose handshake message, a ClientHello (1),
      // claims 0xFFFFFF bytes (16 MiB).
      bytes = {22, 3, 1, 0x40, 0x00, 1, '\xff', '\xff', '\xff', 3, 3};
      bytes.resize(5 + 0x4000, '\0');
    }
    s.send(*c, bytes.data(), bytes.size());
  }
  s.watch(clock_type::now() + o.hold);
  return s.finish("half a 65535-byte record header, half a 16 MiB ClientHello claim");
}

const std::map<std::string, std::function<pattern_result(const target&, const pattern_options&)>>& table() {
  static const std::map<std::string, std::function<pattern_result(const target&, const pattern_options&)>> t{
    {"tls-silent", silent}, {"tls-slowhello", slowhello}, {"tls-stall", stall}, {"tls-oversize", oversize}};
  return t;
}

} // namespace

std::vector<char> client_hello() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = ctx ? SSL_new(ctx) : nullptr;
  if (ssl == nullptr) {
    SSL_CTX_free(ctx);
    throw std::runtime_error("OpenSSL: cannot make a client");
  }
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);  // ssl owns both now
  SSL_set_connect_state(ssl);
  SSL_set_tlsext_host_name(ssl, "localhost");
  SSL_do_handshake(ssl);  // wants to read the answer: the ClientHello is in `out`
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  std::vector<char> hello(data, data + (n > 0 ? n : 0));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  if (hello.empty())
    throw std::runtime_error("OpenSSL made no ClientHello");
  return hello;
}

std::vector<std::string> tls_pattern_names() {
  std::vector<std::string> names;
  for (auto& [name, f] : table())
    names.push_back(name);
  return names;
}

pattern_result run_tls_pattern(const std::string& name, const target& t, const pattern_options& o) {
  auto it = table().find(name);
  if (it == table().end())
    throw std::invalid_argument("unknown TLS pattern: " + name);
  return it->second(t, o);
}

} // namespace herald::hostile
