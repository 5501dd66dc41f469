#pragma once
// The server half of SCRAM-SHA-256 (RFC 5802, RFC 7677); the message formats
// are described in security/scram.hpp. One object per authentication attempt.
//
// An unknown user gets the same answers as a known one (a server-first with a
// salt derived from the name and a per-process secret) and fails only at the
// proof, with the same error as a wrong password: the client cannot tell which
// user names exist. log_detail() says which it was, for the broker's log.

#include "security/scram.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace herald::security {

// Finds a user's stored credential; std::nullopt for an unknown user (or a
// store that cannot answer: authentication then fails).
using scram_credential_lookup = std::function<std::optional<scram_credential>(const std::string& user)>;

class scram_server {
public:
  // nonce: the server's part of the nonce; empty = a fresh random one.
  explicit scram_server(scram_credential_lookup lookup, std::string nonce = {});

  // client-first -> server-first. On failure message holds "e=<reason>"
  // (RFC 5802's server-error) and error a sentence for the client.
  scram_step first_response(std::string_view client_first);
  // client-final -> server-final ("v=<signature>") once the proof checks out.
  scram_step final_response(std::string_view client_final);

  bool authenticated() const { return state_ == state::done; }
  // The authenticated user (unescaped); meaningful once authenticated().
  const std::string& user() const { return user_; }
  // What really went wrong (unknown user, wrong proof, which field...), for logs.
  const std::string& log_detail() const { return log_detail_; }

private:
  enum class state { initial, sent_first, done, failed };
  scram_step fail(std::string_view server_error, std::string error, std::string detail = {});

  scram_credential_lookup lookup_;
  std::string server_nonce_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;
  std::string user_;
  std::optional<scram_credential> credential_; // nullopt: unknown user (decoy answers)
  std::string log_detail_;
  state state_ = state::initial;
};

} // namespace herald::security
