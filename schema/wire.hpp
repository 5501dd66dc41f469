#pragma once
// Cap'n Proto messages <-> the byte buffers that travel inside CAF messages.
//
// Cap'n Proto 0.9.2 throws on buffers that are not 8-byte aligned; a
// std::vector<char> from operator new is 16-byte aligned, but a reader never
// assumes it: unaligned input is copied into words first.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

#include "schema/client.capnp.h"

namespace herald::wire {

// A produce whose timeoutMs is 0 gets this one.
inline constexpr std::uint32_t default_produce_timeout_ms = 30'000;

// Serializes a whole message in flat form into a fresh buffer.
std::vector<char> to_bytes(capnp::MessageBuilder& message);

// Reads a flat message from bytes that stay alive as long as the reader.
// Construction and getRoot() throw kj::Exception on malformed input; callers
// at trust boundaries catch it and answer invalidRequest.
class message_reader {
public:
  explicit message_reader(std::span<const char> bytes);

  template <class Root>
  typename Root::Reader root() {
    return reader_->getRoot<Root>();
  }

private:
  kj::Array<capnp::word> aligned_copy_;
  kj::Own<capnp::FlatArrayMessageReader> reader_;
};

// A Response carrying only an error.
std::vector<char> error_response(schema::ErrorCode code, const std::string& message);

// Fills `out` with code and message.
void set_error(schema::Error::Builder out, schema::ErrorCode code, const std::string& message);

const char* to_string(schema::ErrorCode code);

// Whether a client may retry the same request unchanged and expect success.
bool is_retriable(schema::ErrorCode code);

} // namespace herald::wire
