#include "security/quota.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace herald::security {

namespace {

std::int64_t to_ms(quota_registry::clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ')
    s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  return s;
}

} // namespace

bool quota_config::any() const {
  if (defaults.any())
    return true;
  return std::any_of(overrides.begin(), overrides.end(), [](const auto& o) { return o.second.any(); });
}

bool quota_config::any_ownership() const {
  if (defaults.any_ownership())
    return true;
  return std::any_of(overrides.begin(), overrides.end(), [](const auto& o) { return o.second.any_ownership(); });
}

std::string check_quota_config(const quota_config& config) {
  if (config.burst.count() < 1 || config.burst > std::chrono::minutes(10))
    return "quota burst must be 1 ms..10 min, not " + std::to_string(config.burst.count()) + " ms";
  if (config.max_throttle.count() < 1 || config.max_throttle > std::chrono::hours(1))
    return "quota max throttle must be 1 ms..1 h, not " + std::to_string(config.max_throttle.count()) + " ms";
  for (const auto& [principal, limits] : config.overrides) {
    (void)limits;
    if (principal.empty())
      return "a quota override names no principal";
  }
  return {};
}

std::string parse_quota_override(std::string_view text, const quota_limits& defaults, std::string& principal,
                                 quota_limits& limits) {
  const std::string shown(text);
  // The principal may hold ':' (User:alice) but not '=', the limits hold no '='.
  const auto eq = text.rfind('=');
  if (eq == std::string_view::npos)
    return "quota override '" + shown + "' is not PRINCIPAL=produce:N,fetch:M,partitions:P,disk:B";
  const auto who = trim(text.substr(0, eq));
  if (who.size() <= 5 || who.substr(0, 5) != "User:")
    return "quota override '" + shown + "': the principal must be User:<name>";
  quota_limits parsed = defaults;
  struct quota_part {
    std::string_view key;
    std::uint64_t quota_limits::*field;
    bool seen = false;
  };
  quota_part parts[] = {{"produce", &quota_limits::produce_bytes_per_sec},
                  {"fetch", &quota_limits::fetch_bytes_per_sec},
                  {"partitions", &quota_limits::partitions},
                  {"disk", &quota_limits::disk_bytes}};
  std::string_view rest = text.substr(eq + 1);
  if (trim(rest).empty())
    return "quota override '" + shown + "' gives no limit (produce:N, fetch:M, partitions:P and/or disk:B)";
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto part = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const auto colon = part.find(':');
    if (colon == std::string_view::npos)
      return "quota override '" + shown + "': '" + std::string(part) + "' is not produce:N, fetch:M, partitions:P or disk:B";
    const auto key = trim(part.substr(0, colon));
    const auto value = trim(part.substr(colon + 1));
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc{} || end != value.data() + value.size())
      return "quota override '" + shown + "': '" + std::string(value) + "' is not " +
             (key == "partitions" ? "a partition count" : "a byte count");
    auto* p = std::find_if(std::begin(parts), std::end(parts), [&](const quota_part& x) { return x.key == key; });
    if (p == std::end(parts))
      return "quota override '" + shown + "': unknown quota '" + std::string(key) +
             "' (produce, fetch, partitions or disk)";
    if (p->seen)
      return "quota override '" + shown + "' gives " + std::string(key) + " twice";
    parsed.*(p->field) = n;
    p->seen = true;
  }
  principal = std::string(who);
  limits = parsed;
  return {};
}

std::string build_quota_config(const quota_limits& defaults, const std::vector<std::string>& overrides,
                               quota_config& out) {
  quota_config config;
  config.defaults = defaults;
  for (const auto& text : overrides) {
    std::string principal;
    quota_limits limits;
    if (auto why = parse_quota_override(text, config.defaults, principal, limits); !why.empty())
      return "--quota: " + why;
    if (!config.overrides.emplace(principal, limits).second)
      return "--quota names " + principal + " twice";
  }
  if (auto why = check_quota_config(config); !why.empty())
    return why;
  out = std::move(config);
  return {};
}

quota_registry::quota_registry(quota_config config) : config_(std::move(config)), enabled_(config_.any()) {}

quota_limits quota_registry::limits_for(std::string_view principal) const {
  const auto it = config_.overrides.find(principal);
  return it == config_.overrides.end() ? config_.defaults : it->second;
}

double quota_registry::capacity(std::uint64_t limit) const {
  return static_cast<double>(limit) * static_cast<double>(config_.burst.count()) / 1000.0;
}

// The bucket fills at the limit since it was last touched, up to its size. A
// bucket seen for the first time starts full.
void quota_registry::refill(bucket& b, std::uint64_t limit, std::int64_t now_ms) const {
  if (!b.started) {
    b.tokens = capacity(limit);
    b.last_ms = now_ms;
    b.started = true;
    return;
  }
  if (now_ms > b.last_ms) { // threads may report slightly out of order: time never runs back
    b.tokens = std::min(capacity(limit), b.tokens + static_cast<double>(limit) * static_cast<double>(now_ms - b.last_ms) / 1000.0);
    b.last_ms = now_ms;
  }
}

std::chrono::milliseconds quota_registry::record(std::string_view principal, quota_kind kind, std::uint64_t bytes,
                                                 clock::time_point now) {
  if (!enabled_)
    return std::chrono::milliseconds{0};
  const auto limit = limits_for(principal).of(kind);
  if (limit == 0)
    return std::chrono::milliseconds{0};
  const auto now_ms = to_ms(now);
  std::lock_guard lock(mutex_);
  if (states_.size() >= next_idle_sweep_)
    drop_idle(now_ms);
  auto& state = states_[std::string(principal)];
  auto& b = kind == quota_kind::produce ? state.produce : state.fetch;
  refill(b, limit, now_ms);
  // Taken even when it goes into debt: the bytes were sent (Kafka does the same).
  b.tokens -= static_cast<double>(bytes);
  if (b.tokens >= 0)
    return std::chrono::milliseconds{0};
  // The pause after which the debt is paid back at the limit.
  const double pause_ms = std::ceil(-b.tokens / static_cast<double>(limit) * 1000.0);
  const double capped = std::min(pause_ms, static_cast<double>(config_.max_throttle.count()));
  return std::chrono::milliseconds{static_cast<std::int64_t>(capped)};
}

double quota_registry::available(std::string_view principal, quota_kind kind, clock::time_point now) const {
  const auto limit = limits_for(principal).of(kind);
  const auto now_ms = to_ms(now);
  std::lock_guard lock(mutex_);
  const auto it = states_.find(std::string(principal));
  if (limit == 0 || it == states_.end())
    return capacity(limit);
  auto b = kind == quota_kind::produce ? it->second.produce : it->second.fetch; // a copy: refilling is not const
  refill(b, limit, now_ms);
  return b.tokens;
}

std::size_t quota_registry::tracked() const {
  std::lock_guard lock(mutex_);
  return states_.size();
}

// A principal whose buckets have filled up again has nothing to remember.
bool quota_registry::full(const principal_state& s, const quota_limits& limits, std::int64_t now_ms) const {
  for (const auto kind : {quota_kind::produce, quota_kind::fetch}) {
    const auto& b = kind == quota_kind::produce ? s.produce : s.fetch;
    const auto limit = limits.of(kind);
    if (!b.started || limit == 0)
      continue;
    const double refilled =
        b.tokens + static_cast<double>(limit) * static_cast<double>(std::max<std::int64_t>(0, now_ms - b.last_ms)) / 1000.0;
    if (refilled < capacity(limit))
      return false;
  }
  return true;
}

// Dropping full buckets keeps many short-lived principals from piling up.
// Amortised: runs when the map has doubled since the last sweep.
void quota_registry::drop_idle(std::int64_t now_ms) {
  for (auto it = states_.begin(); it != states_.end();) {
    if (full(it->second, limits_for(it->first), now_ms))
      it = states_.erase(it);
    else
      ++it;
  }
  next_idle_sweep_ = std::max<std::size_t>(1024, states_.size() * 2);
}

} // namespace herald::security
