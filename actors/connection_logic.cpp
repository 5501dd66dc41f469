#include "actors/connection_logic.hpp"

#include <algorithm>

#include <capnp/message.h>
#include <kj/exception.h>

#include "schema/wire.capnp.h"
#include "schema/wire.hpp"
#include "security/sasl_server.hpp"

namespace herald::actors {

namespace {

using protocol::frame_kind;
using schema::ErrorCode;

std::string ms_text(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

std::vector<char> goodbye_payload(ErrorCode code, const std::string& why) {
  capnp::MallocMessageBuilder builder;
  wire::set_error(builder.initRoot<schema::Goodbye>().initError(), code, why);
  return wire::to_bytes(builder);
}

} // namespace

std::uint64_t queued_bytes_budget::enrol() {
  std::lock_guard lock(mutex_);
  const auto id = next_id_++;
  holders_.emplace(id, holder{});
  return id;
}

void queued_bytes_budget::withdraw(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  holders_.erase(id);
  if (ending_ == id)
    ending_ = 0;
}

void queued_bytes_budget::observe(time_point now) {
  if (!over())
    over_since_.reset();
  else if (!over_since_)
    over_since_ = now;
}

void queued_bytes_budget::report(std::uint64_t id, std::uint64_t held, time_point last_progress, bool waiting,
                                 time_point now) {
  std::lock_guard lock(mutex_);
  observe(now);
  auto h = holders_.find(id);
  if (h == holders_.end())
    return;
  h->second = holder{held, last_progress, waiting};
  if (id == ending_ && held == 0)
    ending_ = 0;  // it is closing and holds nothing more to choose by: the next may be chosen
}

bool queued_bytes_budget::should_end(std::uint64_t id, time_point now) {
  std::lock_guard lock(mutex_);
  observe(now);
  if (ending_ != 0 || !over_since_ || now - *over_since_ < stall_grace_)
    return false;
  // The largest holder that made no progress for the grace (ties: the oldest
  // connection), and whether anyone else waits on the budget. Chosen at most
  // every choice_interval: every connection stopped by the budget asks at
  // each tick, and a scan visits them all.
  if (!chosen_at_ || now - *chosen_at_ >= choice_interval) {
    chosen_at_ = now;
    candidate_ = 0;
    const holder* largest = nullptr;
    for (const auto& [hid, h] : holders_) {
      if (h.held == 0 || now - h.last_progress < stall_grace_)
        continue;
      if (!largest || h.held > largest->held || (h.held == largest->held && hid < candidate_)) {
        largest = &h;
        candidate_ = hid;
      }
    }
    candidate_has_company_ = std::any_of(holders_.begin(), holders_.end(), [&](const auto& e) {
      return e.first != candidate_ && e.second.waiting;
    });
  }
  if (candidate_ != id || !candidate_has_company_)
    return false;
  candidate_ = 0;
  ending_ = id;
  return true;
}

std::vector<char> goodbye_frame(std::uint16_t code, const std::string& why) {
  return protocol::encode_frame(frame_kind::goodbye, 0, 0, goodbye_payload(static_cast<ErrorCode>(code), why));
}

connection_logic::connection_logic(connection_limits limits, std::int32_t node_id, time_point now,
                                   std::shared_ptr<queued_bytes_budget> budget)
  : limits_(limits),
    node_id_(node_id),
    budget_(std::move(budget)),
    reader_(protocol::pre_auth_max_frame),
    connected_at_(now),
    last_received_(now),
    last_write_progress_(now),
    now_(now),
    resumed_at_(now),
    last_progress_(now) {
  if (budget_)
    budget_id_ = budget_->enrol();
}

void connection_logic::require_sasl(security::sasl_server server) {
  sasl_ = std::make_unique<security::sasl_server>(std::move(server));
  sasl_required_ = true;
}

connection_logic::~connection_logic() {
  // Requests still in flight when the connection goes leave the broker-wide
  // count with it (their responses will find no connection).
  if (budget_) {
    budget_->remove(accounted_);
    budget_->withdraw(budget_id_);
  }
}

std::chrono::milliseconds connection_logic::tick_interval() const {
  using std::chrono::milliseconds;
  if (paused_)
    return milliseconds{50};  // resume promptly when a throttle or the budget ends
  auto shortest = std::min({limits_.handshake_timeout, limits_.frame_timeout, limits_.idle_timeout});
  return std::clamp(shortest / 4, milliseconds{10}, milliseconds{1000});
}

void connection_logic::emit(actions& out, frame_kind kind, std::uint64_t correlation, std::uint32_t throttle_ms,
                            const std::vector<char>& payload) {
  const auto before = out.write.size();
  protocol::append_frame(out.write, kind, correlation, throttle_ms, payload);
  if (unwritten_bytes_ == 0)
    last_write_progress_ = now_;  // the stall clock starts with the first unwritten byte
  unwritten_bytes_ += out.write.size() - before;
}

void connection_logic::goodbye(std::uint16_t code, const std::string& why, actions& out) {
  if (closing_)
    return;
  emit(out, frame_kind::goodbye, 0, 0, goodbye_payload(static_cast<ErrorCode>(code), why));
  closing_ = true;
  out.close = true;
  out.close_reason = why;
}

void connection_logic::on_bytes(const char* data, std::size_t n, time_point now, actions& out) {
  if (closing_)
    return;
  now_ = now;
  last_received_ = now;
  if (n > 0)
    last_progress_ = now;
  reader_.feed(data, n, now);
  protocol::frame f;
  while (!closing_) {
    auto st = reader_.poll(f);
    if (st == protocol::frame_reader::status::need_more)
      break;
    if (st == protocol::frame_reader::status::error) {
      goodbye(static_cast<std::uint16_t>(ErrorCode::INVALID_REQUEST), reader_.error(), out);
      break;
    }
    handle(f, now, out);
  }
  update_read_state(now);
}

void connection_logic::on_hello(const protocol::frame& f, actions& out) {
  std::uint16_t min_version = 0, max_version = 0;
  try {
    wire::message_reader reader(f.payload);
    auto hello = reader.root<schema::Hello>();
    min_version = hello.getMinVersion();
    max_version = hello.getMaxVersion();
  } catch (const kj::Exception& e) {
    goodbye(static_cast<std::uint16_t>(ErrorCode::INVALID_REQUEST),
            std::string{"malformed hello: "} + e.getDescription().cStr(), out);
    return;
  }
  capnp::MallocMessageBuilder builder;
  auto reply = builder.initRoot<schema::HelloReply>();
  reply.setNodeId(node_id_);
  reply.setMaxFrameBytes(limits_.max_frame_bytes);
  if (min_version > protocol::protocol_version || max_version < protocol::protocol_version ||
      min_version > max_version) {
    auto why = "the client speaks protocol versions " + std::to_string(min_version) + ".." +
               std::to_string(max_version) + ", this broker only " + std::to_string(protocol::protocol_version);
    wire::set_error(reply.initError(), ErrorCode::UNSUPPORTED_VERSION, why);
    emit(out, frame_kind::hello_reply, 0, 0, wire::to_bytes(builder));
    goodbye(static_cast<std::uint16_t>(ErrorCode::UNSUPPORTED_VERSION), why, out);
    return;
  }
  const std::string principal = transport_principal_.empty() ? "User:ANONYMOUS" : transport_principal_;
  wire::set_error(reply.initError(), ErrorCode::NONE, "");
  reply.setVersion(protocol::protocol_version);
  reply.setPrincipal(principal);
  if (sasl_required_) {
    const auto& mechanisms = sasl_->mechanisms();
    auto list = reply.initSaslMechanisms(static_cast<unsigned>(mechanisms.size()));
    for (unsigned i = 0; i < mechanisms.size(); ++i)
      list.set(i, mechanisms[i]);
    emit(out, frame_kind::hello_reply, 0, 0, wire::to_bytes(builder));
    phase_ = phase::authenticating;  // frames stay at pre_auth_max_frame
    return;
  }
  reply.initSaslMechanisms(0);
  emit(out, frame_kind::hello_reply, 0, 0, wire::to_bytes(builder));
  phase_ = phase::ready;
  reader_.set_max_length(limits_.max_frame_bytes);
  out.authenticated = principal;
}

void connection_logic::on_sasl(const protocol::frame& f, actions& out) {
  const auto failed = static_cast<std::uint16_t>(ErrorCode::AUTHENTICATION_FAILED);
  if (phase_ == phase::awaiting_hello) {
    goodbye(failed, "sasl before hello", out);
    return;
  }
  if (phase_ == phase::ready) {
    goodbye(failed, "sasl after authentication completed", out);
    return;
  }
  security::sasl_outcome r;
  try {
    wire::message_reader reader(f.payload);
    auto step = reader.root<schema::SaslStep>();
    auto payload = step.getPayload();
    r = sasl_->step(step.getMechanism().cStr(), {reinterpret_cast<const char*>(payload.begin()), payload.size()});
  } catch (const kj::Exception& e) {
    goodbye(static_cast<std::uint16_t>(ErrorCode::INVALID_REQUEST),
            std::string{"malformed sasl step: "} + e.getDescription().cStr(), out);
    return;
  }
  capnp::MallocMessageBuilder builder;
  auto reply = builder.initRoot<schema::SaslReply>();
  wire::set_error(reply.initError(), r.ok() ? ErrorCode::NONE : ErrorCode::AUTHENTICATION_FAILED, r.error);
  reply.setPayload(kj::arrayPtr(reinterpret_cast<const kj::byte*>(r.reply.data()), r.reply.size()));
  reply.setDone(r.done);
  reply.setPrincipal(r.principal);
  emit(out, frame_kind::sasl_reply, f.correlation, 0, wire::to_bytes(builder));
  if (!r.ok()) {
    goodbye(failed, r.error, out);
    out.close_reason = "authentication failed: " + r.log_detail;  // names the real cause; the client's does not
    return;
  }
  if (r.done) {
    sasl_.reset();
    phase_ = phase::ready;
    reader_.set_max_length(limits_.max_frame_bytes);
    out.authenticated = r.principal;
  }
}

void connection_logic::handle(protocol::frame& f, time_point, actions& out) {
  const auto invalid = static_cast<std::uint16_t>(ErrorCode::INVALID_REQUEST);
  switch (f.kind) {
    case frame_kind::ping:
      emit(out, frame_kind::pong, f.correlation, 0, {});
      return;
    case frame_kind::pong:
      return;  // harmless: the server sends no pings today
    case frame_kind::hello:
      if (phase_ != phase::awaiting_hello)
        goodbye(invalid, "a second hello on the same connection", out);
      else
        on_hello(f, out);
      return;
    case frame_kind::sasl:
      if (sasl_required_)
        on_sasl(f, out);
      else
        goodbye(invalid, "this listener offers no SASL mechanism (see saslMechanisms in hello_reply)", out);
      return;
    case frame_kind::request:
      break;
    default:
      goodbye(invalid, std::string{"a client does not send "} + protocol::to_string(f.kind) + " frames", out);
      return;
  }
  if (phase_ != phase::ready) {
    if (sasl_required_)
      goodbye(static_cast<std::uint16_t>(ErrorCode::AUTHENTICATION_FAILED),
              "request before authentication: this listener requires SASL (see saslMechanisms in hello_reply)", out);
    else
      goodbye(invalid, "request before hello", out);
    return;
  }
  // The session decodes the request fully; here only whether it is a Cap'n
  // Proto message at all (segment table and root), so garbage ends the
  // connection instead of reaching the broker.
  std::uint64_t response_reserve = 0;
  try {
    wire::message_reader reader(f.payload);
    auto request = reader.root<schema::Request>();
    if (request.which() == schema::Request::FETCH)
      response_reserve = std::min<std::uint64_t>(request.getFetch().getMaxBytes(), limits_.max_frame_bytes);
  } catch (const kj::Exception& e) {
    goodbye(invalid, std::string{"malformed request payload: "} + e.getDescription().cStr(), out);
    return;
  }
  if (inflight_requests_ >= limits_.max_inflight_requests) {
    emit(out, frame_kind::response, f.correlation, 0,
         wire::error_response(ErrorCode::THROTTLED, "too many requests in flight on this connection (" +
                                                      std::to_string(limits_.max_inflight_requests) + ")"));
    return;
  }
  ++inflight_requests_;
  held_bytes_ += f.payload.size();
  held_.push_back({f.correlation, std::move(f.payload), response_reserve});
  forward_held(out);
}

void connection_logic::forward_held(actions& out) {
  sync_budget();
  while (!held_.empty() && !closing_) {
    // Over the broker's budget nothing new is started, except one request
    // of a connection that has none out: whoever fills the budget (partial
    // frames, unread responses) holds bytes and waits, a client that holds
    // nothing is still served.
    const bool nothing_out = forwarded_ == 0 && unwritten_bytes_ == 0;
    if (budget_ && budget_->over() && !nothing_out)
      return;
    const auto& next = held_.front();
    const auto own = (closing_ ? 0 : reader_.buffered_bytes()) + held_bytes_ + forwarded_accounted_ + unwritten_bytes_;
    // One request always goes when none is out, whatever it may bring.
    if (!nothing_out && own + next.reserve > limits_.max_inflight_bytes)
      return;
    held_bytes_ -= next.payload.size();
    ++forwarded_;
    forwarded_accounted_ += next.payload.size() + next.reserve;
    out.requests.push_back(std::move(held_.front()));
    held_.pop_front();
    sync_budget();
  }
}

void connection_logic::on_response(std::uint64_t correlation, std::size_t request_bytes, std::vector<char> response,
                                   std::uint32_t throttle_ms, time_point now, actions& out, std::uint64_t reserve) {
  if (inflight_requests_ > 0)
    --inflight_requests_;
  if (forwarded_ > 0)
    --forwarded_;
  forwarded_accounted_ -= std::min<std::uint64_t>(request_bytes + reserve, forwarded_accounted_);
  if (closing_) {
    sync_budget();
    return;
  }
  now_ = now;
  last_received_ = std::max(last_received_, now);  // idle counts from the last activity either way
  emit(out, frame_kind::response, correlation, throttle_ms, response);
  if (throttle_ms > 0)
    muted_until_ = std::max(muted_until_, now + std::chrono::milliseconds{throttle_ms});
  sync_budget();
  forward_held(out);
  update_read_state(now);
}

void connection_logic::on_written(std::size_t n, time_point now, actions& out) {
  unwritten_bytes_ -= std::min<std::uint64_t>(n, unwritten_bytes_);
  last_write_progress_ = now;
  if (n > 0)
    last_progress_ = std::max(last_progress_, now);
  sync_budget();
  forward_held(out);
  update_read_state(now);
}

void connection_logic::on_tick(time_point now, actions& out) {
  now_ = now;
  on_tick_checks(now, out);
  sync_budget();
  forward_held(out);  // the broker-wide budget may have freed
  update_read_state(now);
}

void connection_logic::on_tick_checks(time_point now, actions& out) {
  if (closing_) {
    // The goodbye itself may never drain (a client that does not read).
    if (unwritten_bytes_ > 0 && now - last_write_progress_ >= limits_.frame_timeout)
      out.close = true;
    return;
  }
  update_read_state(now);
  const auto timeout = static_cast<std::uint16_t>(ErrorCode::TIMEOUT);
  if (unwritten_bytes_ > 0 && now - last_write_progress_ >= limits_.frame_timeout) {
    // A client that does not read its responses: a goodbye would not drain either.
    closing_ = true;
    out.close = true;
    out.close_reason = "the client read none of " + std::to_string(unwritten_bytes_) + " response bytes for " +
                       ms_text(limits_.frame_timeout);
    return;
  }
  // The broker-wide budget is full and others wait on it: the largest holder
  // without progress goes now rather than at its own timeout.
  if (budget_ && budget_->should_end(budget_id_, now)) {
    const bool reads_nothing = unwritten_bytes_ > 0;
    const auto held = inflight_bytes();
    goodbye(static_cast<std::uint16_t>(ErrorCode::THROTTLED),
            "the broker's memory for clients (" + std::to_string(budget_->limit()) +
              " bytes) is full and other clients wait; this connection holds the most of it (" +
              std::to_string(held) + " bytes) with no progress for " + ms_text(budget_->stall_grace()),
            out);
    out.abort = reads_nothing;
    return;
  }
  if (phase_ != phase::ready && now - connected_at_ >= limits_.handshake_timeout) {
    goodbye(timeout, "handshake not complete within " + ms_text(limits_.handshake_timeout), out);
    return;
  }
  // The slowloris clock stops only while this connection's own cap or
  // throttle keeps it from being read: under the broker-wide budget it runs
  // on, since partial frames may be what fills the budget.
  if (auto since = reader_.incomplete_since(); since && !self_paused_) {
    auto start = std::max(*since, resumed_at_);
    if (now - start >= limits_.frame_timeout) {
      goodbye(timeout, "frame incomplete after " + ms_text(limits_.frame_timeout) + " (" +
                         std::to_string(reader_.buffered_bytes()) + " bytes received)", out);
      return;
    }
  }
  if (phase_ == phase::ready && inflight_requests_ == 0 && unwritten_bytes_ == 0 && !reader_.incomplete_since() &&
      now - last_received_ >= limits_.idle_timeout) {
    goodbye(timeout, "idle for " + ms_text(limits_.idle_timeout), out);
  }
}

std::uint64_t connection_logic::inflight_bytes() const {
  return (closing_ ? 0 : reader_.buffered_bytes()) + held_bytes_ + forwarded_accounted_ + unwritten_bytes_;
}


void connection_logic::sync_budget() {
  if (!budget_)
    return;
  // Reserved response bytes count too: what the broker may have to hold
  // for this connection soon, not just what it holds now.
  const auto now_held = inflight_bytes();
  if (now_held > accounted_)
    budget_->add(now_held - accounted_);
  else if (now_held < accounted_)
    budget_->remove(accounted_ - now_held);
  accounted_ = now_held;
}

void connection_logic::update_read_state(time_point now) {
  sync_budget();
  const bool self_pause = inflight_bytes() >= limits_.max_inflight_bytes || now < muted_until_;
  if (self_paused_ && !self_pause)
    resumed_at_ = now;
  self_paused_ = self_pause;
  // The same under the broker-wide budget: only connections that hold bytes stop reading.
  paused_ = self_pause || (budget_ && budget_->over() && inflight_bytes() > 0);
  if (budget_) {
    // Waiting: the budget alone is what stops this connection.
    const bool waiting = !closing_ && !self_pause && budget_->over() && inflight_bytes() > 0;
    // What only its client can move: the rest of a frame it started, the
    // responses it has not read. Requests at the broker (and their fetch
    // reserves) are not its fault: a consumer whose long poll waits is never chosen.
    const auto client_held = closing_ ? 0 : reader_.buffered_bytes() + unwritten_bytes_;
    budget_->report(budget_id_, client_held, last_progress_, waiting, now);
  }
}

} // namespace herald::actors
