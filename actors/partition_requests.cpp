// The partition actor's client side: a request gets an id and its promise
// waits in the shell's table until the replica answers that id (at once,
// or later for acks=1/all produces and parked fetches).

#include "actors/partition_state.hpp"

namespace herald::actors {

void handle_client_request(partition_ptr self, const bytes& request, promise rp) {
  auto& st = self->state;
  const auto id = st.next_request_id++;
  st.waiting.emplace(id, std::move(rp));
  st.replica->on_request(id, request);
  flush(self);
}

void deliver_answers(partition_ptr self, replication::outbox& out) {
  auto& st = self->state;
  for (auto& [id, response] : out.answers) {
    auto i = st.waiting.find(id);
    if (i == st.waiting.end()) continue;
    i->second.deliver(std::move(response));
    st.waiting.erase(i);
  }
}

} // namespace herald::actors
