#pragma once
// The fourth element of a partition actor's answer to stats_atom: the
// leader's view of its followers (replication/follower_status.hpp), empty
// unless that replica leads. Only between actors of one process.

#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "replication/follower_status.hpp"

namespace herald::actors {

struct replica_followers {
  std::vector<replication::follower_status> list;
};

}  // namespace herald::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(herald::actors::replica_followers)
