#include "tests/support/frame_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include <capnp/message.h>

#include "schema/wire.capnp.h"
#include "schema/wire.hpp"

namespace herald::test {

using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

int connect_tcp(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
  if (::inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr) != 1)
    return -1;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

frame_client::frame_client(const std::string& address) : fd_(connect_tcp(address)) {
  if (fd_ < 0)
    throw std::runtime_error("cannot connect to " + address);
}

frame_client::~frame_client() {
  if (fd_ >= 0)
    ::close(fd_);
}

void frame_client::send_bytes(const std::vector<char>& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      throw std::runtime_error("send failed");
    off += static_cast<std::size_t>(n);
  }
}

void frame_client::send_frame(protocol::frame_kind kind, std::uint64_t correlation,
                              const std::vector<char>& payload) {
  send_bytes(protocol::encode_frame(kind, correlation, 0, payload));
}

std::size_t frame_client::send_available(const std::vector<char>& bytes, std::size_t offset) {
  while (offset < bytes.size()) {
    auto n = ::send(fd_, bytes.data() + offset, bytes.size() - offset, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0)
      break;
    offset += static_cast<std::size_t>(n);
  }
  return offset;
}

std::optional<protocol::frame> frame_client::next(milliseconds timeout) {
  auto deadline = steady::now() + timeout;
  protocol::frame f;
  for (;;) {
    if (reader_.poll(f) == protocol::frame_reader::status::frame)
      return f;
    if (reader_.failed())
      throw std::runtime_error("bad frame from the broker: " + reader_.error());
    auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
    if (left.count() <= 0 || closed_)
      return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      continue;
    char buf[65536];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      return std::nullopt;
    }
    reader_.feed(buf, static_cast<std::size_t>(n), steady::now());
  }
}

protocol::frame frame_client::expect_next(milliseconds timeout) {
  auto f = next(timeout);
  if (!f)
    throw std::runtime_error(closed_ ? "the broker closed the connection" : "no frame from the broker in time");
  return std::move(*f);
}

bool frame_client::closed_within(milliseconds timeout) {
  while (!closed_ && next(timeout)) {
  }
  return closed_;
}

std::vector<char> hello_payload(const std::string& client_id) {
  capnp::MallocMessageBuilder b;
  auto h = b.initRoot<schema::Hello>();
  h.setMinVersion(1);
  h.setMaxVersion(1);
  h.setClientId(client_id);
  return wire::to_bytes(b);
}

std::vector<char> hello_frame(const std::string& client_id) {
  return protocol::encode_frame(protocol::frame_kind::hello, 0, 0, hello_payload(client_id));
}

} // namespace herald::test
