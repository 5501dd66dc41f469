#include "schema/wire.hpp"

#include <cstdint>
#include <cstring>

#include <kj/io.h>

namespace herald::wire {

namespace {

// Appends to reserved capacity: a sized vector would be zero-filled first,
// which for a large AppendEntries costs as much as the copy itself.
class vector_output final : public kj::OutputStream {
public:
  explicit vector_output(std::vector<char>& out) : out_(out) {}
  void write(const void* buffer, size_t size) override {
    const auto* p = static_cast<const char*>(buffer);
    out_.insert(out_.end(), p, p + size);
  }

private:
  std::vector<char>& out_;
};

} // namespace

std::vector<char> to_bytes(capnp::MessageBuilder& message) {
  std::vector<char> out;
  out.reserve(capnp::computeSerializedSizeInWords(message) * sizeof(capnp::word));
  vector_output stream(out);
  capnp::writeMessage(stream, message);
  return out;
}

namespace {

capnp::ReaderOptions reader_options() {
  capnp::ReaderOptions options;
  // Requests carry at most a few MiB; the limit bounds the work a hostile
  // message can cause (pointer amplification), not legitimate sizes.
  options.traversalLimitInWords = 64ull << 20;
  return options;
}

} // namespace

message_reader::message_reader(std::span<const char> bytes) {
  if (bytes.size() % sizeof(capnp::word) != 0)
    KJ_FAIL_REQUIRE("message size is not a multiple of 8 bytes", bytes.size());
  kj::ArrayPtr<const capnp::word> words;
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(capnp::word) == 0) {
    words = kj::arrayPtr(reinterpret_cast<const capnp::word*>(bytes.data()),
                         bytes.size() / sizeof(capnp::word));
  } else {
    aligned_copy_ = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
    std::memcpy(aligned_copy_.begin(), bytes.data(), bytes.size());
    words = aligned_copy_.asPtr();
  }
  reader_ = kj::heap<capnp::FlatArrayMessageReader>(words, reader_options());
}

void set_error(schema::Error::Builder out, schema::ErrorCode code, const std::string& message) {
  out.setCode(code);
  out.setMessage(message);
}

std::vector<char> error_response(schema::ErrorCode code, const std::string& message) {
  capnp::MallocMessageBuilder builder;
  auto response = builder.initRoot<schema::Response>();
  set_error(response.initError(), code, message);
  response.setEmpty();
  return to_bytes(builder);
}

const char* to_string(schema::ErrorCode code) {
  using E = schema::ErrorCode;
  switch (code) {
    case E::NONE: return "none";
    case E::UNKNOWN_TOPIC: return "unknown topic";
    case E::UNKNOWN_PARTITION: return "unknown partition";
    case E::RECORD_TOO_LARGE: return "record too large";
    case E::INVALID_REQUEST: return "invalid request";
    case E::CORRUPT_BATCH: return "corrupt batch";
    case E::TOPIC_ALREADY_EXISTS: return "topic already exists";
    case E::INVALID_TOPIC: return "invalid topic";
    case E::PARTITION_UNAVAILABLE: return "partition unavailable";
    case E::OFFSET_OUT_OF_RANGE: return "offset out of range";
    case E::STORAGE_ERROR: return "storage error";
    case E::TIMEOUT: return "timeout";
    case E::THROTTLED: return "throttled";
    case E::INTERNAL: return "internal error";
    case E::NOT_LEADER: return "not the leader";
    case E::DISK_FULL: return "disk full";
    case E::PARTITION_DAMAGED: return "partition damaged";
    case E::CLUSTER_UNAVAILABLE: return "cluster unavailable";
    case E::AUTHENTICATION_FAILED: return "authentication failed";
    case E::AUTHORIZATION_FAILED: return "authorization failed";
    case E::UNSUPPORTED_VERSION: return "unsupported version";
    case E::QUOTA_EXCEEDED: return "quota exceeded";
  }
  return "unknown error code";
}

bool is_retriable(schema::ErrorCode code) {
  using E = schema::ErrorCode;
  return code == E::PARTITION_UNAVAILABLE || code == E::TIMEOUT || code == E::THROTTLED ||
         code == E::NOT_LEADER || code == E::CLUSTER_UNAVAILABLE;
}

} // namespace herald::wire
