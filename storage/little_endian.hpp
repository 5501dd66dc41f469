#pragma once
// Little-endian integer fields for the small on-disk structures of storage/
// (indexes, hard_state, log_start). Byte by byte, so the format is the same
// on any host and no unaligned loads are needed.

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace herald::storage::le {

template <class T>
void put(char* out, T value) {
  using U = std::make_unsigned_t<T>;
  const auto u = static_cast<U>(value);
  for (std::size_t i = 0; i < sizeof(T); ++i) out[i] = static_cast<char>(static_cast<unsigned char>(u >> (8 * i)));
}

template <class T>
T get(const char* in) {
  using U = std::make_unsigned_t<T>;
  U u = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    u = static_cast<U>(u | static_cast<U>(static_cast<U>(static_cast<unsigned char>(in[i])) << (8 * i)));
  }
  return static_cast<T>(u);
}

} // namespace herald::storage::le
