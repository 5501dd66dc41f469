#include "security/scram_server.hpp"

#include "security/sasl_base64.hpp"

#include <openssl/rand.h>

#include <cstring>

namespace herald::security {

using namespace scram_detail;

namespace {

// The same refusal for a wrong password and an unknown user.
constexpr std::string_view bad_credentials = "unknown user or wrong password";

// Per-process secret for decoy salts: an unknown user's salt is stable across
// attempts (as a real one would be) and unpredictable to the client.
const std::string& decoy_secret() {
  static const std::string secret = [] {
    std::string s(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(s.size())) != 1)
      s = "herald-decoy"; // still no answer that differs from a real user's
    return s;
  }();
  return secret;
}

bool is_loggable_name(std::string_view name) {
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return false;
  return true;
}

} // namespace

scram_server::scram_server(scram_credential_lookup lookup, std::string nonce)
    : lookup_(std::move(lookup)), server_nonce_(std::move(nonce)) {
  if (server_nonce_.empty())
    server_nonce_ = scram_make_nonce();
}

scram_step scram_server::fail(std::string_view server_error, std::string error, std::string detail) {
  state_ = state::failed;
  log_detail_ = detail.empty() ? error : std::move(detail);
  return {"e=" + std::string(server_error), std::move(error)};
}

scram_step scram_server::first_response(std::string_view client_first) {
  if (state_ != state::initial)
    return fail("other-error", "SCRAM: client-first message out of order");
  if (client_first.size() > max_message_bytes)
    return fail("invalid-encoding", "SCRAM: client-first message longer than " +
                                        std::to_string(max_message_bytes) + " bytes");
  // gs2-header: cbind-flag "," [authzid] ","
  size_t c1 = client_first.find(',');
  size_t c2 = c1 == std::string_view::npos ? c1 : client_first.find(',', c1 + 1);
  if (c2 == std::string_view::npos)
    return fail("invalid-encoding", "SCRAM: client-first message has no GS2 header (expected \"n,,\")");
  std::string_view flag = client_first.substr(0, c1);
  std::string_view authzid = client_first.substr(c1 + 1, c2 - c1 - 1);
  if (!flag.empty() && flag[0] == 'p')
    return fail("channel-binding-not-supported", "SCRAM: channel binding is not supported (use gs2 flag \"n\")");
  if (flag != "n" && flag != "y")
    return fail("invalid-encoding", "SCRAM: client-first message has an invalid GS2 flag");
  if (!authzid.empty())
    return fail("other-error", "SCRAM: an authorization identity (a=) is not supported");
  gs2_header_ = std::string(client_first.substr(0, c2 + 1));
  client_first_bare_ = std::string(client_first.substr(c2 + 1));

  auto attrs = split_attributes(client_first_bare_);
  if (!attrs)
    return fail("invalid-encoding", "SCRAM: malformed client-first message");
  if (!attrs->empty() && (*attrs)[0].name == 'm')
    return fail("extensions-not-supported", "SCRAM: mandatory extensions are not supported");
  if (attrs->size() < 2 || (*attrs)[0].name != 'n' || (*attrs)[1].name != 'r')
    return fail("invalid-encoding", "SCRAM: client-first message is not n,,n=...,r=...");
  auto user = scram_unescape_name((*attrs)[0].value);
  if (!user || user->empty() || user->size() > max_name_bytes || !is_loggable_name(*user))
    return fail("invalid-username-encoding", "SCRAM: the user name is empty, too long or badly escaped");
  std::string_view client_nonce = (*attrs)[1].value;
  if (client_nonce.empty() || client_nonce.size() > max_nonce_bytes || !is_printable_nonce(client_nonce))
    return fail("invalid-encoding", "SCRAM: the client nonce is empty, too long or not printable");
  if (server_nonce_.empty())
    return fail("no-resources", "SCRAM: the server could not make a nonce");
  user_ = std::move(*user);
  nonce_ = std::string(client_nonce) + server_nonce_;

  credential_ = lookup_ ? lookup_(user_) : std::nullopt;
  std::string salt;
  uint32_t iterations;
  if (credential_) {
    salt = credential_->salt;
    iterations = credential_->iterations;
  } else {
    salt = std::string(as_view(hmac_sha256(decoy_secret(), "salt:" + user_)).substr(0, 16));
    iterations = scram_default_iterations;
  }
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(salt) + ",i=" + std::to_string(iterations);
  state_ = state::sent_first;
  return {server_first_, {}};
}

scram_step scram_server::final_response(std::string_view client_final) {
  if (state_ != state::sent_first)
    return fail("other-error", "SCRAM: client-final message out of order");
  if (client_final.size() > max_message_bytes)
    return fail("invalid-encoding", "SCRAM: client-final message longer than " +
                                        std::to_string(max_message_bytes) + " bytes");
  auto attrs = split_attributes(client_final);
  if (!attrs || attrs->size() < 3 || (*attrs)[0].name != 'c' || (*attrs)[1].name != 'r' ||
      attrs->back().name != 'p')
    return fail("invalid-encoding", "SCRAM: client-final message is not c=...,r=...,p=...");
  if ((*attrs)[0].value != base64_encode(gs2_header_))
    return fail("channel-bindings-dont-match", "SCRAM: the channel-binding attribute does not match the GS2 header");
  if ((*attrs)[1].value != nonce_)
    return fail("other-error", "SCRAM: the nonce does not match this exchange (replayed or forged message)");
  std::string_view proof_b64 = attrs->back().value;
  auto proof = base64_decode(proof_b64);
  if (!proof || proof->size() != sizeof(sha256_digest))
    return fail("invalid-encoding", "SCRAM: the proof is not 32 bytes in base64");
  // Everything before ",p=<proof>".
  std::string_view without_proof = client_final.substr(0, client_final.size() - proof_b64.size() - 3);
  std::string auth_message = client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);

  // A decoy credential for an unknown user: the same work, then the same refusal.
  scram_credential credential = credential_.value_or(scram_credential{});
  sha256_digest signature = hmac_sha256(credential.stored_key, auth_message);
  sha256_digest client_key{};
  for (size_t i = 0; i < client_key.size(); ++i)
    client_key[i] = static_cast<unsigned char>((*proof)[i]) ^ signature[i];
  bool match = equal_constant_time(sha256(as_view(client_key)), credential.stored_key);
  if (!credential_)
    return fail("invalid-proof", std::string(bad_credentials), "SCRAM: unknown user '" + user_ + "'");
  if (!match)
    return fail("invalid-proof", std::string(bad_credentials), "SCRAM: wrong password for user '" + user_ + "'");
  state_ = state::done;
  return {"v=" + base64_encode(as_view(hmac_sha256(credential.server_key, auth_message))), {}};
}

} // namespace herald::security
