#pragma once
// A blocking client of a heraldd's framed client listener for system tests:
// a plain TCP connection speaking protocol/frame.hpp. It sends frames (or any
// bytes, for tests of malformed input), reads the next frame with a deadline
// and notices when the server closed. No doctest and no CAF here: a broken
// stream or a failed connect throws, which fails the calling test case.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/frame.hpp"

namespace herald::test {

// A connected, blocking TCP socket to "IPV4:PORT" (close-on-exec), or -1.
int connect_tcp(const std::string& address);

class frame_client {
public:
  // Connects; throws std::runtime_error if it cannot.
  explicit frame_client(const std::string& address);
  ~frame_client();
  frame_client(const frame_client&) = delete;
  frame_client& operator=(const frame_client&) = delete;

  // Every byte, or std::runtime_error("send failed").
  void send_bytes(const std::vector<char>& bytes);
  void send_frame(protocol::frame_kind kind, std::uint64_t correlation, const std::vector<char>& payload);
  // Sends what the socket takes now without blocking, from `offset` on; the
  // new offset (unchanged when the server reads nothing of ours).
  std::size_t send_available(const std::vector<char>& bytes, std::size_t offset);

  // The next frame, or nullopt when the server closed the connection or
  // nothing came within `timeout`; closed() tells which. Bytes that are no
  // frame (the reader failed) throw.
  std::optional<protocol::frame> next(std::chrono::milliseconds timeout = std::chrono::milliseconds{20'000});
  // The next frame; a close or a timeout throws, saying which.
  protocol::frame expect_next(std::chrono::milliseconds timeout = std::chrono::milliseconds{20'000});

  // Whether the server closed the connection.
  bool closed() const { return closed_; }
  // Reads (and drops) frames until the server closes; false if it did not
  // within `timeout` of the last frame.
  bool closed_within(std::chrono::milliseconds timeout);

private:
  int fd_ = -1;
  bool closed_ = false;
  protocol::frame_reader reader_{protocol::default_max_frame_bytes};
};

// A Hello {minVersion 1, maxVersion 1, clientId}'s payload, and the whole
// frame (correlation 0).
std::vector<char> hello_payload(const std::string& client_id);
std::vector<char> hello_frame(const std::string& client_id);

} // namespace herald::test
