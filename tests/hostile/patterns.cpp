#include "tests/hostile/patterns.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <stdexcept>
#include <thread>

#include "schema/wire.hpp"
#include "storage/record_batch.hpp"

namespace herald::hostile {

namespace {

using clock_type = std::chrono::steady_clock;

void put_le(std::vector<char>& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>(v >> (8 * i)));
}

void put_be(std::vector<char>& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>(v >> (8 * i)));
}

struct connection {
  int fd = -1;
  bool closed = false;    // by the server
  bool goodbye = false;
  int frames = 0;         // framed: whole frames received
  bool not_framed = false;  // what the server sent is no frame (a BASP listener)
  std::vector<char> in;   // framed: bytes of frames not yet complete
};

int connect_to(const target& t) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(t.port);
  if (::inet_pton(AF_INET, t.host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    throw std::runtime_error("not an IPv4 address: " + t.host);
  }
  // Blocking connect: loopback answers at once, and a refused one is a result.
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Sends everything unless the server closed; a failure marks the connection closed.
void send_all(connection& c, const char* data, std::size_t size) {
  while (size > 0 && !c.closed) {
    auto n = ::send(c.fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      c.closed = true;
      return;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void send_all(connection& c, const std::vector<char>& bytes) {
  send_all(c, bytes.data(), bytes.size());
}

// A reset instead of a FIN: SO_LINGER with a zero timeout.
void reset(connection& c) {
  if (c.fd < 0)
    return;
  linger l{1, 0};
  ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(c.fd);
  c.fd = -1;
}

void close_conn(connection& c) {
  if (c.fd >= 0)
    ::close(c.fd);
  c.fd = -1;
}

// Reads what arrived. Whatever the client speaks, the server's bytes are
// parsed as frames (only enough to spot a goodbye) unless they cannot be.
void drain(connection& c, proto) {
  char buf[65536];
  for (;;) {
    auto n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      c.closed = true;
      return;
    }
    if (n < 0)
      return;
    if (c.not_framed)
      continue;
    c.in.insert(c.in.end(), buf, buf + n);
    while (c.in.size() >= 8) {
      std::uint32_t len = 0;
      for (int i = 0; i < 4; ++i)
        len |= static_cast<std::uint32_t>(static_cast<unsigned char>(c.in[i])) << (8 * i);
      if (len < 16 || c.in[5] != 0 || c.in[6] != 0 || c.in[7] != 0) {
        c.not_framed = true;  // a BASP server's bytes, say
        c.in.clear();
        break;
      }
      if (static_cast<unsigned char>(c.in[4]) == 9)
        c.goodbye = true;
      if (c.in.size() < 4 + static_cast<std::size_t>(len))
        break;
      ++c.frames;
      c.in.erase(c.in.begin(), c.in.begin() + 4 + len);
    }
  }
}

struct run_state {
  const target& t;
  std::vector<connection> conns;
  pattern_result result;
  clock_type::time_point start = clock_type::now();
  clock_type::time_point last_send = start;

  connection* open() {
    int fd = connect_to(t);
    if (fd < 0) {
      ++result.refused;
      return nullptr;
    }
    ++result.opened;
    connection c;
    c.fd = fd;
    conns.push_back(std::move(c));
    return &conns.back();
  }

  void note_close() {
    if (result.first_close.count() < 0)
      result.first_close =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
  }

  // Polls every open connection until `until`, reading what the server sends.
  void watch(clock_type::time_point until) {
    for (;;) {
      std::vector<pollfd> fds;
      std::vector<connection*> who;
      for (auto& c : conns)
        if (c.fd >= 0 && !c.closed) {
          fds.push_back({c.fd, POLLIN, 0});
          who.push_back(&c);
        }
      auto now = clock_type::now();
      if (fds.empty() || now >= until)
        return;
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
      int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(ms, 100)) + 1);
      if (n <= 0)
        continue;
      for (std::size_t i = 0; i < fds.size(); ++i)
        if (fds[i].revents != 0) {
          drain(*who[i], t.kind);
          if (who[i]->closed)
            note_close();
        }
    }
  }

  pattern_result finish() {
    for (auto& c : conns) {
      if (c.fd >= 0 && !c.closed)
        drain(c, t.kind);
      if (c.closed)
        ++result.closed_by_server;
      else if (c.fd >= 0)
        ++result.still_open;
      if (c.goodbye)
        ++result.goodbyes;
      close_conn(c);
    }
    return result;
  }
};

constexpr std::uint8_t kind_hello = 1;
constexpr std::uint8_t kind_request = 5;
constexpr std::uint8_t basp_client_handshake = 1;

// A header claiming `payload` bytes after it, in the target's protocol.
std::vector<char> claim(const target& t, std::uint32_t payload) {
  if (t.kind == proto::framed)
    return framed_header(kind_request, 1, payload > 0xFFFFFFFFu - 16 ? 0xFFFFFFFFu : payload + 16);
  return basp_header(basp_client_handshake, payload, 0);
}

int count(const pattern_options& o, int fallback) {
  return o.connections > 0 ? o.connections : fallback;
}

pattern_result oversize(const target& t, const pattern_options& o) {
  run_state s{t, {}, {}};
  s.conns.reserve(static_cast<std::size_t>(count(o, 3)));
  for (int i = 0; i < count(o, 3); ++i)
    if (auto* c = s.open())
      send_all(*c, claim(t, 0x80000000u));  // 2 GiB
  s.last_send = clock_type::now();
  s.watch(s.last_send + o.hold);
  return s.finish();
}

pattern_result negative(const target& t, const pattern_options& o) {
  run_state s{t, {}, {}};
  // Framed: lengths that cannot even hold the header, and -1 as a u32.
  const std::uint32_t lengths[] = {0, 1, 15, 0xFFFFFFFFu, 0x80000001u};
  s.conns.reserve(static_cast<std::size_t>(count(o, 5)));
  for (int i = 0; i < count(o, 5); ++i)
    if (auto* c = s.open()) {
      auto len = lengths[static_cast<std::size_t>(i) % 5];
      if (t.kind == proto::framed)
        send_all(*c, framed_header(kind_request, 1, len));
      else
        send_all(*c, basp_header(basp_client_handshake, len, 0));
    }
  s.last_send = clock_type::now();
  s.watch(s.last_send + o.hold);
  return s.finish();
}

pattern_result truncated(const target& t, const pattern_options& o) {
  run_state s{t, {}, {}};
  const int n = count(o, 50);
  s.conns.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    if (auto* c = s.open()) {
      auto bytes = claim(t, 1000);
      bytes.insert(bytes.end(), 10, 'x');
      send_all(*c, bytes);
      if (i % 2 == 0)
        close_conn(*c);  // truncated, then gone
    }
  s.last_send = clock_type::now();
  s.watch(s.last_send + o.hold);
  auto r = s.finish();
  r.note = "half closed at once, half held";
  return r;
}

pattern_result random_bytes(const target& t, const pattern_options& o) {
  run_state s{t, {}, {}};
  std::mt19937_64 rng{o.seed};
  const int n = count(o, 200);
  s.conns.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    if (auto* c = s.open()) {
      std::vector<char> bytes(100);
      for (auto& b : bytes)
        b = static_cast<char>(rng());
      send_all(*c, bytes);
    }
  s.last_send = clock_type::now();
  // Give the server a moment to act on what it read, then reset everything.
  s.watch(s.last_send + std::chrono::milliseconds{500});
  int resets = 0;
  for (auto& c : s.conns)
    if (!c.closed) {
      reset(c);
      ++resets;
    }
  auto r = s.finish();
  r.note = std::to_string(resets) + " reset by us";
  std::this_thread::sleep_for(o.hold);  // the broker's memory is sampled meanwhile
  return r;
}

pattern_result slowloris(const target& t, const pattern_options& o) {
  run_state s{t, {}, {}};
  std::vector<char> frame;
  if (t.kind == proto::framed) {
    frame = framed_hello(0, "slowloris");
  } else {
    frame = basp_header(basp_client_handshake, 100, 0);
    frame.insert(frame.end(), 100, '\0');
  }
  const int n = count(o, 50);
  s.conns.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    s.open();
  const auto start = clock_type::now();
  std::size_t sent = 0;
  while (clock_type::now() - start < o.hold && sent < frame.size()) {
    for (auto& c : s.conns)
      if (!c.closed)
        send_all(c, &frame[sent], 1);
    ++sent;
    s.last_send = clock_type::now();
    s.watch(s.last_send + std::chrono::seconds{1});
  }
  s.watch(start + o.hold);
  auto r = s.finish();
  r.note = std::to_string(sent) + " of " + std::to_string(frame.size()) + " bytes sent per connection";
  return r;
}

pattern_result reset_many(const target& t, const pattern_options& o) {
  run_state s{t, {}, {}};
  const int n = count(o, 500);
  s.conns.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    s.open();
  for (auto& c : s.conns)
    reset(c);
  auto r = s.finish();
  std::this_thread::sleep_for(o.hold);
  return r;
}

pattern_result hellos(const target& t, const pattern_options& o) {
  run_state s{t, {}, {}};
  const int n = count(o, 200);
  s.conns.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    if (auto* c = s.open()) {
      std::vector<char> bytes;
      for (int h = 0; h <= 50; ++h) {
        std::vector<char> one;
        if (t.kind == proto::framed) {
          one = framed_hello(0, "hello-flood-" + std::to_string(i));
        } else {
          one = basp_header(basp_client_handshake, 64, 0);
          one.insert(one.end(), 64, static_cast<char>(h));
        }
        bytes.insert(bytes.end(), one.begin(), one.end());
      }
      send_all(*c, bytes);
    }
  s.last_send = clock_type::now();
  s.watch(s.last_send + o.hold);
  auto r = s.finish();
  r.note = "51 hellos per connection";
  return r;
}

std::vector<char> request_frame(std::uint64_t correlation, capnp::MessageBuilder& message) {
  auto payload = wire::to_bytes(message);
  auto out = framed_header(kind_request, correlation, static_cast<std::uint32_t>(16 + payload.size()));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// Waits until `c` has received `frames` whole frames in all, or closed.
bool await_frames(run_state& s, connection& c, int frames, std::chrono::milliseconds timeout) {
  const auto until = clock_type::now() + timeout;
  while (c.frames < frames && !c.closed && clock_type::now() < until) {
    pollfd p{c.fd, POLLIN, 0};
    if (::poll(&p, 1, 50) > 0)
      drain(c, s.t.kind);
  }
  return c.frames >= frames;
}

// Framed only (BASP: hostile_client uses the client library, client_floods.hpp):
// hello, 4 produces of ~1 MB read back (data to fetch), then `connections`
// fetches of up to 1 MiB each (default 400) whose responses are never read.
pattern_result noread(const target& t, const pattern_options& o) {
  if (t.kind != proto::framed)
    throw std::invalid_argument("noread over raw BASP: use the client library (hostile_client does)");
  run_state s{t, {}, {}};
  s.conns.reserve(1);
  auto* c = s.open();
  if (c == nullptr)
    return s.finish();
  send_all(*c, framed_hello(0, "noread"));
  std::uint64_t correlation = 1;
  std::mt19937_64 rng{o.seed};
  for (int i = 0; i < 4; ++i) {
    std::string value(1'000'000, '\0');
    for (auto& b : value)
      b = static_cast<char>(rng());
    storage::batch_builder batch;
    batch.add(1, std::nullopt, value);
    auto bytes = batch.build();
    capnp::MallocMessageBuilder m;
    auto p = m.initRoot<schema::Request>().initProduce();
    p.setTopic("hostile");
    p.setAcks(schema::Acks::ALL);
    p.setBatch(kj::arrayPtr(reinterpret_cast<const kj::byte*>(bytes.data()), bytes.size()));
    send_all(*c, request_frame(correlation++, m));
  }
  if (!await_frames(s, *c, 5, std::chrono::seconds{30})) {
    auto r = s.finish();
    r.note = "no answer to hello and 4 produces";
    return r;
  }
  capnp::MallocMessageBuilder m;
  auto f = m.initRoot<schema::Request>().initFetch();
  f.setTopic("hostile");
  f.setPartition(0);
  f.setOffset(0);
  f.setMaxBytes(1u << 20);
  const int n = count(o, 400);
  int sent = 0;
  // Non-blocking from here: a server that stops reading us must not stop us.
  ::fcntl(c->fd, F_SETFL, ::fcntl(c->fd, F_GETFL) | O_NONBLOCK);
  for (; sent < n && !c->closed; ++sent) {
    auto frame = request_frame(correlation++, m);
    std::size_t off = 0;
    const auto until = clock_type::now() + std::chrono::seconds{2};
    while (off < frame.size() && clock_type::now() < until) {
      auto w = ::send(c->fd, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
      if (w > 0)
        off += static_cast<std::size_t>(w);
      else if (w < 0 && errno != EAGAIN && errno != EINTR)
        break;
      else
        std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
    if (off < frame.size())
      break;  // the server stopped reading: back-pressure works
  }
  s.last_send = clock_type::now();
  // Hold without reading: watch for a close but read nothing. A server that
  // closes while its responses are still queued to us sends no FIN we could
  // see (it waits behind the data we do not read), so a ping every 500 ms
  // makes its kernel answer with a reset once the socket is gone.
  const auto until = s.last_send + o.hold;
  auto next_ping = clock_type::now();
  while (clock_type::now() < until && !c->closed) {
    if (clock_type::now() >= next_ping) {
      auto ping = framed_header(7, correlation++, 16);
      if (::send(c->fd, ping.data(), ping.size(), MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != EINTR) {
        c->closed = true;
        s.note_close();
        break;
      }
      next_ping += std::chrono::milliseconds{500};
    }
    pollfd p{c->fd, POLLRDHUP, 0};
    if (::poll(&p, 1, 100) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
      c->closed = true;
      s.note_close();
    }
  }
  // Close without reading what is queued for us (finish() would drain it).
  const bool open_at_end = !c->closed;
  close_conn(*c);
  auto r = s.finish();
  r.still_open = open_at_end ? 1 : 0;
  r.note = std::to_string(sent) + " of " + std::to_string(n) + " fetches of up to 1 MiB sent, none read";
  return r;
}

// Sends `bytes` of filler on each connection round-robin, non-blocking, until
// each has sent them all or its socket accepted nothing for 2 s (the server
// stopped reading: back-pressure). Returns the bytes sent per connection, min.
std::uint64_t push_filler(run_state& s, std::uint64_t bytes) {
  std::vector<char> chunk(1 << 16, 'f');
  std::vector<std::uint64_t> sent(s.conns.size(), 0);
  std::vector<clock_type::time_point> progress(s.conns.size(), clock_type::now());
  for (auto& c : s.conns)
    if (c.fd >= 0)
      ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK);
  for (bool busy = true; busy;) {
    busy = false;
    for (std::size_t i = 0; i < s.conns.size(); ++i) {
      auto& c = s.conns[i];
      if (c.fd < 0 || c.closed || sent[i] >= bytes || clock_type::now() - progress[i] > std::chrono::seconds{2})
        continue;
      busy = true;
      drain(c, s.t.kind);  // a goodbye is read before a reset could discard it
      if (c.closed) {
        s.note_close();
        continue;
      }
      auto want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), bytes - sent[i]));
      auto w = ::send(c.fd, chunk.data(), want, MSG_NOSIGNAL);
      if (w > 0) {
        sent[i] += static_cast<std::uint64_t>(w);
        progress[i] = clock_type::now();
      } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        c.closed = true;
        s.note_close();
      }
    }
    if (busy)
      std::this_thread::sleep_for(std::chrono::microseconds{200});
  }
  std::uint64_t least = bytes;
  for (auto v : sent)
    least = std::min(least, v);
  return least;
}

// Pre-handshake frames as large as allowed (64 KiB), each short of its last
// byte, on many connections (default 1000): what the pre-auth limit costs.
pattern_result partial(const target& t, const pattern_options& o) {
  run_state s{t, {}, {}};
  const int n = count(o, 1000);
  s.conns.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    if (auto* c = s.open())
      send_all(*c, t.kind == proto::framed ? framed_header(kind_hello, 0, 64u << 10)
                                           : basp_header(basp_client_handshake, 64u << 10, 0));
  const std::uint64_t body = t.kind == proto::framed ? (64u << 10) - 16 - 1 : (64u << 10) - 1;
  auto least = push_filler(s, body);
  s.last_send = clock_type::now();
  s.watch(s.last_send + o.hold);
  auto r = s.finish();
  r.note = "64 KiB frames short of 1 byte; at least " + std::to_string(least) + " payload bytes sent on each";
  return r;
}

// After the handshake: request frames claiming 64 MiB, sent but for their last
// byte, on several connections at once (default 10): what --max-frame-bytes
// times connections costs unless the broker bounds queued request bytes.
pattern_result bigframes(const target& t, const pattern_options& o) {
  run_state s{t, {}, {}};
  const int n = count(o, 10);
  s.conns.reserve(static_cast<std::size_t>(n));
  constexpr std::uint32_t payload = 64u << 20;
  for (int i = 0; i < n; ++i)
    if (auto* c = s.open()) {
      if (t.kind == proto::framed) {
        send_all(*c, framed_hello(0, "bigframes-" + std::to_string(i)));
        await_frames(s, *c, 1, std::chrono::seconds{10});  // hello_reply: the limit is raised
        send_all(*c, framed_header(kind_request, 1, 16 + payload));
      } else {
        send_all(*c, basp_header(basp_client_handshake, payload, 0));
      }
    }
  auto least = push_filler(s, payload - 1);
  s.last_send = clock_type::now();
  s.watch(s.last_send + o.hold);
  auto r = s.finish();
  r.note = "64 MiB request frames short of 1 byte; at least " + std::to_string(least >> 20) + " MiB sent on each";
  return r;
}

// Framed: hello, then pings as fast as the server takes them, never reading
// a pong (default 4,000,000 pings = 80 MB): the connection actor answers
// pings itself, so only its own caps bound the pongs it queues.
pattern_result pings(const target& t, const pattern_options& o) {
  run_state s{t, {}, {}};
  s.conns.reserve(1);
  auto* c = s.open();
  if (c == nullptr)
    return s.finish();
  send_all(*c, t.kind == proto::framed ? framed_hello(0, "pings") : basp_header(6, 0, 0));
  const int n = count(o, 4'000'000);
  std::vector<char> batch;
  for (int i = 0; i < 4096; ++i) {
    auto one = t.kind == proto::framed ? framed_header(7, static_cast<std::uint64_t>(i) + 1, 16)
                                       : basp_header(6, 0, 0);  // BASP heartbeat
    batch.insert(batch.end(), one.begin(), one.end());
  }
  ::fcntl(c->fd, F_SETFL, ::fcntl(c->fd, F_GETFL) | O_NONBLOCK);
  long long sent = 0;
  auto progress = clock_type::now();
  while (sent < n && !c->closed && clock_type::now() - progress < std::chrono::seconds{2}) {
    auto w = ::send(c->fd, batch.data(), batch.size(), MSG_NOSIGNAL);  // partial sends only shift the framing
    if (w > 0) {
      sent += w / 20;
      progress = clock_type::now();
    } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
      c->closed = true;
      s.note_close();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
  }
  s.last_send = clock_type::now();
  const auto until = s.last_send + o.hold;
  while (clock_type::now() < until && !c->closed) {
    pollfd p{c->fd, POLLRDHUP, 0};
    if (::poll(&p, 1, 100) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
      c->closed = true;
      s.note_close();
    }
  }
  const bool open_at_end = !c->closed;
  close_conn(*c);
  auto r = s.finish();
  r.still_open = open_at_end ? 1 : 0;
  r.note = std::to_string(sent) + " pings sent, no pong read";
  return r;
}

const std::map<std::string, std::function<pattern_result(const target&, const pattern_options&)>>& table() {
  static const std::map<std::string, std::function<pattern_result(const target&, const pattern_options&)>> t{
    {"oversize", oversize}, {"negative", negative}, {"truncated", truncated}, {"random", random_bytes},
    {"slowloris", slowloris}, {"reset", reset_many}, {"hellos", hellos}, {"noread", noread},
    {"partial", partial}, {"bigframes", bigframes}, {"pings", pings},
  };
  return t;
}

} // namespace

std::vector<char> framed_header(std::uint8_t kind, std::uint64_t correlation, std::uint32_t length) {
  std::vector<char> out;
  put_le(out, length, 4);
  out.push_back(static_cast<char>(kind));
  out.push_back(0);      // flags
  put_le(out, 0, 2);     // reserved
  put_le(out, correlation, 8);
  put_le(out, 0, 4);     // throttle_ms
  return out;
}

std::vector<char> framed_hello(std::uint64_t correlation, const std::string& client_id) {
  // A single-segment Cap'n Proto message, built by hand:
  //   segment table: u32 segment count - 1 (0), u32 segment size in words
  //   word 0: root struct pointer, offset 0, 1 data word, 1 pointer
  //   word 1: data: minVersion u16 @0 = 1, maxVersion u16 @2 = 1
  //   word 2: text pointer (list of bytes, offset 0, count = size + NUL)
  //   word 3..: the text, NUL, padding to a word
  const std::size_t text_words = (client_id.size() + 1 + 7) / 8;
  std::vector<char> msg;
  put_le(msg, 0, 4);
  put_le(msg, 3 + text_words, 4);
  put_le(msg, 0, 4);
  put_le(msg, 1, 2);
  put_le(msg, 1, 2);
  put_le(msg, 1, 2);
  put_le(msg, 1, 2);
  put_le(msg, 0, 4);
  put_le(msg, 1, 4);
  put_le(msg, 2u | (static_cast<std::uint32_t>(client_id.size() + 1) << 3), 4);
  msg.insert(msg.end(), client_id.begin(), client_id.end());
  msg.resize(8 + (3 + text_words) * 8, '\0');
  auto out = framed_header(kind_hello, correlation, static_cast<std::uint32_t>(16 + msg.size()));
  out.insert(out.end(), msg.begin(), msg.end());
  return out;
}

std::vector<char> basp_header(std::uint8_t operation, std::uint32_t payload_len, std::uint64_t operation_data) {
  std::vector<char> out;
  out.push_back(static_cast<char>(operation));
  out.push_back(0);  // padding
  out.push_back(0);
  out.push_back(0);  // flags
  put_be(out, payload_len, 4);
  put_be(out, operation_data, 8);
  put_be(out, 0, 8);  // source actor
  put_be(out, 0, 8);  // destination actor
  return out;
}

std::vector<std::string> pattern_names() {
  std::vector<std::string> names;
  for (auto& [name, f] : table())
    names.push_back(name);
  return names;
}

pattern_result run_pattern(const std::string& name, const target& t, const pattern_options& o) {
  auto it = table().find(name);
  if (it == table().end())
    throw std::invalid_argument("unknown pattern: " + name);
  return it->second(t, o);
}

} // namespace herald::hostile
