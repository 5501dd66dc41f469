#pragma once
// Opening a TCP connection to a broker without blocking any actor.
//
// connect_with_timeout() is the plain, blocking part (CAF-free): resolve
// HOST, then a non-blocking connect(2) to each address in turn, waiting in
// poll(2) at most until the deadline. It is called on a detached helper
// actor (spawn_connector, client/connector.cpp), which hands the connected
// socket back as an owned_fd: an fd nobody took (the requester died while
// the helper connected) is closed when the last reference goes, so no
// socket leaks.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>

namespace herald::client {

struct connect_result {
  int fd = -1;        // connected, non-blocking, TCP_NODELAY; -1 on failure
  std::string error;  // why not, e.g. "connection refused", "timed out after 5000 ms"
};

connect_result connect_with_timeout(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);

// A socket handed from the helper to its requester; closed on destruction
// unless release()d.
class owned_fd {
public:
  explicit owned_fd(int fd) : fd_(fd) {}
  owned_fd(const owned_fd&) = delete;
  owned_fd& operator=(const owned_fd&) = delete;
  ~owned_fd();
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

private:
  int fd_;
};

using owned_fd_ptr = std::shared_ptr<owned_fd>;

// A detached, one-shot helper:
//   (caf::connect_atom, std::string host, std::uint16_t port, std::uint32_t timeout_ms)
//       -> owned_fd_ptr   (or an error in category "herald": partitionUnavailable
//                          with connect_result::error as its message)
// and then it quits.
caf::actor spawn_connector(caf::actor_system& system);

} // namespace herald::client

// Never crosses a network: the helper and its requester share the process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(herald::client::owned_fd_ptr)
