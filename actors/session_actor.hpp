#pragma once
// The session actor: one per connected client, spawned by the node actor on
// hello_atom. It decodes each request just far enough to route it (topic and
// partition) and forwards the original bytes to the partition actor, or to
// the node actor for admin and metadata requests. It dies with its client
// (it monitors the owner actor the client named in its hello).
//
// It sets no cap on requests in flight: its only client is one framed
// connection (actors/connection_logic), which counts every request it read
// and has not answered (--max-inflight-requests) and every byte it holds, a
// superset of what reaches the session. A second cap here could only bind
// below the operator's setting (it was a fixed 512).
//
// Authorization: every request is checked for the session's principal
// against the routing snapshot's authorizer (security/request_access.hpp)
// before it goes anywhere; a refusal is answered authorizationFailed, naming
// principal, operation and resource. Metadata answers list only the topics
// the principal may describe.
//
// Protocol: (request_atom, bytes request) -> bytes response
// Every request is answered, a produce with acks=none too (by the partition,
// once it proposed the batch or refused it, e.g. notLeader on a follower).

#include <chrono>

#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "actors/routing_table.hpp"
#include "actors/session_identity.hpp"

namespace herald::actors {

struct session_limits {
  // A produce is answered `timeout` when its partition has not answered
  // within the produce's timeoutMs plus this.
  caf::timespan produce_answer_margin = std::chrono::seconds{5};
};

// `identity`: who the session acts for (the framed listener's principal and
// client address; the default for BASP clients).
caf::actor spawn_session(caf::event_based_actor* node, caf::actor owner, routing_ptr routes,
                         session_limits limits, session_identity identity = {});

} // namespace herald::actors
