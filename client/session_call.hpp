#pragma once
// One request to a broker session from inside a client actor, with the
// response decoded: `on_ok(schema::Response::Reader)` when its error code is
// none, `on_error(schema::ErrorCode, std::string)` for an error response, a
// malformed response or a CAF failure (timeout, dead session). Private to
// client/ (CAF-heavy).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <kj/exception.h>

#include "protocol/atoms.hpp"
#include "protocol/errors.hpp"
#include "schema/wire.hpp"

namespace herald::client {

// Sends `request` to the session and decodes the answer: on_ok(Response::Reader)
// on success, else on_error(code, message, log_start), where log_start is the
// log start offset a fetch's error response carries (offsetOutOfRange does),
// nullopt otherwise.
template <class Self, class OnOk, class OnError>
void call_session_with_fetch_error(Self* self, const caf::actor& session, std::vector<char> request,
                                   caf::timespan timeout, OnOk on_ok, OnError on_error) {
  self->request(session, timeout, request_atom::value, std::move(request))
    .then(
      [=](std::vector<char>& response) {
        try {
          wire::message_reader reader(response);
          auto r = reader.root<schema::Response>();
          if (r.getError().getCode() == schema::ErrorCode::NONE) {
            on_ok(r);
            return;
          }
          std::optional<std::int64_t> log_start;
          if (r.which() == schema::Response::FETCH)
            log_start = r.getFetch().getLogStartOffset();
          on_error(r.getError().getCode(), std::string{r.getError().getMessage().cStr()}, log_start);
        } catch (const kj::Exception& e) {
          on_error(schema::ErrorCode::INTERNAL, std::string{"malformed response: "} + e.getDescription().cStr(),
                   std::nullopt);
        }
      },
      [=](caf::error& err) {
        auto d = decode_error(err);
        on_error(d.code, d.message, std::nullopt);
      });
}

// call_session_with_fetch_error() for requests whose errors carry nothing
// beyond code and message: on_error(code, message).
template <class Self, class OnOk, class OnError>
void call_session(Self* self, const caf::actor& session, std::vector<char> request, caf::timespan timeout,
                  OnOk on_ok, OnError on_error) {
  call_session_with_fetch_error(self, session, std::move(request), timeout, std::move(on_ok),
                                [on_error](schema::ErrorCode code, std::string message, std::optional<std::int64_t>) {
                                  on_error(code, std::move(message));
                                });
}

} // namespace herald::client
