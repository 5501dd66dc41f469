#pragma once
// CAF atoms of Herald's client protocol: the client <-> broker exchange and
// the client library's own actors. Shared by the broker and the client
// library; the broker's internal atoms are in actors/atoms.hpp.

#include <caf/atom.hpp>

namespace herald {

// client <-> broker
using hello_atom = caf::atom_constant<caf::atom("hr_hello")>;      // (owner actor) -> session actor
using request_atom = caf::atom_constant<caf::atom("hr_request")>;  // (bytes) -> bytes

// client-side actors
using send_atom = caf::atom_constant<caf::atom("hr_send")>;
using flush_atom = caf::atom_constant<caf::atom("hr_flush")>;
using linger_atom = caf::atom_constant<caf::atom("hr_linger")>;
using poll_atom = caf::atom_constant<caf::atom("hr_poll")>;
using poll_timeout_atom = caf::atom_constant<caf::atom("hr_polltm")>;
using retry_atom = caf::atom_constant<caf::atom("hr_retry")>;
using tombstone_atom = caf::atom_constant<caf::atom("hr_tomb")>;
using idle_check_atom = caf::atom_constant<caf::atom("hr_idle")>;
using wire_tick_atom = caf::atom_constant<caf::atom("hr_wtick")>;  // client/wire_connection's timer
using wire_lost_atom = caf::atom_constant<caf::atom("hr_wlost")>;  // (error): a wire connection was lost
using consumer_status_atom = caf::atom_constant<caf::atom("hr_cstat")>;  // -> vector<consumer_partition_status>

} // namespace herald
