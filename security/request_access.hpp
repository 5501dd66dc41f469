#pragma once
// What each client request needs from the authorizer (docs/security.md,
// "What each request needs"), and the authorization of one request. The
// session actor calls these; they hold the whole decision so that it is
// tested without actors.

#include <string>
#include <string_view>
#include <vector>

#include "schema/client.capnp.h"
#include "security/authorizer.hpp"

namespace herald::security {

struct access {
  operation op;
  resource on;
};

struct request_access {
  // Allowed when any one of these is allowed (createTopic: create on the
  // cluster or on the topic); empty: nothing to check beforehand.
  std::vector<access> any_of;
  // metadata: the response lists only topics the principal may describe.
  bool filter_topics = false;
};

request_access access_of(schema::Request::Reader req);

// The decision for one request; refused: the reason names principal,
// operation and resource (the first alternative's).
decision authorize(const authorizer& authz, std::string_view principal, schema::Request::Reader req);

// A metadata response with only the topics `principal` may describe; the
// response as it is when nothing is hidden (or it is not a metadata one).
std::vector<char> filter_metadata(const authorizer& authz, std::string_view principal, std::vector<char> response);

} // namespace herald::security
