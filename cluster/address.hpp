#pragma once
// "HOST:PORT" as users write broker addresses.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace herald::cluster {

// nullopt unless `text` is HOST:PORT with a non-empty host and a decimal port
// in 1..65535 (0 too when `allow_port_zero`, meaning "pick a free port").
std::optional<std::pair<std::string, std::uint16_t>> parse_host_port(const std::string& text, bool allow_port_zero);

} // namespace herald::cluster
