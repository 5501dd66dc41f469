#pragma once
// SCRAM-SHA-256 (RFC 5802, RFC 7677): the stored credential and the client
// half of the exchange. No network, no actors: a state machine that turns the
// server's messages into the client's, so the client library and tests drive
// it the same way. The server half is security/scram_server.hpp.
//
// The exchange (no channel binding; gs2 header "n,,"):
//   client-first  n,,n=<saslname>,r=<client nonce>
//   server-first  r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>
//   client-final  c=biws,r=<both nonces>,p=<base64 ClientProof>
//   server-final  v=<base64 ServerSignature>          (or e=<error>)
// saslname escapes ',' as "=2C" and '=' as "=3D". Passwords are used as their
// UTF-8 bytes without SASLprep (as Kafka does); ASCII passwords are the same
// either way.
//
// Nothing here throws: every malformed or hostile message is an error text.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::security {

inline constexpr std::string_view scram_sha_256 = "SCRAM-SHA-256";
// RFC 7677 section 4: at least 4096. Both sides refuse fewer.
inline constexpr uint32_t scram_min_iterations = 4096;
// A hostile server must not make a client spin for minutes (1M is ~0.5 s).
inline constexpr uint32_t scram_max_iterations = 1'000'000;
inline constexpr uint32_t scram_default_iterations = 8192;

using sha256_digest = std::array<unsigned char, 32>;

// What a broker stores per user: never the password, only what verifies a
// proof (StoredKey) and signs the server's answer (ServerKey).
struct scram_credential {
  std::string salt; // raw bytes
  uint32_t iterations = 0;
  sha256_digest stored_key{};
  sha256_digest server_key{};

  bool operator==(const scram_credential&) const = default;
};

// Derives the credential for a password (PBKDF2-HMAC-SHA-256). std::nullopt
// when iterations lies outside [scram_min_iterations, scram_max_iterations] or
// the salt is empty.
std::optional<scram_credential> make_credential(std::string_view password, std::string_view salt,
                                                uint32_t iterations);
// The same with a fresh random 16-byte salt.
std::optional<scram_credential> make_credential(std::string_view password,
                                                uint32_t iterations = scram_default_iterations);

// One line of text (what `/herald/users/<name>` holds):
//   SCRAM-SHA-256:iterations=<decimal>,salt=<base64>,stored_key=<base64>,server_key=<base64>
// Parsing is strict: this mechanism, all four keys in this order, canonical
// base64, 32-byte keys, iterations in range. A trailing '\n' is accepted.
std::string encode_credential(const scram_credential& credential);
// On failure: std::nullopt and *error (when given) says what is wrong.
std::optional<scram_credential> decode_credential(std::string_view text, std::string* error = nullptr);

// saslname escaping of RFC 5802 section 5.1.
std::string scram_escape_name(std::string_view name);
// std::nullopt for '=' not followed by "2C"/"3D", or a raw ','.
std::optional<std::string> scram_unescape_name(std::string_view saslname);

// A fresh nonce: 18 random bytes in base64 (printable, never ',').
std::string scram_make_nonce();

// A message to send, or an error (then the exchange is over).
struct scram_step {
  std::string message;
  std::string error; // empty on success
  bool ok() const { return error.empty(); }
};

class scram_client {
public:
  // nonce: the client nonce; empty = a fresh random one (tests pass RFC 7677's).
  scram_client(std::string user, std::string password, std::string nonce = {});

  // Step 1: n,,n=<user>,r=<nonce>. Fails for an empty user name.
  scram_step first_message();
  // Step 2: the server-first message -> client-final. Checks the nonce
  // (must extend ours), salt and iteration count.
  scram_step final_message(std::string_view server_first);
  // Step 3: the server-final message; ok() only when its signature proves the
  // server knows our credential. An "e=" answer becomes the error.
  scram_step verify_server_final(std::string_view server_final);

  // True after verify_server_final succeeded.
  bool authenticated() const { return state_ == state::done; }

private:
  enum class state { initial, sent_first, sent_final, done, failed };
  scram_step fail(std::string error);

  std::string user_;
  std::string password_;
  std::string nonce_;
  std::string client_first_bare_;
  sha256_digest expected_server_signature_{};
  state state_ = state::initial;
};

namespace scram_detail {
// Primitives shared with the server half (scram_server.cpp).
sha256_digest hmac_sha256(const sha256_digest& key, std::string_view data);
sha256_digest hmac_sha256(std::string_view key, std::string_view data);
sha256_digest sha256(std::string_view data);
bool equal_constant_time(const sha256_digest& a, const sha256_digest& b);
std::string_view as_view(const sha256_digest& d);
// A decimal u32 without sign, leading zeros or overflow.
std::optional<uint32_t> parse_u32(std::string_view text);
// Printable ASCII except ',' (RFC 5802's "printable").
bool is_printable_nonce(std::string_view nonce);
// Splits "a=v,b=w" into attributes; std::nullopt for an element that is not
// "<letter>=...".
struct attribute {
  char name;
  std::string_view value;
};
std::optional<std::vector<attribute>> split_attributes(std::string_view message);
// Bounds that keep a hostile peer's message small.
inline constexpr size_t max_nonce_bytes = 256;
inline constexpr size_t max_name_bytes = 256;
inline constexpr size_t max_message_bytes = 2048;
} // namespace scram_detail

} // namespace herald::security
