#pragma once
// The decisions of one client connection on the framed listener
// (protocol/frame.hpp), without CAF and without a socket: the connection
// actor (actors/client_connection) feeds it socket bytes, session responses,
// write progress and clock ticks, and carries out what it answers: bytes to
// write, requests to forward, whether to read the socket, whether to close.
// Tests drive it with a fake clock.
//
// Phases: awaiting hello -> (authenticating, when SASL is on: S's hook) ->
// ready. Before ready, frames are limited to pre_auth_max_frame and only
// hello, sasl and ping are accepted; the handshake must finish within
// handshake_timeout. Anything malformed (header, payload, a frame of the wrong
// kind or phase) gets a goodbye that says what, then the connection closes.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocol/frame.hpp"

namespace herald::security {
class sasl_server;
}

namespace herald::actors {

struct connection_limits {
  std::uint32_t max_frame_bytes = protocol::default_max_frame_bytes;  // length-field limit once ready
  std::uint32_t max_inflight_requests = 512;     // beyond: the request is answered `throttled`
  // A frame still arriving, requests not answered and responses not yet
  // written; at or over this the socket is not read until under again.
  std::uint64_t max_inflight_bytes = 80ull << 20;
  std::chrono::milliseconds handshake_timeout{10'000};  // hello (and authentication) complete
  std::chrono::milliseconds frame_timeout{30'000};      // a started frame completes; writes drain
  std::chrono::milliseconds idle_timeout{600'000};      // nothing in flight, nothing received
};

// Bytes the client connections hold in the broker, all together: frames
// still arriving, requests not answered, responses not written, and the
// response bytes reserved for fetches in flight (connection_logic::
// inflight_bytes). While at or over the budget no connection reads its
// socket or forwards a request it has read. Shared by every connection of a
// listener; thread-safe.
//
// So that one client cannot hold everyone else up until its own frame or
// write-stall timeout (30 s by default), the budget also picks a connection
// to end: once it has been over for `stall_grace` while some other
// connection waits on it, the connection holding the most bytes that only
// its client can move (a frame it started, responses it has not read)
// among those whose client neither sent nor read a byte for `stall_grace`
// is told to go (should_end), one at a time. Requests waiting at the broker
// never make a connection a candidate (a consumer's long poll is no stall). Connections enrol and report what they hold; reports and the choice
// take a mutex (once per event of a connection; connections tick at least
// every 50 ms while the budget stops them).
class queued_bytes_budget {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit queued_bytes_budget(std::uint64_t limit, std::chrono::milliseconds stall_grace = std::chrono::milliseconds{1000})
    : limit_(limit), stall_grace_(stall_grace) {}
  void add(std::uint64_t n) { used_.fetch_add(n, std::memory_order_relaxed); }
  void remove(std::uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  bool over() const { return used_.load(std::memory_order_relaxed) >= limit_; }
  std::uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  std::uint64_t limit() const { return limit_; }
  std::chrono::milliseconds stall_grace() const { return stall_grace_; }

  // A connection's handle for report/should_end; withdraw when it goes.
  std::uint64_t enrol();
  void withdraw(std::uint64_t id);
  // What the connection holds now, when it last made progress, and whether
  // the budget is what stops it (it holds bytes and would read or forward).
  void report(std::uint64_t id, std::uint64_t held, time_point last_progress, bool waiting, time_point now);
  // Whether `id` is the connection to end now (see above). True at most once
  // per connection; the next one is chosen only after it is gone.
  bool should_end(std::uint64_t id, time_point now);

private:
  struct holder {
    std::uint64_t held = 0;
    time_point last_progress{};
    bool waiting = false;
  };
  void observe(time_point now);  // with mutex_ held

  std::uint64_t limit_;
  std::chrono::milliseconds stall_grace_;
  std::atomic<std::uint64_t> used_{0};
  std::mutex mutex_;
  std::unordered_map<std::uint64_t, holder> holders_;
  std::uint64_t next_id_ = 1;
  std::optional<time_point> over_since_;
  std::uint64_t ending_ = 0;  // told to go, not yet withdrawn (0: none)
  static constexpr std::chrono::milliseconds choice_interval{20};
  std::optional<time_point> chosen_at_;
  std::uint64_t candidate_ = 0;  // the one to end when it next asks (0: none)
  bool candidate_has_company_ = false;  // someone else waits on the budget
};

// A whole goodbye frame (code: a schema::ErrorCode), for refusals made
// before a connection has its logic (the listener's connection caps).
std::vector<char> goodbye_frame(std::uint16_t code, const std::string& why);

class connection_logic {
public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  // A request to hand to the session actor; its response comes back through
  // on_response with the same correlation, payload size and reserve.
  struct outgoing_request {
    std::uint64_t correlation = 0;
    std::vector<char> payload;  // a client.capnp Request, flat
    std::uint64_t reserve = 0;  // response bytes it may bring (a fetch's maxBytes), for the cap
  };

  // What the shell does after each call, in this order: start a session if
  // `authenticated` is set, write `write`, forward `requests`, then close
  // (gracefully: the written bytes still go out) if `close`.
  struct actions {
    std::vector<char> write;
    std::vector<outgoing_request> requests;
    std::optional<std::string> authenticated;  // the principal: spawn the session now
    bool close = false;
    // With close: close now, dropping unwritten bytes (a client that reads
    // nothing, ended for the broker-wide budget: its goodbye would not drain).
    bool abort = false;
    std::string close_reason;  // for the log
  };

  connection_logic(connection_limits limits, std::int32_t node_id, time_point now,
                   std::shared_ptr<queued_bytes_budget> budget = nullptr);
  ~connection_logic();
  // Before any bytes: clients must authenticate (security/sasl_server.hpp)
  // after the hello; hello_reply lists the server's mechanisms, sasl frames
  // run the exchange, and a request before it is done ends the connection
  // with authenticationFailed, as does a failed exchange (after its
  // sasl_reply, which carries the reason).
  void require_sasl(security::sasl_server server);
  connection_logic(const connection_logic&) = delete;
  connection_logic& operator=(const connection_logic&) = delete;

  void on_bytes(const char* data, std::size_t n, time_point now, actions& out);
  // The principal the transport proved (mTLS: "User:<certificate CN>"),
  // before the hello; without one the connection is User:ANONYMOUS.
  void set_transport_principal(std::string principal) { transport_principal_ = std::move(principal); }
  // The session's answer to a request of `request_bytes` (its payload size)
  // and `reserve` (its outgoing_request::reserve). throttle_ms (the quota's
  // delay) goes into the frame and mutes reading that long.
  void on_response(std::uint64_t correlation, std::size_t request_bytes, std::vector<char> response,
                   std::uint32_t throttle_ms, time_point now, actions& out, std::uint64_t reserve = 0);
  // The socket accepted `n` bytes of what was written.
  // (Requests held back by the connection's cap may be forwarded now.)
  void on_written(std::size_t n, time_point now, actions& out);
  // Timeouts; call at least every tick_interval().
  void on_tick(time_point now, actions& out);

  // Whether the shell should read the socket now (re-ask after every call;
  // a throttle or the broker-wide budget ends at a later tick).
  bool want_read() const { return !paused_ && !closing_; }
  bool closing() const { return closing_; }
  bool ready() const { return phase_ == phase::ready; }
  std::chrono::milliseconds tick_interval() const;

  std::size_t inflight_requests() const { return inflight_requests_; }
  // What the connection's cap counts: a frame still arriving, requests not
  // answered, responses not written, and for each forwarded fetch the
  // response bytes it may bring (its maxBytes), so a client that sends
  // hundreds of fetches and reads nothing cannot make the broker build
  // hundreds of responses: requests past the cap wait here, unforwarded.
  std::uint64_t inflight_bytes() const;
  std::uint64_t unwritten_bytes() const { return unwritten_bytes_; }

private:
  enum class phase { awaiting_hello, authenticating, ready };

  void handle(protocol::frame& f, time_point now, actions& out);
  void on_hello(const protocol::frame& f, actions& out);
  void on_sasl(const protocol::frame& f, actions& out);
  void goodbye(std::uint16_t code, const std::string& why, actions& out);
  void emit(actions& out, protocol::frame_kind kind, std::uint64_t correlation, std::uint32_t throttle_ms,
            const std::vector<char>& payload);
  void update_read_state(time_point now);
  void sync_budget();
  void forward_held(actions& out);
  void on_tick_checks(time_point now, actions& out);

  connection_limits limits_;
  std::int32_t node_id_;
  std::string transport_principal_;
  std::shared_ptr<queued_bytes_budget> budget_;
  protocol::frame_reader reader_;
  phase phase_ = phase::awaiting_hello;
  std::unique_ptr<security::sasl_server> sasl_;  // set by require_sasl; dropped once done
  bool sasl_required_ = false;
  bool closing_ = false;
  time_point connected_at_;
  time_point last_received_;
  // Requests read and not answered: held here (not forwarded yet, see
  // forward_held) or forwarded to the session.
  std::size_t inflight_requests_ = 0;
  std::deque<outgoing_request> held_;
  std::uint64_t held_bytes_ = 0;           // their payload bytes
  std::size_t forwarded_ = 0;
  std::uint64_t forwarded_accounted_ = 0;  // their payload bytes plus reserved response bytes
  std::uint64_t unwritten_bytes_ = 0;
  time_point last_write_progress_;
  time_point now_;  // of the call in progress
  time_point muted_until_{};
  // Reading stopped by us (caps, throttle) pauses the slowloris clock: a
  // frame the server did not read cannot be the client's fault.
  bool paused_ = false;
  bool self_paused_ = false;  // by this connection's own cap or throttle (not the broker-wide budget)
  time_point resumed_at_{};
  std::uint64_t accounted_ = 0;  // what this connection holds in budget_
  std::uint64_t budget_id_ = 0;  // its entry in budget_ (queued_bytes_budget::enrol)
  // Its client sent or read a byte: for the budget's choice.
  time_point last_progress_;
};

} // namespace herald::actors
