#include "client/connector.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <caf/all.hpp>

#include "protocol/errors.hpp"

namespace herald::client {

owned_fd::~owned_fd() {
  if (fd_ >= 0)
    ::close(fd_);
}

namespace {

using clock_type = std::chrono::steady_clock;

// One address: connect(2) non-blocking, then poll until writable or the
// deadline. Returns the fd, or -1 with `why` set.
int try_address(const addrinfo& ai, clock_type::time_point deadline, std::string& why) {
  const int fd = ::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0) {
    why = std::string{"socket: "} + std::strerror(errno);
    return -1;
  }
  if (::connect(fd, ai.ai_addr, ai.ai_addrlen) != 0 && errno != EINPROGRESS) {
    why = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
    if (left <= 0) {
      why = "timed out";
      ::close(fd);
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      why = std::string{"poll: "} + std::strerror(errno);
      ::close(fd);
      return -1;
    }
    if (n == 0)
      continue;  // the deadline check above ends it
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      err = errno;
    if (err != 0) {
      why = std::strerror(err);
      ::close(fd);
      return -1;
    }
    // Requests are small frames written at once: do not let Nagle hold them.
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
}

} // namespace

connect_result connect_with_timeout(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const auto service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    return {-1, "cannot resolve " + host + ": " + ::gai_strerror(rc)};
  std::string why = "no address";
  int fd = -1;
  for (auto* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next)
    fd = try_address(*ai, deadline, why);
  ::freeaddrinfo(found);
  if (fd < 0) {
    if (why == "timed out")
      why += " after " + std::to_string(timeout.count()) + " ms";
    return {-1, why};
  }
  return {fd, {}};
}

namespace {

// A class, not a function: CAF 0.17 mishandles spawning a function that
// takes no arguments besides self (UBSan: a null reference in its init).
class connector : public caf::event_based_actor {
public:
  using caf::event_based_actor::event_based_actor;

  caf::behavior make_behavior() override {
    return {
      [this](caf::connect_atom, const std::string& host, std::uint16_t port,
             std::uint32_t timeout_ms) -> caf::result<owned_fd_ptr> {
        quit();  // one-shot: the answer below is still delivered
        auto r = connect_with_timeout(host, port, std::chrono::milliseconds{timeout_ms});
        if (r.fd < 0)
          return make_herald_error(schema::ErrorCode::PARTITION_UNAVAILABLE,
                                   "cannot connect to " + host + ":" + std::to_string(port) + ": " + r.error);
        return std::make_shared<owned_fd>(r.fd);
      },
    };
  }
};

} // namespace

caf::actor spawn_connector(caf::actor_system& system) {
  // Detached: the blocking connect occupies its own thread, never a
  // scheduler worker or the middleman's.
  return system.spawn<connector, caf::detached>();
}

} // namespace herald::client
