#include "client/wire_conversation.hpp"

#include <algorithm>

#include <capnp/message.h>
#include <kj/exception.h>

#include "schema/wire.capnp.h"
#include "schema/wire.hpp"
#include "security/sasl_client.hpp"

namespace herald::client {

using schema::ErrorCode;
using protocol::frame_kind;

wire_conversation::wire_conversation(wire_settings settings, time_point now)
  : settings_(std::move(settings)), quiet_since_(now) {}
wire_conversation::~wire_conversation() = default;
wire_conversation::wire_conversation(wire_conversation&&) noexcept = default;
wire_conversation& wire_conversation::operator=(wire_conversation&&) noexcept = default;

void wire_conversation::start(time_point now) {
  if (started_ || lost_)
    return;
  started_ = true;
  handshake_deadline_ = now + std::chrono::milliseconds{settings_.handshake_timeout_ms};
  quiet_since_ = now;
  capnp::MallocMessageBuilder builder;
  auto hello = builder.initRoot<schema::Hello>();
  hello.setMinVersion(protocol::protocol_version);
  hello.setMaxVersion(protocol::protocol_version);
  hello.setClientId(settings_.client_id);
  const auto payload = wire::to_bytes(builder);
  protocol::append_frame(output_, frame_kind::hello, 0, 0, payload);
}

std::uint64_t wire_conversation::submit(std::vector<char> request, time_point now) {
  const auto correlation = next_correlation_++;
  if (lost_) {
    fail(correlation, lost_code_, "not sent: " + lost_reason_);
    return correlation;
  }
  held_.push_back({correlation, std::move(request)});
  release_held(now);  // at once unless the handshake or a throttle holds it (in order)
  return correlation;
}

void wire_conversation::send_request(std::uint64_t correlation, const std::vector<char>& request, time_point now) {
  // Over the broker's limit the broker would end the whole connection (and
  // every other request on it): refuse this one here instead.
  if (request.size() > max_frame_bytes_ - protocol::frame_min_length) {
    fail(correlation, ErrorCode::INVALID_REQUEST,
         "request of " + std::to_string(request.size()) + " bytes exceeds broker " + settings_.broker +
           "'s frame limit of " + std::to_string(max_frame_bytes_) + " bytes");
    return;
  }
  if (in_flight_.empty()) {
    quiet_since_ = now;  // something waits for the broker from now on
    last_ping_.reset();
  }
  in_flight_.insert(correlation);
  protocol::append_frame(output_, frame_kind::request, correlation, 0, request);
}

void wire_conversation::release_held(time_point now) {
  while (!held_.empty() && ready_ && !lost_ && now >= throttled_until_) {
    auto h = std::move(held_.front());
    held_.pop_front();
    send_request(h.correlation, h.request, now);
  }
}

void wire_conversation::on_bytes(const char* data, std::size_t n, time_point now) {
  if (lost_ || n == 0)
    return;
  quiet_since_ = now;
  last_ping_.reset();
  reader_.feed(data, n, now);
  protocol::frame f;
  for (;;) {
    const auto status = reader_.poll(f);
    if (status == protocol::frame_reader::status::need_more)
      break;
    if (status == protocol::frame_reader::status::error) {
      lose(ErrorCode::INVALID_REQUEST, "malformed frame from the broker: " + reader_.error());
      return;
    }
    on_frame(f, now);
    if (lost_)
      return;
  }
  release_held(now);
}

void wire_conversation::on_frame(protocol::frame& f, time_point now) {
  switch (f.kind) {
    case frame_kind::hello_reply:
      if (hello_answered_) {
        lose(ErrorCode::INVALID_REQUEST, "a second hello_reply from the broker");
        return;
      }
      hello_answered_ = true;
      on_hello_reply(f, now);
      return;
    case frame_kind::response: {
      if (in_flight_.erase(f.correlation) == 0) {
        lose(ErrorCode::INVALID_REQUEST,
             "the broker answered correlation id " + std::to_string(f.correlation) + ", which no request has");
        return;
      }
      if (f.throttle_ms > 0)
        throttled_until_ = std::max(throttled_until_, now + std::chrono::milliseconds{f.throttle_ms});
      completion c;
      c.correlation = f.correlation;
      c.ok = true;
      c.response = std::move(f.payload);
      completions_.push_back(std::move(c));
      return;
    }
    case frame_kind::ping:
      protocol::append_frame(output_, frame_kind::pong, f.correlation, 0, {});
      return;
    case frame_kind::pong:
      return;  // its arrival already counted as life
    case frame_kind::goodbye: {
      auto code = ErrorCode::PARTITION_UNAVAILABLE;
      std::string why = "goodbye without a reason";
      try {
        wire::message_reader reader(f.payload);
        auto g = reader.root<schema::Goodbye>();
        code = g.getError().getCode();
        why = g.getError().getMessage().cStr();
      } catch (const kj::Exception&) {
        why = "a goodbye that does not decode";
      }
      // A broker that closes for its own reasons (shutdown, idle) leaves
      // requests that another attempt may carry out.
      if (code == ErrorCode::NONE)
        code = ErrorCode::PARTITION_UNAVAILABLE;
      lose(code, "broker " + settings_.broker + " closed the connection: " + why);
      return;
    }
    case frame_kind::sasl_reply:
      if (sasl_) {
        on_sasl_reply(f, now);
        return;
      }
      lose(ErrorCode::INVALID_REQUEST, "a sasl_reply from the broker, but no SASL exchange is going on");
      return;
    case frame_kind::hello:
    case frame_kind::sasl:
    case frame_kind::request:
      lose(ErrorCode::INVALID_REQUEST,
           std::string{"the broker sent a frame a broker never sends: "} + protocol::to_string(f.kind));
      return;
  }
}

void wire_conversation::on_hello_reply(const protocol::frame& f, time_point now) {
  try {
    wire::message_reader reader(f.payload);
    auto r = reader.root<schema::HelloReply>();
    if (r.getError().getCode() != ErrorCode::NONE) {
      lose(r.getError().getCode(), std::string{"broker refused the hello: "} + r.getError().getMessage().cStr());
      return;
    }
    if (r.getVersion() != protocol::protocol_version) {
      lose(ErrorCode::UNSUPPORTED_VERSION,
           "broker chose protocol version " + std::to_string(r.getVersion()) + "; this client speaks " +
             std::to_string(protocol::protocol_version));
      return;
    }
    node_id_ = r.getNodeId();
    max_frame_bytes_ = r.getMaxFrameBytes() >= protocol::frame_min_length ? r.getMaxFrameBytes()
                                                                         : protocol::default_max_frame_bytes;
    principal_ = r.getPrincipal().cStr();
    if (r.getSaslMechanisms().size() > 0) {
      std::vector<std::string> offered;
      std::string mechanisms;
      for (auto m : r.getSaslMechanisms()) {
        offered.emplace_back(m.cStr());
        mechanisms += (mechanisms.empty() ? "" : ", ") + offered.back();
      }
      if (settings_.sasl_user.empty()) {
        lose(ErrorCode::AUTHENTICATION_FAILED,
             "broker " + settings_.broker + " requires SASL authentication (" + mechanisms +
               ") and this client has no user configured");
        return;
      }
      sasl_ = std::make_unique<security::sasl_client>(settings_.sasl_user, settings_.sasl_password);
      auto first = sasl_->start(offered);
      if (!first) {
        lose(ErrorCode::AUTHENTICATION_FAILED,
             "broker " + settings_.broker + ", user '" + settings_.sasl_user + "': " + sasl_->error());
        return;
      }
      send_sasl(first->mechanism, first->payload);
      return;  // ready once the exchange is done
    }
  } catch (const kj::Exception& e) {
    lose(ErrorCode::INVALID_REQUEST, std::string{"hello_reply does not decode: "} + e.getDescription().cStr());
    return;
  }
  become_ready(now);
}

void wire_conversation::send_sasl(const std::string& mechanism, const std::string& payload) {
  capnp::MallocMessageBuilder builder;
  auto step = builder.initRoot<schema::SaslStep>();
  step.setMechanism(mechanism);
  step.setPayload(kj::arrayPtr(reinterpret_cast<const kj::byte*>(payload.data()), payload.size()));
  protocol::append_frame(output_, frame_kind::sasl, 0, 0, wire::to_bytes(builder));
}

void wire_conversation::on_sasl_reply(const protocol::frame& f, time_point now) {
  std::optional<security::sasl_client::step> next;
  std::string principal;
  try {
    wire::message_reader reader(f.payload);
    auto r = reader.root<schema::SaslReply>();
    std::string error;
    if (r.getError().getCode() != ErrorCode::NONE) {
      error = r.getError().getMessage().cStr();
      if (error.empty())
        error = wire::to_string(r.getError().getCode());
    }
    auto payload = r.getPayload();
    next = sasl_->on_reply(error, {reinterpret_cast<const char*>(payload.begin()), payload.size()}, r.getDone());
    principal = r.getPrincipal().cStr();
  } catch (const kj::Exception& e) {
    lose(ErrorCode::INVALID_REQUEST, std::string{"sasl_reply does not decode: "} + e.getDescription().cStr());
    return;
  }
  if (sasl_->failed()) {
    // (The code already says "authentication failed".)
    lose(ErrorCode::AUTHENTICATION_FAILED,
         "broker " + settings_.broker + ", user '" + settings_.sasl_user + "': " + sasl_->error());
    return;
  }
  if (next) {
    send_sasl(next->mechanism, next->payload);
    return;
  }
  sasl_.reset();
  principal_ = principal;
  become_ready(now);
}

void wire_conversation::become_ready(time_point now) {
  // Responses (a fetch's batches) may be as large as the broker lets frames be.
  reader_.set_max_length(std::max(max_frame_bytes_, protocol::default_max_frame_bytes));
  ready_ = true;
  quiet_since_ = now;
  last_ping_.reset();
  release_held(now);
}

void wire_conversation::on_written(time_point now) {
  if (!lost_ && awaiting_broker())
    quiet_since_ = std::max(quiet_since_, now);
}

void wire_conversation::on_timer(time_point now) {
  if (lost_)
    return;
  if (started_ && !ready_ && now >= handshake_deadline_) {
    lose(ErrorCode::PARTITION_UNAVAILABLE, "broker " + settings_.broker + " did not answer the hello within " +
                                             std::to_string(settings_.handshake_timeout_ms) + " ms");
    return;
  }
  if (awaiting_broker()) {
    const auto quiet = now - quiet_base();
    if (quiet >= std::chrono::milliseconds{settings_.liveness_timeout_ms}) {
      lose(ErrorCode::PARTITION_UNAVAILABLE,
           "nothing heard from broker " + settings_.broker + " for " +
             std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(quiet).count()) + " ms");
      return;
    }
    const auto heartbeat = std::chrono::milliseconds{settings_.heartbeat_ms};
    const auto since = last_ping_ ? *last_ping_ : quiet_since_;
    if (ready_ && now - since >= heartbeat) {
      last_ping_ = now;
      protocol::append_frame(output_, frame_kind::ping, next_correlation_++, 0, {});
    }
  }
  release_held(now);
}

std::optional<wire_conversation::time_point> wire_conversation::next_timer() const {
  if (lost_)
    return std::nullopt;
  std::optional<time_point> next;
  auto consider = [&](time_point t) {
    if (!next || t < *next)
      next = t;
  };
  if (started_ && !ready_)
    consider(handshake_deadline_);
  if (awaiting_broker()) {
    consider(quiet_base() + std::chrono::milliseconds{settings_.liveness_timeout_ms});
    if (ready_)
      consider((last_ping_ ? *last_ping_ : quiet_since_) + std::chrono::milliseconds{settings_.heartbeat_ms});
  }
  if (ready_ && !held_.empty())
    consider(throttled_until_);
  return next;
}

void wire_conversation::close(const std::string& why) {
  lose(ErrorCode::PARTITION_UNAVAILABLE, why);
}

void wire_conversation::fail(std::uint64_t correlation, ErrorCode code, std::string message) {
  completion c;
  c.correlation = correlation;
  c.code = code;
  c.message = std::move(message);
  completions_.push_back(std::move(c));
}

void wire_conversation::lose(ErrorCode code, std::string why) {
  if (lost_)
    return;
  lost_ = true;
  lost_code_ = code;
  lost_reason_ = std::move(why);
  for (auto correlation : in_flight_)
    fail(correlation, code, lost_reason_ + "; the request may or may not have been carried out");
  in_flight_.clear();
  for (auto& h : held_)
    fail(h.correlation, code, lost_reason_ + "; the request was not sent");
  held_.clear();
}

std::vector<char> wire_conversation::take_output() {
  std::vector<char> out;
  out.swap(output_);
  return out;
}

std::vector<wire_conversation::completion> wire_conversation::take_completions() {
  std::vector<completion> out;
  out.swap(completions_);
  return out;
}

} // namespace herald::client
