#pragma once
// Herald errors inside CAF: a caf::error in category "herald" whose code is a
// schema::ErrorCode and whose context holds the message. This is how client
// actors report a failed send or poll to the code that embeds them.

#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include "schema/client.capnp.h"

namespace herald {

inline constexpr caf::atom_value herald_error_category = caf::atom("herald");

caf::error make_herald_error(schema::ErrorCode code, std::string message);

// Herald code and message of any caf::error; CAF's own errors (a dead peer, a
// timeout) map to the nearest Herald code.
struct decoded_error {
  schema::ErrorCode code;
  std::string message;
};
decoded_error decode_error(const caf::error& err);

std::string render_herald_error(uint8_t code, caf::atom_value category, const caf::message& context);

} // namespace herald
