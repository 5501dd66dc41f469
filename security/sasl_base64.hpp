#pragma once
// Strict base64 (RFC 4648 section 4, with padding), as SCRAM uses it for
// salts, proofs, signatures and the channel-binding attribute. Decoding
// refuses anything another implementation could read differently: characters
// outside the alphabet, whitespace, a length that is not a multiple of 4,
// padding anywhere but at the end, and nonzero bits in the padding.

#include <optional>
#include <string>
#include <string_view>

namespace herald::security {

std::string base64_encode(std::string_view bytes);

// std::nullopt for anything that is not canonical base64.
std::optional<std::string> base64_decode(std::string_view text);

} // namespace herald::security
