#pragma once
// SCRAM's credential lookup (scram_server.hpp) over the broker's user store
// (user_store.hpp, kept current by the node actor from ZooKeeper or the data
// directory). Safe from any thread: the store is.

#include "security/scram_server.hpp"
#include "security/user_store.hpp"

#include <memory>

namespace herald::security {

// A user whose stored line does not decode (security/scram.hpp
// decode_credential) counts as unknown: authentication fails, nothing else.
scram_credential_lookup scram_lookup_in(std::shared_ptr<const credential_store> store);

} // namespace herald::security
