#include "security/connection_limits.hpp"

#include <mutex>
#include <unordered_map>

namespace herald::security {

// Shared by the limits object and every ticket, so tickets may outlive it.
struct connection_limits::shared {
  explicit shared(connection_limits_config c) : config(c) {}
  const connection_limits_config config;
  mutable std::mutex mutex;
  std::size_t total = 0;
  std::unordered_map<std::string, std::size_t> per_ip; // only IPs with a connection

  void give_back(const std::string& ip) {
    std::lock_guard lock(mutex);
    if (total > 0)
      --total;
    const auto it = per_ip.find(ip);
    if (it != per_ip.end() && --it->second == 0)
      per_ip.erase(it);
  }
};

// Caps beyond this would be no cap at all on any machine (and a typo).
static constexpr std::size_t absurd_connections = 10'000'000;

std::string check_connection_limits_config(const connection_limits_config& config) {
  if (config.max_total > absurd_connections)
    return "--max-connections must be at most " + std::to_string(absurd_connections) + " (0 = no cap)";
  if (config.max_per_ip > absurd_connections)
    return "--max-connections-per-ip must be at most " + std::to_string(absurd_connections) + " (0 = no cap)";
  if (config.max_total != 0 && config.max_per_ip > config.max_total)
    return "--max-connections-per-ip (" + std::to_string(config.max_per_ip) + ") exceeds --max-connections (" +
           std::to_string(config.max_total) + ")";
  return {};
}

std::string normalize_client_ip(std::string_view ip) {
  constexpr std::string_view mapped = "::ffff:";
  if (ip.size() > mapped.size() && ip.substr(0, mapped.size()) == mapped &&
      ip.find('.', mapped.size()) != std::string_view::npos)
    ip.remove_prefix(mapped.size());
  return std::string(ip);
}

connection_limits::ticket::ticket(std::shared_ptr<shared> state, std::string ip)
    : state_(std::move(state)), ip_(std::move(ip)) {}

connection_limits::ticket::ticket(ticket&& other) noexcept
    : state_(std::move(other.state_)), ip_(std::move(other.ip_)) {
  other.state_ = nullptr;
}

connection_limits::ticket& connection_limits::ticket::operator=(ticket&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
    ip_ = std::move(other.ip_);
    other.state_ = nullptr;
  }
  return *this;
}

connection_limits::ticket::~ticket() { release(); }

void connection_limits::ticket::release() {
  if (state_) {
    state_->give_back(ip_);
    state_ = nullptr;
  }
}

connection_limits::connection_limits(connection_limits_config config)
    : state_(std::make_shared<shared>(config)) {}

connection_limits::admission connection_limits::acquire(std::string_view client_ip) {
  auto ip = normalize_client_ip(client_ip);
  admission result;
  std::lock_guard lock(state_->mutex);
  const auto& config = state_->config;
  if (config.max_total != 0 && state_->total >= config.max_total) {
    result.refused = refusal::total;
    result.reason = "too many connections to this broker (limit " + std::to_string(config.max_total) + ")";
    return result;
  }
  if (config.max_per_ip != 0) {
    const auto it = state_->per_ip.find(ip);
    if (it != state_->per_ip.end() && it->second >= config.max_per_ip) {
      result.refused = refusal::per_ip;
      result.reason = "too many connections from " + ip + " (limit " + std::to_string(config.max_per_ip) + " per IP)";
      return result;
    }
  }
  ++state_->total;
  ++state_->per_ip[ip];
  result.slot = ticket(state_, std::move(ip));
  return result;
}

std::size_t connection_limits::total() const {
  std::lock_guard lock(state_->mutex);
  return state_->total;
}

std::size_t connection_limits::count(std::string_view client_ip) const {
  const auto ip = normalize_client_ip(client_ip);
  std::lock_guard lock(state_->mutex);
  const auto it = state_->per_ip.find(ip);
  return it == state_->per_ip.end() ? 0 : it->second;
}

const connection_limits_config& connection_limits::config() const { return state_->config; }

} // namespace herald::security
