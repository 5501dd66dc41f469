#pragma once
// The client side of one framed connection to a broker (protocol/frame.hpp),
// as decisions without CAF or sockets: the handshake, the requests in flight
// by correlation id, liveness (ping when quiet, lost when silent), the
// broker's throttle, and what every pending request hears when the
// connection is lost. client/wire_connection.cpp is the actor that carries
// these out on a socket; tests drive this class with a fake clock.
//
// Life of a conversation:
//   start()                 the hello frame is queued for writing
//   hello_reply received    ready(): requests held so far go out; the
//                           broker's maxFrameBytes bounds every later request
//   submit(request)         a request frame with a fresh correlation id, or
//                           held (handshake not done, throttled)
//   response received       completion {correlation, response bytes}
//   lost (any reason)       every pending request completes with an error,
//                           and the conversation takes nothing more
// Lost when: the broker says goodbye, sends anything malformed or
// unexpected (a response to no request, a frame of a kind it must not send),
// the hello is not answered within handshake_timeout_ms, nothing at all is
// received for liveness_timeout_ms while requests are in flight (a frozen
// broker, a dead link), or the shell reports the socket closed (close()).
//
// Liveness: while requests are in flight, a
// connection quiet for heartbeat_ms sends a ping; the broker's connection
// actor answers it at once, never behind a partition, so a slow fetch or
// produce keeps the connection alive while a frozen broker does not. Bytes
// the socket takes from us count as life too (a big request draining into a
// slow link), but a frozen broker stops draining once the socket buffers
// fill.
//
// Authentication: when the hello_reply lists SASL mechanisms, the
// conversation runs the SASL rounds (sasl / sasl_reply frames) before it is
// ready; the handshake deadline covers them. A refusal, a broker that cannot
// prove it knows the credential, or no user configured: lost with
// authenticationFailed and the reason.
//
// Throttle: a response with throttle_ms > 0 holds every further request of
// this connection until that much time has passed (Kafka's client does the
// same); responses to requests already in flight are still taken. The
// broker stops reading the socket for as long, so the liveness timeout
// counts from the end of the pause, not from the last byte heard.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "protocol/frame.hpp"
#include "schema/client.capnp.h"

namespace herald::security {
class sasl_client;
}

namespace herald::client {

struct wire_settings {
  std::string broker;                      // HOST:PORT, for messages
  std::string client_id = "herald-client";  // sent in hello (broker logs)
  std::uint32_t handshake_timeout_ms = 5'000;
  std::uint32_t heartbeat_ms = 500;
  std::uint32_t liveness_timeout_ms = 2'000;
  // SASL (security/sasl_client.hpp): used when the broker's hello_reply asks
  // for it; without a user such a broker cannot be used (authenticationFailed).
  std::string sasl_user = {};
  std::string sasl_password = {};
};

class wire_conversation {
public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  // One request's end: its response bytes (ok), or an error.
  struct completion {
    std::uint64_t correlation = 0;
    bool ok = false;
    std::vector<char> response;  // ok: a schema::Response message
    schema::ErrorCode code = schema::ErrorCode::NONE;
    std::string message;
  };

  wire_conversation(wire_settings settings, time_point now);
  ~wire_conversation();
  wire_conversation(wire_conversation&&) noexcept;
  wire_conversation& operator=(wire_conversation&&) noexcept;

  // The socket is connected: queues the hello.
  void start(time_point now);

  // A request (a schema::Request message); returns its correlation id. Its
  // completion comes later, or at once (too large for the broker's limit,
  // or the conversation is already lost).
  std::uint64_t submit(std::vector<char> request, time_point now);

  // Bytes read from the socket.
  void on_bytes(const char* data, std::size_t n, time_point now);
  // The socket took bytes we wrote while more of ours wait behind them
  // (progress through a backlog; not a lone small frame).
  void on_written(time_point now);
  // Time passed: liveness, handshake deadline, throttle expiry.
  void on_timer(time_point now);
  // The socket closed under us, or could not be opened: lost, for `why`
  // (the whole message, e.g. "cannot connect to h:9092: connection refused").
  void close(const std::string& why);

  // What the shell does after each call above.
  std::vector<char> take_output();               // bytes to write to the socket
  std::vector<completion> take_completions();    // answers to deliver
  // When on_timer should run next (nullopt: nothing timed is going on).
  std::optional<time_point> next_timer() const;

  bool ready() const { return ready_; }
  bool lost() const { return lost_; }
  schema::ErrorCode lost_code() const { return lost_code_; }
  const std::string& lost_reason() const { return lost_reason_; }
  std::int32_t node_id() const { return node_id_; }
  std::uint32_t max_frame_bytes() const { return max_frame_bytes_; }
  // The broker's principal for this connection ("" until ready).
  const std::string& principal() const { return principal_; }
  std::size_t in_flight() const { return in_flight_.size(); }
  std::size_t held() const { return held_.size(); }

private:
  struct held_request {
    std::uint64_t correlation;
    std::vector<char> request;
  };

  void on_frame(protocol::frame& f, time_point now);
  void on_hello_reply(const protocol::frame& f, time_point now);
  void on_sasl_reply(const protocol::frame& f, time_point now);
  void send_sasl(const std::string& mechanism, const std::string& payload);
  void become_ready(time_point now);
  void send_request(std::uint64_t correlation, const std::vector<char>& request, time_point now);
  void release_held(time_point now);
  void fail(std::uint64_t correlation, schema::ErrorCode code, std::string message);
  void lose(schema::ErrorCode code, std::string why);
  // Requests wait for the broker: liveness counts from the later of the last
  // byte received and the moment the first of them went out. (The handshake
  // has its own deadline.)
  bool awaiting_broker() const { return ready_ && !in_flight_.empty(); }
  // Where the liveness timeout counts from: the broker reads nothing of this
  // connection until its quota pause ends, so a request sent just before the
  // throttled answer arrived waits unread that long (silence, not a freeze).
  time_point quiet_base() const { return std::max(quiet_since_, throttled_until_); }

  wire_settings settings_;
  protocol::frame_reader reader_;
  std::vector<char> output_;
  std::vector<completion> completions_;
  std::set<std::uint64_t> in_flight_;
  std::deque<held_request> held_;
  std::uint64_t next_correlation_ = 1;
  bool started_ = false;
  bool ready_ = false;
  bool hello_answered_ = false;
  std::unique_ptr<security::sasl_client> sasl_;  // while authenticating
  bool lost_ = false;
  schema::ErrorCode lost_code_ = schema::ErrorCode::NONE;
  std::string lost_reason_;
  std::int32_t node_id_ = -1;
  std::string principal_;
  std::uint32_t max_frame_bytes_ = protocol::pre_auth_max_frame;
  time_point handshake_deadline_{};
  time_point quiet_since_{};               // liveness baseline
  std::optional<time_point> last_ping_;    // sent during the current quiet spell
  time_point throttled_until_{};
};

} // namespace herald::client
