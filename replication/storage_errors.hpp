#pragma once
// How a storage error reaches a client: the one table from storage::errc to
// the client protocol's ErrorCode. Every broker path that answers a client
// with a storage failure goes through it, so one errc never means two codes.

#include "schema/client.capnp.h"
#include "storage/status.hpp"

namespace herald::replication {

schema::ErrorCode to_error_code(storage::errc code);

} // namespace herald::replication
