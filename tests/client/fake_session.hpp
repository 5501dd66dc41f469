#pragma once
// A stand-in for the broker's session actor, for deterministic tests of the
// client actors: it holds every (request_atom, bytes) it receives until the
// test answers it, so a test decides each response and its order.
//
//   (request_atom, bytes) -> bytes        held until answered
//   (get_atom) -> std::vector<held_request>   the requests not yet answered
//   (put_atom, uint64 id, bytes response)     answers request `id`
//   (put_atom, uint64 id, caf::error)         fails request `id`
//
// fake_session_handle wraps those calls in blocking helpers that poll with a
// deadline (no sleeps standing in for conditions).

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "schema/client.capnp.h"

namespace herald::test {

struct held_request {
  std::uint64_t id = 0;
  std::vector<char> bytes;
  schema::Request::Which which() const;
};

} // namespace herald::test

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<herald::test::held_request>)

namespace herald::test {

caf::actor spawn_fake_session(caf::actor_system& system);

class fake_session_handle {
public:
  explicit fake_session_handle(caf::actor_system& system);
  ~fake_session_handle();

  const caf::actor& actor() const { return actor_; }

  // The requests not yet answered.
  std::vector<held_request> held();
  // Waits (up to `deadline`) until `pred` holds for the unanswered requests;
  // returns them then (an empty vector on timeout, with `ok` false).
  std::vector<held_request> wait_for(const std::function<bool(const std::vector<held_request>&)>& pred,
                                     bool& ok, std::chrono::milliseconds deadline = std::chrono::seconds{10});
  // Waits until at least `n` requests are held and returns them.
  std::vector<held_request> wait_held(std::size_t n, std::chrono::milliseconds deadline = std::chrono::seconds{10});

  void answer(std::uint64_t id, std::vector<char> response);
  void fail(std::uint64_t id, caf::error err);
  // Kills the fake, as a broker that goes away.
  void kill();

private:
  caf::scoped_actor self_;
  caf::actor actor_;
};

// Canned responses.
std::vector<char> produce_ok(std::int64_t base_offset, std::int64_t last_offset);
std::vector<char> error_response(schema::ErrorCode code, const std::string& message);
std::vector<char> metadata_response(const std::string& topic, std::uint32_t partitions,
                                    std::uint32_t max_batch_bytes = 1u << 20);
std::vector<char> list_offsets_response(std::int64_t offset);
// A fetch response carrying `records` (whole batches laid end to end).
std::vector<char> fetch_response(const std::vector<char>& records, std::int64_t high_watermark,
                                 std::int64_t log_start, schema::ErrorCode code = schema::ErrorCode::NONE,
                                 const std::string& message = {});

} // namespace herald::test
