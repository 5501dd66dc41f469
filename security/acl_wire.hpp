#pragma once
// ACLs between their schema form (schema/client.capnp Acl) and
// security::acl_entry. The enums correspond one to one.

#include "schema/client.capnp.h"
#include "security/acl.hpp"

namespace herald::security {

// Also checks the entry (security/acl.hpp check()): error empty when valid.
parsed_acl from_wire(schema::Acl::Reader in);
void to_wire(const acl_entry& in, schema::Acl::Builder out);

} // namespace herald::security
