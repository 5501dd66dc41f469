#pragma once
// The SASL exchange of one client connection, seen from the client: the
// wire connection feeds it the broker's HelloReply.saslMechanisms and then
// each SaslReply, and sends what it returns as `sasl` frames (SaslStep). No
// actors, no network; linked by the client library (herald_security_client).
//
// SCRAM-SHA-256 takes two rounds:
//   start(offered)             -> SaslStep{SCRAM-SHA-256, client-first}
//   on_reply(server-first)     -> SaslStep{SCRAM-SHA-256, client-final}
//   on_reply(server-final, done=true) -> done(): the broker proved it knows
//                                 the credential; requests may go out
// Anything else (the broker's error, a mechanism we lack, a reply that does
// not verify, done too early or never) ends it with error().

#include "security/scram.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::security {

class sasl_client {
public:
  // nonce: for tests (RFC 7677); empty = random.
  sasl_client(std::string user, std::string password, std::string nonce = {});

  struct step {
    std::string mechanism; // SaslStep.mechanism
    std::string payload;   // SaslStep.payload
  };

  // The broker requires SASL and offers these: the first step, or nullopt
  // with error() set (no common mechanism, bad user name).
  std::optional<step> start(const std::vector<std::string>& offered);
  // A SaslReply. error_message: its error's message when its code is not
  // none (empty otherwise). Returns the next step; nullopt when done() or
  // failed().
  std::optional<step> on_reply(std::string_view error_message, std::string_view payload, bool done);

  bool done() const { return done_; }
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

private:
  std::optional<step> fail(std::string why);

  scram_client scram_;
  int rounds_ = 0; // SaslSteps sent
  bool done_ = false;
  std::string error_;
};

} // namespace herald::security
