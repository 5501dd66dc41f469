#include "security/scram.hpp"

#include "security/sasl_base64.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstring>

namespace herald::security {
namespace scram_detail {

sha256_digest hmac_sha256(std::string_view key, std::string_view data) {
  sha256_digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

sha256_digest hmac_sha256(const sha256_digest& key, std::string_view data) {
  return hmac_sha256(as_view(key), data);
}

sha256_digest sha256(std::string_view data) {
  sha256_digest out{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

bool equal_constant_time(const sha256_digest& a, const sha256_digest& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view as_view(const sha256_digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

std::optional<uint32_t> parse_u32(std::string_view text) {
  if (text.empty() || text.size() > 10 || (text.size() > 1 && text[0] == '0'))
    return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + uint64_t(c - '0');
  }
  if (v > UINT32_MAX)
    return std::nullopt;
  return static_cast<uint32_t>(v);
}

bool is_printable_nonce(std::string_view nonce) {
  for (char c : nonce)
    if (c < 0x21 || c > 0x7e || c == ',')
      return false;
  return true;
}

std::optional<std::vector<attribute>> split_attributes(std::string_view message) {
  std::vector<attribute> out;
  size_t pos = 0;
  while (true) {
    size_t comma = message.find(',', pos);
    std::string_view item = message.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (item.size() < 2 || item[1] != '=' || !((item[0] >= 'a' && item[0] <= 'z') || (item[0] >= 'A' && item[0] <= 'Z')))
      return std::nullopt;
    out.push_back({item[0], item.substr(2)});
    if (comma == std::string_view::npos)
      return out;
    pos = comma + 1;
  }
}

} // namespace scram_detail

using namespace scram_detail;

namespace {

// SaltedPassword, ClientKey, StoredKey and ServerKey of RFC 5802 section 3.
struct derived_keys {
  sha256_digest client_key;
  sha256_digest stored_key;
  sha256_digest server_key;
};

std::optional<derived_keys> derive(std::string_view password, std::string_view salt, uint32_t iterations) {
  sha256_digest salted{};
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        static_cast<int>(iterations), EVP_sha256(), static_cast<int>(salted.size()), salted.data()) != 1)
    return std::nullopt;
  derived_keys k;
  k.client_key = hmac_sha256(salted, "Client Key");
  k.stored_key = sha256(as_view(k.client_key));
  k.server_key = hmac_sha256(salted, "Server Key");
  OPENSSL_cleanse(salted.data(), salted.size());
  return k;
}

bool iterations_in_range(uint32_t i) {
  return i >= scram_min_iterations && i <= scram_max_iterations;
}

std::optional<sha256_digest> decode_digest(std::string_view b64) {
  auto raw = base64_decode(b64);
  if (!raw || raw->size() != sizeof(sha256_digest))
    return std::nullopt;
  sha256_digest d{};
  std::memcpy(d.data(), raw->data(), d.size());
  return d;
}

} // namespace

std::optional<scram_credential> make_credential(std::string_view password, std::string_view salt,
                                                uint32_t iterations) {
  if (!iterations_in_range(iterations) || salt.empty())
    return std::nullopt;
  auto keys = derive(password, salt, iterations);
  if (!keys)
    return std::nullopt;
  scram_credential c;
  c.salt = std::string(salt);
  c.iterations = iterations;
  c.stored_key = keys->stored_key;
  c.server_key = keys->server_key;
  return c;
}

std::optional<scram_credential> make_credential(std::string_view password, uint32_t iterations) {
  std::string salt(16, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1)
    return std::nullopt;
  return make_credential(password, salt, iterations);
}

std::string encode_credential(const scram_credential& c) {
  return std::string(scram_sha_256) + ":iterations=" + std::to_string(c.iterations) + ",salt=" +
         base64_encode(c.salt) + ",stored_key=" + base64_encode(as_view(c.stored_key)) +
         ",server_key=" + base64_encode(as_view(c.server_key));
}

std::optional<scram_credential> decode_credential(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<scram_credential> {
    if (error)
      *error = "invalid SCRAM credential: " + why;
    return std::nullopt;
  };
  if (!text.empty() && text.back() == '\n')
    text.remove_suffix(1);
  std::string prefix = std::string(scram_sha_256) + ":";
  if (text.substr(0, prefix.size()) != prefix)
    return fail("does not start with \"" + prefix + "\"");
  text.remove_prefix(prefix.size());
  const char* keys[] = {"iterations", "salt", "stored_key", "server_key"};
  std::string_view values[4];
  for (int i = 0; i < 4; ++i) {
    std::string want = std::string(keys[i]) + "=";
    if (text.substr(0, want.size()) != want)
      return fail(std::string("expected \"") + keys[i] + "=\" as field " + std::to_string(i + 1));
    text.remove_prefix(want.size());
    size_t comma = text.find(',');
    if ((comma == std::string_view::npos) != (i == 3))
      return fail(i == 3 ? "trailing fields after server_key" : std::string("missing fields after ") + keys[i]);
    values[i] = text.substr(0, comma);
    text.remove_prefix(i == 3 ? text.size() : comma + 1);
  }
  scram_credential c;
  auto iterations = parse_u32(values[0]);
  if (!iterations || !iterations_in_range(*iterations))
    return fail("iterations must be a number in [" + std::to_string(scram_min_iterations) + ", " +
                std::to_string(scram_max_iterations) + "]");
  c.iterations = *iterations;
  auto salt = base64_decode(values[1]);
  if (!salt || salt->empty())
    return fail("salt is not non-empty base64");
  c.salt = std::move(*salt);
  auto stored = decode_digest(values[2]);
  auto server = decode_digest(values[3]);
  if (!stored || !server)
    return fail("stored_key and server_key must be 32 bytes in base64");
  c.stored_key = *stored;
  c.server_key = *server;
  return c;
}

std::string scram_escape_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ',')
      out += "=2C";
    else if (c == '=')
      out += "=3D";
    else
      out += c;
  }
  return out;
}

std::optional<std::string> scram_unescape_name(std::string_view saslname) {
  std::string out;
  for (size_t i = 0; i < saslname.size(); ++i) {
    char c = saslname[i];
    if (c == ',')
      return std::nullopt;
    if (c != '=') {
      out += c;
      continue;
    }
    std::string_view code = saslname.substr(i + 1, 2);
    if (code == "2C")
      out += ',';
    else if (code == "3D")
      out += '=';
    else
      return std::nullopt;
    i += 2;
  }
  return out;
}

std::string scram_make_nonce() {
  unsigned char raw[18];
  if (RAND_bytes(raw, sizeof raw) != 1)
    return {}; // callers treat an empty nonce as a failure
  return base64_encode({reinterpret_cast<const char*>(raw), sizeof raw});
}

scram_client::scram_client(std::string user, std::string password, std::string nonce)
    : user_(std::move(user)), password_(std::move(password)), nonce_(std::move(nonce)) {
  if (nonce_.empty())
    nonce_ = scram_make_nonce();
}

scram_step scram_client::fail(std::string error) {
  state_ = state::failed;
  OPENSSL_cleanse(password_.data(), password_.size());
  return {{}, std::move(error)};
}

scram_step scram_client::first_message() {
  if (state_ != state::initial)
    return fail("SCRAM client: first message asked for twice");
  if (user_.empty())
    return fail("SCRAM: the user name is empty");
  if (user_.size() > max_name_bytes)
    return fail("SCRAM: the user name is longer than " + std::to_string(max_name_bytes) + " bytes");
  if (nonce_.empty() || !is_printable_nonce(nonce_))
    return fail("SCRAM: no usable client nonce (random source failed?)");
  client_first_bare_ = "n=" + scram_escape_name(user_) + ",r=" + nonce_;
  state_ = state::sent_first;
  return {"n,," + client_first_bare_, {}};
}

scram_step scram_client::final_message(std::string_view server_first) {
  if (state_ != state::sent_first)
    return fail("SCRAM client: server-first message out of order");
  if (server_first.size() > max_message_bytes)
    return fail("SCRAM: server-first message longer than " + std::to_string(max_message_bytes) + " bytes");
  auto attrs = split_attributes(server_first);
  if (!attrs)
    return fail("SCRAM: malformed server-first message");
  if (!attrs->empty() && (*attrs)[0].name == 'e')
    return fail("SCRAM: the server refused: " + std::string((*attrs)[0].value));
  if (!attrs->empty() && (*attrs)[0].name == 'm')
    return fail("SCRAM: the server requires an extension this client does not support");
  if (attrs->size() < 3 || (*attrs)[0].name != 'r' || (*attrs)[1].name != 's' || (*attrs)[2].name != 'i')
    return fail("SCRAM: server-first message is not r=...,s=...,i=...");
  std::string_view nonce = (*attrs)[0].value;
  if (nonce.size() <= nonce_.size() || nonce.substr(0, nonce_.size()) != nonce_ ||
      nonce.size() > 2 * max_nonce_bytes || !is_printable_nonce(nonce))
    return fail("SCRAM: the server's nonce does not extend the client's (replayed or forged message)");
  auto salt = base64_decode((*attrs)[1].value);
  if (!salt || salt->empty())
    return fail("SCRAM: the server's salt is not non-empty base64");
  auto iterations = parse_u32((*attrs)[2].value);
  if (!iterations)
    return fail("SCRAM: the server's iteration count is not a number");
  if (*iterations < scram_min_iterations)
    return fail("SCRAM: the server asks for " + std::to_string(*iterations) + " iterations, fewer than " +
                std::to_string(scram_min_iterations) + " (refused: too weak)");
  if (*iterations > scram_max_iterations)
    return fail("SCRAM: the server asks for " + std::to_string(*iterations) + " iterations, more than " +
                std::to_string(scram_max_iterations) + " (refused)");
  auto keys = derive(password_, *salt, *iterations);
  OPENSSL_cleanse(password_.data(), password_.size());
  if (!keys)
    return fail("SCRAM: PBKDF2 failed");
  std::string without_proof = "c=biws,r=" + std::string(nonce);
  std::string auth_message = client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  sha256_digest signature = hmac_sha256(keys->stored_key, auth_message);
  sha256_digest proof{};
  for (size_t i = 0; i < proof.size(); ++i)
    proof[i] = keys->client_key[i] ^ signature[i];
  expected_server_signature_ = hmac_sha256(keys->server_key, auth_message);
  state_ = state::sent_final;
  return {without_proof + ",p=" + base64_encode(as_view(proof)), {}};
}

scram_step scram_client::verify_server_final(std::string_view server_final) {
  if (state_ != state::sent_final)
    return fail("SCRAM client: server-final message out of order");
  auto attrs = split_attributes(server_final);
  if (!attrs || attrs->empty())
    return fail("SCRAM: malformed server-final message");
  if ((*attrs)[0].name == 'e')
    return fail("SCRAM: the server refused: " + std::string((*attrs)[0].value));
  if ((*attrs)[0].name != 'v')
    return fail("SCRAM: server-final message is not v=...");
  auto signature = decode_digest((*attrs)[0].value);
  if (!signature || !equal_constant_time(*signature, expected_server_signature_))
    return fail("SCRAM: the server's signature is wrong (the server does not know this user's credential)");
  state_ = state::done;
  return {};
}

} // namespace herald::security
