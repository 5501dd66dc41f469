#include "client/wire_connection.hpp"

#include <memory>
#include <unordered_map>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "client/connector.hpp"
#include "protocol/atoms.hpp"
#include "protocol/errors.hpp"
#include "security/tls_channel.hpp"

namespace herald::client {

namespace {

using bytes = std::vector<char>;
using clock_type = wire_conversation::clock;

// Socket reads are taken in chunks of up to this much.
constexpr std::size_t read_chunk = 256u << 10;
// The connector answers within the connect timeout; this guards a lost helper.
constexpr auto connector_margin = std::chrono::seconds{5};
// A lost connection stays an actor this long, failing at once whatever still
// reaches it, before it exits: CAF 0.17 does not bounce a request sent to an
// io::broker that has exited (the sender waits out its whole timeout), so
// the owner gets the time to stop using it (it is told at once when
// notify_owner is set).
constexpr auto lost_linger = std::chrono::seconds{2};

struct wire_state {
  wire_connection_options options;
  std::unique_ptr<wire_conversation> conversation;
  caf::actor owner;
  caf::io::connection_handle hdl;
  bool connected = false;
  std::unique_ptr<security::tls_channel> tls;  // between the socket and the frames, when on
  std::unordered_map<std::uint64_t, caf::typed_response_promise<bytes>> pending;  // by correlation
  std::vector<caf::typed_response_promise<std::int32_t>> ready_waiters;  // get the node id
  std::optional<clock_type::time_point> timer_at;  // the earliest wire_tick scheduled
  bool ended = false;                              // lost: lingering until it exits
  static inline const char* name = "herald.wire";
};

using self_ptr = caf::io::stateful_broker<wire_state>*;

void pump(self_ptr self);

// --- the socket boundary: every byte in and out passes here ---------------

// What TLS has to send (handshake, records, alerts) goes to the socket.
void flush_tls(self_ptr self) {
  auto& st = self->state;
  auto& buf = self->wr_buf(st.hdl);
  const auto before = buf.size();
  st.tls->take_ciphertext(buf);
  if (buf.size() != before)
    self->flush(st.hdl);
}

void write_socket(self_ptr self, const char* data, std::size_t n) {
  auto& st = self->state;
  if (!st.connected || n == 0)
    return;
  if (st.tls) {
    st.tls->write_plaintext(data, n);  // held until the handshake is done
    flush_tls(self);
    return;
  }
  auto& buf = self->wr_buf(st.hdl);
  buf.insert(buf.end(), data, data + n);
  self->flush(st.hdl);
}

void on_socket_bytes(self_ptr self, const char* data, std::size_t n) {
  auto& st = self->state;
  if (st.ended)
    return;
  if (st.tls) {
    st.tls->feed_ciphertext(data, n);
    flush_tls(self);
    std::vector<char> plain;
    st.tls->take_plaintext(plain);
    if (!plain.empty())
      st.conversation->on_bytes(plain.data(), plain.size(), clock_type::now());
    if (st.tls->failed() && !st.conversation->lost())
      st.conversation->close("TLS: " + st.tls->error());
    pump(self);
    return;
  }
  st.conversation->on_bytes(data, n, clock_type::now());
  pump(self);
}

// ----------------------------------------------------------------------------

void schedule_timer(self_ptr self) {
  auto& st = self->state;
  auto next = st.conversation->next_timer();
  if (!next || (st.timer_at && *st.timer_at <= *next))
    return;  // an earlier tick is already on its way (it reschedules)
  st.timer_at = *next;
  const auto delay = std::max(clock_type::duration::zero(), *next - clock_type::now());
  self->delayed_send(self, std::chrono::duration_cast<std::chrono::microseconds>(delay) + std::chrono::milliseconds{1},
                     wire_tick_atom::value);
}

// Carries out what the conversation decided: bytes to the socket, answers
// to requesters; a lost conversation ends the actor.
void pump(self_ptr self) {
  auto& st = self->state;
  auto& c = *st.conversation;
  if (auto out = c.take_output(); !out.empty())
    write_socket(self, out.data(), out.size());
  for (auto& done : c.take_completions()) {
    auto i = st.pending.find(done.correlation);
    if (i == st.pending.end())
      continue;
    if (done.ok)
      i->second.deliver(std::move(done.response));
    else
      i->second.deliver(make_herald_error(done.code, std::move(done.message)));
    st.pending.erase(i);
  }
  if (c.ready() && !st.ready_waiters.empty()) {
    for (auto& rp : st.ready_waiters)
      rp.deliver(c.node_id());
    st.ready_waiters.clear();
  }
  if (c.lost()) {
    auto reason = make_herald_error(c.lost_code(), c.lost_reason());
    for (auto& rp : st.ready_waiters)
      rp.deliver(reason);
    st.ready_waiters.clear();
    for (auto& [id, rp] : st.pending)  // (the conversation failed them all already)
      rp.deliver(reason);
    st.pending.clear();
    if (!st.ended) {
      st.ended = true;
      spdlog::debug("wire connection to {}:{} ends: {}", st.options.host, st.options.port, c.lost_reason());
      if (st.connected) {
        self->close(st.hdl);
        st.connected = false;
      }
      if (st.options.notify_owner && st.owner)
        self->send(st.owner, wire_lost_atom::value, reason);
      self->delayed_send(self, lost_linger, wire_tick_atom::value);
    }
    return;
  }
  schedule_timer(self);
}

void on_connected(self_ptr self, int fd) {
  auto& st = self->state;
  st.hdl = self->add_scribe(fd);
  st.connected = true;
  if (st.options.tls)
    st.tls = std::make_unique<security::tls_channel>(st.options.tls, st.options.host);
  self->configure_read(st.hdl, caf::io::receive_policy::at_most(read_chunk));
  self->ack_writes(st.hdl, true);
  st.conversation->start(clock_type::now());
  if (st.tls)
    flush_tls(self);  // the ClientHello, even before the hello frame
  pump(self);
}

caf::behavior wire_connection(self_ptr self, wire_connection_options options, caf::actor owner) {
  auto& st = self->state;
  st.options = std::move(options);
  st.options.conversation.broker = st.options.host + ":" + std::to_string(st.options.port);
  st.options.conversation.handshake_timeout_ms = st.options.connect_timeout_ms;
  st.conversation = std::make_unique<wire_conversation>(st.options.conversation, clock_type::now());
  st.owner = std::move(owner);
  if (st.owner)
    self->monitor(st.owner);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == self->state.owner.address())
      self->quit(caf::exit_reason::normal);
  });
  const auto timeout = std::chrono::milliseconds{st.options.connect_timeout_ms};
  self->request(spawn_connector(self->system()), timeout + connector_margin, caf::connect_atom::value,
                st.options.host, st.options.port, st.options.connect_timeout_ms)
    .then(
      [=](owned_fd_ptr& fd) {
        if (!self->state.ended)  // (given up meanwhile: the fd closes with its holder)
          on_connected(self, fd->release());
      },
          [=](caf::error& err) {
            auto d = decode_error(err);
            self->state.conversation->close(d.message);
            pump(self);
          });
  return {
    [=](caf::connect_atom) {
      auto rp = self->make_response_promise<std::int32_t>();
      auto& c = *self->state.conversation;
      if (c.lost())
        rp.deliver(make_herald_error(c.lost_code(), c.lost_reason()));
      else if (c.ready())
        rp.deliver(c.node_id());
      else
        self->state.ready_waiters.push_back(rp);
      return rp;
    },
    [=](request_atom, bytes& request) {
      auto rp = self->make_response_promise<bytes>();
      const auto id = self->state.conversation->submit(std::move(request), clock_type::now());
      self->state.pending.emplace(id, rp);
      pump(self);
      return rp;
    },
    [=](const caf::io::new_data_msg& msg) { on_socket_bytes(self, msg.buf.data(), msg.buf.size()); },
    [=](const caf::io::data_transferred_msg& msg) {
      if (self->state.ended)
        return;
      // Progress through a backlog (a big request draining into a slow
      // link) is life; a small frame the kernel took at once (our own
      // ping) says nothing about the broker.
      if (msg.remaining > 0) {
        self->state.conversation->on_written(clock_type::now());
        pump(self);
      }
    },
    [=](const caf::io::connection_closed_msg&) {
      if (!self->state.connected)
        return;  // (we closed it)
      self->state.connected = false;
      self->state.conversation->close("connection to broker " + self->state.options.conversation.broker +
                                      " closed");
      pump(self);
    },
    [=](wire_tick_atom) {
      if (self->state.ended) {
        self->quit(make_herald_error(self->state.conversation->lost_code(), self->state.conversation->lost_reason()));
        return;
      }
      self->state.timer_at.reset();
      self->state.conversation->on_timer(clock_type::now());
      pump(self);
    },
  };
}

} // namespace

caf::actor spawn_wire_connection(caf::actor_system& system, wire_connection_options options, caf::actor owner) {
  return system.middleman().spawn_broker(wire_connection, std::move(options), std::move(owner));
}

} // namespace herald::client
