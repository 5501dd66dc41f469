#include "tests/hostile/client_floods.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <random>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "client/actors.hpp"
#include "client/wire_connection.hpp"
#include "protocol/atoms.hpp"
#include "protocol/client_system.hpp"
#include "schema/wire.hpp"
#include "storage/record_batch.hpp"

namespace herald::hostile {

namespace {

// open_session, over TLS when tls_ca names the CA to trust (the broker's
// certificate must name `host`).
caf::expected<caf::actor> open(caf::actor_system& system, const std::string& host, std::uint16_t port,
                               const caf::actor& owner, const std::string& tls_ca) {
  if (tls_ca.empty())
    return client::open_session(system, host, port, owner);
  client::wire_connection_options options;
  options.host = host;
  options.port = port;
  security::tls_client_options tls;
  tls.ca_file = tls_ca;
  std::string error;
  options.tls = security::tls_context::make_client(tls, error);
  if (!options.tls)
    return caf::make_error(caf::sec::runtime_error, error);
  auto connection = client::spawn_wire_connection(system, options, owner);
  caf::scoped_actor self{system};
  caf::expected<caf::actor> session{caf::sec::runtime_error};
  self->request(connection, std::chrono::milliseconds{2 * options.connect_timeout_ms} + std::chrono::seconds{5},
                caf::connect_atom::value)
    .receive([&](std::int32_t) { session = connection; }, [&](caf::error& err) { session = std::move(err); });
  if (!session)
    caf::anon_send_exit(connection, caf::exit_reason::user_shutdown);
  return session;
}

// A TCP proxy on 127.0.0.1 in front of the broker. Client bytes always pass;
// broker bytes pass until stop_reading_broker is set, after which the proxy
// reads nothing more from the broker: to the broker this is a client that
// does not read its responses.
class proxy {
public:
  proxy(const std::string& host, std::uint16_t port) : host_(host), port_(port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("proxy: cannot listen");
    local_port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~proxy() {
    stop_ = true;
    thread_.join();
    for (auto& p : pairs_) {
      ::close(p.client);
      ::close(p.broker);
    }
    ::close(listen_fd_);
  }
  std::uint16_t port() const { return local_port_; }
  std::atomic<bool> stop_reading_broker{false};

private:
  struct pair {
    int client;
    int broker;
  };

  int connect_broker() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    ::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  static bool forward(int from, int to) {
    char buf[65536];
    auto n = ::recv(from, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
      return false;
    for (ssize_t off = 0; off < n;) {
      auto w = ::send(to, buf + off, static_cast<std::size_t>(n - off), MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR || errno == EAGAIN)
          continue;
        return false;
      }
      off += w;
    }
    return true;
  }

  void loop() {
    while (!stop_) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      for (auto& p : pairs_) {
        fds.push_back({p.client, POLLIN, 0});
        fds.push_back({p.broker, static_cast<short>(stop_reading_broker ? 0 : POLLIN), 0});
      }
      if (::poll(fds.data(), fds.size(), 50) <= 0)
        continue;
      if (fds[0].revents & POLLIN) {
        int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          int b = connect_broker();
          if (b < 0)
            ::close(c);
          else
            pairs_.push_back({c, b});
        }
      }
      for (std::size_t i = 0; i + 1 < fds.size() && i / 2 < pairs_.size(); i += 2) {
        auto& p = pairs_[i / 2];
        if (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR))
          forward(p.client, p.broker);
        if (!stop_reading_broker && (fds[i + 2].revents & (POLLIN | POLLHUP | POLLERR)))
          forward(p.broker, p.client);
      }
    }
  }

  std::string host_;
  std::uint16_t port_;
  int listen_fd_ = -1;
  std::uint16_t local_port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<pair> pairs_;
  std::thread thread_;
};

std::vector<char> produce_request(const std::string& topic, std::size_t value_bytes, std::uint64_t seed) {
  std::mt19937_64 rng{seed};
  std::string value(value_bytes, '\0');
  for (auto& c : value)
    c = static_cast<char>(rng());
  storage::batch_builder b;
  b.add(1, std::nullopt, value);
  auto batch = b.build();
  capnp::MallocMessageBuilder builder;
  auto p = builder.initRoot<schema::Request>().initProduce();
  p.setTopic(topic);
  p.setAcks(schema::Acks::ALL);
  p.setBatch(kj::arrayPtr(reinterpret_cast<const kj::byte*>(batch.data()), batch.size()));
  return wire::to_bytes(builder);
}

std::vector<char> fetch_request(const std::string& topic, std::uint32_t max_bytes) {
  capnp::MallocMessageBuilder builder;
  auto f = builder.initRoot<schema::Request>().initFetch();
  f.setTopic(topic);
  f.setPartition(0);
  f.setOffset(0);
  f.setMaxBytes(max_bytes);
  f.setMaxWaitMs(0);
  return wire::to_bytes(builder);
}

} // namespace

flood_result run_noread(const std::string& host, std::uint16_t port, int count, std::chrono::milliseconds hold,
                        const std::string& tls_ca) {
  flood_result result;
  caf::actor_system_config cfg;
  configure_client_system(cfg);
  caf::actor_system system{cfg};
  caf::scoped_actor self{system};
  proxy px{host, port};
  auto session = open(system, "127.0.0.1", px.port(), caf::actor_cast<caf::actor>(self), tls_ca);
  if (!session) {
    result.note = "cannot connect: " + system.render(session.error());
    return result;
  }
  // Data to fetch: 4 batches of ~1000 KB of random bytes in partition 0 of
  // topic "hostile" (which the caller created), read while we still read.
  const std::string topic = "hostile";
  for (int i = 0; i < 4; ++i) {
    bool stored = false;
    self->request(*session, std::chrono::seconds{30}, request_atom::value, produce_request(topic, 1'000'000, i))
      .receive(
        [&](std::vector<char>& r) {
          wire::message_reader reader(r);
          auto e = reader.root<schema::Response>().getError();
          stored = e.getCode() == schema::ErrorCode::NONE;
          if (!stored)
            result.note = std::string("produce: ") + wire::to_string(e.getCode()) + " " + e.getMessage().cStr();
        },
        [&](caf::error& e) { result.note = "produce: " + system.render(e); });
    if (!stored)
      return result;
  }
  px.stop_reading_broker = true;
  auto fetch = fetch_request(topic, 1 << 20);
  for (int i = 0; i < count; ++i) {
    self->send(*session, request_atom::value, fetch);
    ++result.sent;
  }
  std::this_thread::sleep_for(hold);  // the broker's memory is sampled meanwhile
  result.ok = true;
  result.note = std::to_string(result.sent) + " fetches of up to 1 MiB never read";
  self->send_exit(*session, caf::exit_reason::user_shutdown);
  return result;
}

flood_result run_sessions(const std::string& host, std::uint16_t port, int count, std::chrono::milliseconds hold,
                          const std::string& tls_ca) {
  flood_result result;
  caf::actor_system_config cfg;
  configure_client_system(cfg);
  caf::actor_system system{cfg};
  caf::scoped_actor self{system};
  std::vector<caf::actor> sessions;
  for (int i = 0; i < count; ++i) {
    auto s = open(system, host, port, caf::actor_cast<caf::actor>(self), tls_ca);
    if (!s) {
      result.note = "session " + std::to_string(i) + ": " + system.render(s.error());
      break;
    }
    sessions.push_back(*s);
    ++result.sent;
  }
  std::this_thread::sleep_for(hold);
  result.ok = result.sent > 0;
  if (result.note.empty())
    result.note = std::to_string(result.sent) + " sessions held";
  return result;
}

} // namespace herald::hostile
