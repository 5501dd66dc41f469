#include "cluster/address.hpp"

#include <charconv>

namespace herald::cluster {

std::optional<std::pair<std::string, std::uint16_t>> parse_host_port(const std::string& text, bool allow_port_zero) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return std::nullopt;
  unsigned port = 0;
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, port);
  if (ec != std::errc{} || end != last || port > 65535 || (port == 0 && !allow_port_zero))
    return std::nullopt;
  return std::pair{text.substr(0, colon), static_cast<std::uint16_t>(port)};
}

} // namespace herald::cluster
