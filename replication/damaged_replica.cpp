#include "replication/damaged_replica.hpp"

#include "schema/client.capnp.h"
#include "schema/wire.hpp"

namespace herald::replication {

std::vector<char> damaged_response(const std::string& partition, const std::string& why) {
  return wire::error_response(schema::ErrorCode::PARTITION_DAMAGED,
                              partition + " is damaged on this broker and serves nothing until repaired: " + why);
}

std::string damaged_description(const std::string& why) { return std::string(damaged_prefix) + why; }

} // namespace herald::replication
