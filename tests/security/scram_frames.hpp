#pragma once
// The client side of a SASL login over raw frames (tests/support/frame_client)
// for system tests of a heraldd with --sasl-mechanisms: hello, then the SCRAM
// rounds exactly as the client library runs them (security/sasl_client).

#include <string>
#include <vector>

#include "schema/wire.capnp.h"
#include "tests/support/frame_client.hpp"

namespace herald::test {

// hello -> hello_reply without an error (REQUIREd); the mechanisms it lists.
std::vector<std::string> hello(frame_client& c, const std::string& client_id);

struct auth_result {
  bool done = false;
  std::string principal;
  schema::ErrorCode code = schema::ErrorCode::NONE;
  std::string message;  // the broker's refusal
};

// SCRAM-SHA-256 rounds until the client is done or the broker refused.
auth_result authenticate(frame_client& c, const std::string& user, const std::string& password);

} // namespace herald::test
