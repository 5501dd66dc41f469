#include "protocol/errors.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "schema/wire.hpp"

namespace herald {

caf::error make_herald_error(schema::ErrorCode code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), herald_error_category,
                    caf::make_message(std::move(message))};
}

decoded_error decode_error(const caf::error& err) {
  if (err.category() == herald_error_category) {
    std::string msg;
    if (err.context().match_elements<std::string>())
      msg = err.context().get_as<std::string>(0);
    return {static_cast<schema::ErrorCode>(err.code()), msg};
  }
  if (err.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(err.code())) {
      case caf::sec::request_timeout:
        return {schema::ErrorCode::TIMEOUT, "request timed out"};
      case caf::sec::request_receiver_down:
        return {schema::ErrorCode::PARTITION_UNAVAILABLE, "the receiver went down"};
      default:
        break;
    }
    return {schema::ErrorCode::INTERNAL, caf::to_string(err)};
  }
  return {schema::ErrorCode::INTERNAL, caf::to_string(err)};
}

std::string render_herald_error(uint8_t code, caf::atom_value, const caf::message& context) {
  std::string out = wire::to_string(static_cast<schema::ErrorCode>(code));
  if (context.match_elements<std::string>()) {
    out += ": ";
    out += context.get_as<std::string>(0);
  }
  return out;
}

} // namespace herald
