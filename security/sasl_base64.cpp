#include "security/sasl_base64.hpp"

#include <array>
#include <cstdint>

namespace herald::security {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// -1 for a character outside the alphabet.
constexpr std::array<int8_t, 256> make_reverse() {
  std::array<int8_t, 256> table{};
  for (auto& v : table)
    v = -1;
  for (int i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr auto reverse = make_reverse();

} // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 | uint8_t(bytes[i + 2]);
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    out += alphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  size_t pad = 0;
  if (!text.empty() && text.back() == '=')
    pad = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    size_t data_chars = last ? 4 - pad : 4;
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      v <<= 6;
      if (k >= data_chars)
        continue; // padding position ('=' checked below)
      int8_t d = reverse[static_cast<unsigned char>(text[i + k])];
      if (d < 0)
        return std::nullopt;
      v |= uint32_t(d);
    }
    out += char(v >> 16 & 0xff);
    if (data_chars >= 3)
      out += char(v >> 8 & 0xff);
    if (data_chars == 4)
      out += char(v & 0xff);
    // Bits below the last data byte must be zero, or two texts decode alike.
    if (data_chars == 2 && (v & 0xffff) != 0)
      return std::nullopt;
    if (data_chars == 3 && (v & 0xff) != 0)
      return std::nullopt;
  }
  return out;
}

} // namespace herald::security
