#pragma once
// The SASL exchange of one client connection, seen from the broker: the
// connection actor hands it each `sasl` frame's mechanism and payload
// (schema/wire.capnp SaslStep) and sends back what step() returns as a
// `sasl_reply` (SaslReply). No actors, no network.
//
// Mechanisms: SCRAM-SHA-256 (two rounds: client-first -> server-first,
// client-final -> server-final with done = true and the principal
// "User:<name>"). Any error ends the exchange for good: the connection sends
// the error (authenticationFailed) and closes.

#include "security/scram_server.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::security {

struct sasl_outcome {
  std::string reply;     // SaslReply.payload (on a SCRAM failure: "e=<reason>")
  bool done = false;     // authenticated: principal is set
  std::string principal; // "User:<name>" when done
  std::string error;     // non-empty: authentication failed; tell the client and close
  std::string log_detail; // for the broker's log only (names the real cause)
  bool ok() const { return error.empty(); }
};

class sasl_server {
public:
  // mechanisms: what this listener offers (HelloReply.saslMechanisms), each
  // one of supported_sasl_mechanisms(). lookup: the user store.
  sasl_server(std::vector<std::string> mechanisms, scram_credential_lookup lookup);
  ~sasl_server();
  sasl_server(sasl_server&&) noexcept;
  sasl_server& operator=(sasl_server&&) noexcept;

  const std::vector<std::string>& mechanisms() const { return mechanisms_; }
  sasl_outcome step(std::string_view mechanism, std::string_view payload);

  bool done() const { return state_ == state::done; }
  bool failed() const { return state_ == state::failed; }
  const std::string& principal() const { return principal_; }

private:
  enum class state { initial, in_progress, done, failed };
  sasl_outcome fail(std::string error, std::string detail = {});

  std::vector<std::string> mechanisms_;
  scram_credential_lookup lookup_;
  std::string mechanism_;
  std::unique_ptr<scram_server> scram_;
  std::string principal_;
  state state_ = state::initial;
};

// What this build implements.
const std::vector<std::string>& supported_sasl_mechanisms();

// A --sasl-mechanisms value ("SCRAM-SHA-256", comma-separated, no
// duplicates) -> the list; std::nullopt and *error for an unknown or empty
// entry.
std::optional<std::vector<std::string>> parse_sasl_mechanisms(std::string_view text, std::string* error);

} // namespace herald::security
