#include "actors/client_connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/client_connection_fork.hpp"
#include "actors/connection_quota.hpp"
#include "protocol/errors.hpp"
#include "schema/wire.hpp"
#include "security/sasl_server.hpp"
#include "security/tls_channel.hpp"
#include "security/tls_write_ledger.hpp"

namespace herald::actors {

namespace {

using bytes = std::vector<char>;
using conn_tick_atom = caf::atom_constant<caf::atom("hr_ctick")>;
using conn_unmute_atom = caf::atom_constant<caf::atom("hr_cunmut")>;  // a quota throttle ends
// Bytes per socket read, which is also the receive buffer CAF keeps per
// connection: small until the handshake (a hello is ~100 bytes, and
// thousands of idle or hostile connections each hold one), larger after.
constexpr std::size_t read_chunk_before_hello = 4u << 10;
constexpr std::size_t read_chunk = 64u << 10;

struct connection_state {
  std::unique_ptr<connection_logic> logic;
  client_connection_args args;
  caf::io::connection_handle hdl;
  std::string peer;  // HOST:PORT of the client
  caf::actor session;
  std::string principal;  // once authenticated: what quotas are charged to
  bool session_requested = false;
  std::vector<connection_logic::outgoing_request> waiting;  // until the session exists
  bool reading = true;
  bool closing = false;
  bool done = false;  // quit() called
  // TLS between the socket and the frames, when the listener has it.
  std::unique_ptr<security::tls_channel> tls;
  security::tls_write_ledger tls_ledger;  // socket progress -> plaintext written
  std::uint64_t tls_plain_in = 0;          // plaintext handed to the channel
  std::uint64_t tls_plain_accounted = 0;   // ... of which the ledger knows the ciphertext
  bool tls_principal_told = false;
  static inline const char* name = "herald.client_connection";
};

using self_ptr = caf::stateful_actor<connection_state, caf::io::broker>*;

connection_logic::time_point now() {
  return connection_logic::clock::now();
}

// CAF 0.17's default multiplexer numbers a connection handle with its
// socket; checked against the peer's port before anything uses it.
int native_fd(self_ptr self) {
  auto fd = static_cast<int>(self->state.hdl.id());
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (fd < 0 || getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return -1;
  std::uint16_t port = 0;
  if (addr.ss_family == AF_INET)
    port = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  else if (addr.ss_family == AF_INET6)
    port = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return port == self->remote_port(self->state.hdl) ? fd : -1;
}

void set_keepalive(int fd) {
  int on = 1, idle = 60, interval = 10, count = 3;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

void apply(self_ptr self, connection_logic::actions& a);

// --- the socket boundary: every byte in and out passes here (TLS slots in between) ---

void finish(self_ptr self, bool hard);

// Whatever TLS has to send (handshake, records, alerts) to the socket; the
// ledger learns which plaintext it carries.
void flush_tls(self_ptr self) {
  auto& st = self->state;
  auto& buf = self->wr_buf(st.hdl);
  const auto before = buf.size();
  st.tls->take_ciphertext(buf);
  const std::uint64_t encrypted = st.tls_plain_in - st.tls->pending_plaintext();
  st.tls_ledger.sent(encrypted - st.tls_plain_accounted, buf.size() - before);
  st.tls_plain_accounted = encrypted;
  if (buf.size() != before)
    self->flush(st.hdl);
}

void write_socket(self_ptr self, const char* data, std::size_t n) {
  auto& st = self->state;
  if (st.tls) {
    st.tls->write_plaintext(data, n);  // held until the handshake is done
    st.tls_plain_in += n;
    flush_tls(self);
    return;
  }
  self->write(st.hdl, n, data);
  self->flush(st.hdl);
}

void on_socket_bytes(self_ptr self, const char* data, std::size_t n) {
  auto& st = self->state;
  if (!st.tls) {
    connection_logic::actions a;
    st.logic->on_bytes(data, n, now(), a);
    apply(self, a);
    return;
  }
  st.tls->feed_ciphertext(data, n);
  flush_tls(self);
  if (st.tls->failed()) {
    // The alert (if any) is on its way; nothing of this client reached the frames.
    spdlog::info("client {}: TLS refused: {}", st.peer, st.tls->error());
    finish(self, false);
    return;
  }
  if (st.tls->handshake_done() && !st.tls_principal_told) {
    st.tls_principal_told = true;
    auto principal = st.tls->peer_principal();
    spdlog::debug("client {}: {} established, principal {}", st.peer, st.tls->protocol_version(),
                  principal.empty() ? "User:ANONYMOUS (no client certificate)" : principal);
    if (!principal.empty())
      st.logic->set_transport_principal(std::move(principal));
  }
  std::vector<char> plain;
  st.tls->take_plaintext(plain);
  if (plain.empty())
    return;
  connection_logic::actions a;
  st.logic->on_bytes(plain.data(), plain.size(), now(), a);
  apply(self, a);
}

// --- the rest speaks plaintext frames through connection_logic ---

void finish(self_ptr self, bool hard) {
  auto& st = self->state;
  if (hard) {
    // The client reads nothing: a graceful close would wait for ever on the
    // unwritten bytes. Shutting the socket down makes CAF drop them.
    if (auto fd = native_fd(self); fd >= 0)
      shutdown(fd, SHUT_RDWR);
  }
  self->close(st.hdl);
  st.done = true;
  self->quit();
}

void update_reading(self_ptr self) {
  auto& st = self->state;
  const bool want = !st.closing && st.logic->want_read();
  if (want == st.reading)
    return;
  st.reading = want;
  if (want)
    self->trigger(st.hdl);
  else
    self->halt(st.hdl);
}

void on_response(self_ptr self, std::uint64_t correlation, std::size_t request_bytes, std::uint64_t reserve,
                 std::optional<security::quota_kind> charged, bytes response) {
  auto& st = self->state;
  connection_logic::actions a;
  // The quota's pause goes into the frame and mutes reading that long.
  const auto throttle_ms = quota_throttle_ms(st.args.quotas.get(), st.principal, charged, request_bytes,
                                             response.size(), now());
  st.logic->on_response(correlation, request_bytes, std::move(response), throttle_ms, now(), a, reserve);
  apply(self, a);
  // Reading resumes when the throttle ends, not at the next periodic tick
  // (up to a second later: that alone would stretch every pause).
  if (throttle_ms > 0 && !st.done)
    self->delayed_send(self, std::chrono::milliseconds{throttle_ms}, conn_unmute_atom::value);
}

void forward(self_ptr self, connection_logic::outgoing_request r) {
  const auto correlation = r.correlation;
  const auto size = r.payload.size();
  const auto reserve = r.reserve;
  const auto& quotas = self->state.args.quotas;
  const auto charged = quotas && quotas->enabled() ? quota_kind_of(r.payload) : std::nullopt;
  // The session answers every request within its own deadlines (the
  // partition's, plus a margin), so no second timeout here.
  self->request(self->state.session, caf::infinite, request_atom::value, std::move(r.payload))
    .then([=](bytes& response) { on_response(self, correlation, size, reserve, charged, std::move(response)); },
          [=](caf::error& err) {
            auto d = decode_error(err);
            on_response(self, correlation, size, reserve, charged, wire::error_response(d.code, d.message));
          });
}

void start_session(self_ptr self, const std::string& principal) {
  auto& st = self->state;
  st.session_requested = true;
  st.principal = principal;
  self->request(st.args.node, std::chrono::seconds{10}, hello_atom::value, caf::actor_cast<caf::actor>(self),
                principal, st.peer)
    .then(
      [=](caf::actor& session) {
        auto& st = self->state;
        st.session = std::move(session);
        auto waiting = std::move(st.waiting);
        st.waiting.clear();
        for (auto& r : waiting)
          forward(self, std::move(r));
      },
      [=](caf::error& err) {
        spdlog::warn("client {}: no session from the node ({}); closing", self->state.peer, self->system().render(err));
        finish(self, true);
      });
}

void apply(self_ptr self, connection_logic::actions& a) {
  auto& st = self->state;
  if (a.authenticated && !st.session_requested) {
    if (*a.authenticated != "User:ANONYMOUS")
      spdlog::info("client {}: authenticated as {}", st.peer, *a.authenticated);
    self->configure_read(st.hdl, caf::io::receive_policy::at_most(read_chunk));
    start_session(self, *a.authenticated);
  }
  if (!a.write.empty())
    write_socket(self, a.write.data(), a.write.size());
  for (auto& r : a.requests) {
    if (st.session)
      forward(self, std::move(r));
    else
      st.waiting.push_back(std::move(r));
  }
  if (a.close) {
    if (!a.close_reason.empty())
      spdlog::info("client {}: closing: {}", st.peer, a.close_reason);
    if (a.abort) {
      finish(self, true);  // ended for the broker-wide budget; it reads nothing, so nothing waits to drain
      return;
    }
    // Before the TLS handshake is done the goodbye cannot be encrypted, so it
    // would never drain and the close would wait for the write-stall timeout
    // (a silent or stalled TLS client outliving the handshake timeout).
    const bool goodbye_stuck = st.tls && !st.tls->handshake_done();
    if (st.closing || goodbye_stuck || st.logic->unwritten_bytes() == 0) {
      // Nothing left to send, or a second close (the goodbye did not drain).
      finish(self, st.closing || goodbye_stuck);
      return;
    }
    st.closing = true;  // the goodbye drains first (see data_transferred_msg)
  }
  update_reading(self);
}

caf::behavior client_connection(self_ptr self, caf::io::connection_handle hdl, client_connection_args args) {
  auto& st = self->state;
  st.hdl = hdl;
  st.args = std::move(args);
  st.peer = self->remote_addr(hdl) + ":" + std::to_string(self->remote_port(hdl));
  st.logic = std::make_unique<connection_logic>(st.args.limits, st.args.node_id, now(), st.args.budget);
  if (!st.args.sasl_mechanisms.empty())
    st.logic->require_sasl(security::sasl_server(st.args.sasl_mechanisms, st.args.sasl_lookup));
  if (st.args.tls)
    st.tls = std::make_unique<security::tls_channel>(st.args.tls->current());
  if (st.args.keepalive) {
    if (auto fd = native_fd(self); fd >= 0)
      set_keepalive(fd);
    else
      spdlog::warn("client {}: socket not reachable for TCP keepalive", st.peer);
  }
  self->configure_read(hdl, caf::io::receive_policy::at_most(read_chunk_before_hello));
  self->ack_writes(hdl, true);
  self->monitor(st.args.node);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == self->state.args.node)
      finish(self, true);  // the broker is stopping
  });
  self->delayed_send(self, st.logic->tick_interval(), conn_tick_atom::value);
  spdlog::debug("client {}: connected", st.peer);
  return {
    [=](caf::io::new_data_msg& msg) { on_socket_bytes(self, msg.buf.data(), msg.buf.size()); },
    [=](caf::io::data_transferred_msg& msg) {
      auto& st = self->state;
      connection_logic::actions a;
      auto written = static_cast<std::size_t>(msg.written);
      st.logic->on_written(st.tls ? st.tls_ledger.written(written) : written, now(), a);
      if (st.closing && msg.remaining == 0) {
        finish(self, false);
        return;
      }
      apply(self, a);
    },
    [=](caf::io::connection_closed_msg&) {
      spdlog::debug("client {}: disconnected", self->state.peer);
      self->state.done = true;
      self->quit();
    },
    [=](conn_unmute_atom) {
      connection_logic::actions a;
      self->state.logic->on_tick(now(), a);  // re-evaluates the mute; timeouts only fire when due
      apply(self, a);
    },
    [=](conn_tick_atom) {
      connection_logic::actions a;
      self->state.logic->on_tick(now(), a);
      apply(self, a);
      if (self->state.done)
        return;
      self->delayed_send(self, self->state.logic->tick_interval(), conn_tick_atom::value);
    },
  };
}

} // namespace

caf::actor fork_client_connection(caf::io::broker* listener, caf::io::connection_handle hdl,
                                  const client_connection_args& args) {
  return listener->fork(client_connection, hdl, args);
}

} // namespace herald::actors
