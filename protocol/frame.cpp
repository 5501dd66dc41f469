#include "protocol/frame.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace herald::protocol {

namespace {

template <class T>
void put_le(char* out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    out[i] = static_cast<char>(static_cast<std::uint8_t>(value >> (8 * i)));
}

template <class T>
T get_le(const char* in) {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    value |= static_cast<T>(static_cast<std::uint8_t>(in[i])) << (8 * i);
  return value;
}

} // namespace

const char* to_string(frame_kind kind) {
  switch (kind) {
    case frame_kind::hello: return "hello";
    case frame_kind::hello_reply: return "hello_reply";
    case frame_kind::sasl: return "sasl";
    case frame_kind::sasl_reply: return "sasl_reply";
    case frame_kind::request: return "request";
    case frame_kind::response: return "response";
    case frame_kind::ping: return "ping";
    case frame_kind::pong: return "pong";
    case frame_kind::goodbye: return "goodbye";
  }
  return "unknown";
}

bool is_known_kind(std::uint8_t kind) {
  return kind >= static_cast<std::uint8_t>(frame_kind::hello) && kind <= static_cast<std::uint8_t>(frame_kind::goodbye);
}

void encode_header(char out[frame_header_bytes], frame_kind kind, std::uint64_t correlation,
                   std::uint32_t throttle_ms, std::size_t payload_size) {
  if (payload_size > std::numeric_limits<std::uint32_t>::max() - frame_min_length)
    throw std::length_error("frame payload too large to encode");
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(frame_min_length + payload_size));
  out[4] = static_cast<char>(kind);
  out[5] = 0;
  put_le<std::uint16_t>(out + 6, 0);
  put_le<std::uint64_t>(out + 8, correlation);
  put_le<std::uint32_t>(out + 16, throttle_ms);
}

void append_frame(std::vector<char>& out, frame_kind kind, std::uint64_t correlation, std::uint32_t throttle_ms,
                  std::span<const char> payload) {
  char header[frame_header_bytes];
  encode_header(header, kind, correlation, throttle_ms, payload.size());
  out.reserve(out.size() + frame_header_bytes + payload.size());
  out.insert(out.end(), header, header + frame_header_bytes);
  out.insert(out.end(), payload.begin(), payload.end());
}

std::vector<char> encode_frame(frame_kind kind, std::uint64_t correlation, std::uint32_t throttle_ms,
                               std::span<const char> payload) {
  std::vector<char> out;
  append_frame(out, kind, correlation, throttle_ms, payload);
  return out;
}

std::string check_header_prefix(const char* bytes, std::size_t n, std::uint32_t max_length) {
  if (n >= 4) {
    auto length = get_le<std::uint32_t>(bytes);
    if (length < frame_min_length)
      return "frame length " + std::to_string(length) + " is shorter than the 16-byte header remainder";
    if (length > max_length)
      return "frame length " + std::to_string(length) + " exceeds the limit of " + std::to_string(max_length) +
             " bytes";
  }
  if (n >= 5 && !is_known_kind(static_cast<std::uint8_t>(bytes[4])))
    return "unknown frame kind " + std::to_string(static_cast<std::uint8_t>(bytes[4]));
  if (n >= 6 && bytes[5] != 0)
    return "frame flags " + std::to_string(static_cast<std::uint8_t>(bytes[5])) + " are not 0";
  if (n >= 8 && get_le<std::uint16_t>(bytes + 6) != 0)
    return "frame reserved field " + std::to_string(get_le<std::uint16_t>(bytes + 6)) + " is not 0";
  return {};
}

std::optional<frame_header> decode_header(const char* bytes, std::uint32_t max_length, std::string* why) {
  auto problem = check_header_prefix(bytes, frame_header_bytes, max_length);
  if (!problem.empty()) {
    if (why)
      *why = std::move(problem);
    return std::nullopt;
  }
  frame_header h;
  h.length = get_le<std::uint32_t>(bytes);
  h.kind = static_cast<frame_kind>(bytes[4]);
  h.correlation = get_le<std::uint64_t>(bytes + 8);
  h.throttle_ms = get_le<std::uint32_t>(bytes + 16);
  return h;
}

void frame_reader::fail(std::string why) {
  error_ = std::move(why);
  header_have_ = 0;
  payload_ = {};
  pending_ = {};
  pending_pos_ = 0;
  current_.reset();
  started_.reset();
  ready_ = false;
}

std::size_t frame_reader::consume(const char* p, std::size_t n, clock::time_point arrived) {
  std::size_t used = 0;
  if (!current_) {
    if (header_have_ == 0 && n > 0)
      started_ = arrived;
    const auto take = std::min(n, frame_header_bytes - header_have_);
    const auto before = header_have_;
    std::memcpy(header_ + header_have_, p, take);
    header_have_ += take;
    used = take;
    // Field by field: a hostile length is refused after its 4 bytes.
    if (before < 8) {
      if (auto problem = check_header_prefix(header_, header_have_, max_length_); !problem.empty()) {
        fail(std::move(problem));
        return used;
      }
    }
    if (header_have_ < frame_header_bytes)
      return used;
    current_ = decode_header(header_, max_length_);
    header_have_ = 0;
    payload_.clear();
  }
  const auto want = current_->payload_size() - payload_.size();
  const auto take = std::min(n - used, want);
  if (take > 0) {
    // Capacity follows what has arrived: it at most doubles what is held,
    // and never exceeds the payload size the header claims.
    const auto need = payload_.size() + take;
    if (need > payload_.capacity())
      payload_.reserve(std::min<std::size_t>(current_->payload_size(), std::max(need, 2 * payload_.capacity())));
    payload_.insert(payload_.end(), p + used, p + used + take);
    used += take;
  }
  if (payload_.size() == current_->payload_size())
    ready_ = true;
  return used;
}

void frame_reader::feed(const char* data, std::size_t n, clock::time_point now) {
  if (failed() || n == 0)
    return;
  std::size_t used = 0;
  if (!ready_ && pending_pos_ == pending_.size())
    used = consume(data, n, now);
  if (failed() || used == n)
    return;
  if (pending_pos_ == pending_.size()) {
    pending_.clear();
    pending_pos_ = 0;
    pending_since_ = now;
  }
  pending_.insert(pending_.end(), data + used, data + n);
}

frame_reader::status frame_reader::poll(frame& out) {
  for (;;) {
    if (failed())
      return status::error;
    if (ready_) {
      out.kind = current_->kind;
      out.correlation = current_->correlation;
      out.throttle_ms = current_->throttle_ms;
      out.payload = std::move(payload_);
      payload_ = {};
      current_.reset();
      started_.reset();
      ready_ = false;
      return status::frame;
    }
    if (pending_pos_ == pending_.size())
      return status::need_more;
    pending_pos_ += consume(pending_.data() + pending_pos_, pending_.size() - pending_pos_, pending_since_);
    if (pending_pos_ == pending_.size()) {
      pending_.clear();
      pending_pos_ = 0;
    } else if (pending_pos_ > (64u << 10) && pending_pos_ * 2 > pending_.size()) {
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(pending_pos_));
      pending_pos_ = 0;
    }
  }
}

std::optional<frame_reader::clock::time_point> frame_reader::incomplete_since() const {
  if (failed() || ready_)
    return std::nullopt;
  if (started_ && (header_have_ > 0 || current_))
    return started_;
  if (pending_pos_ < pending_.size())
    return pending_since_;
  return std::nullopt;
}

std::size_t frame_reader::buffered_bytes() const {
  return header_have_ + payload_.size() + (pending_.size() - pending_pos_);
}

} // namespace herald::protocol
