#include "actors/restart_policy.hpp"

#include <algorithm>

namespace herald::actors {

std::uint64_t restart_policy::started(const key& k, clock::time_point now) {
  auto& s = slots_[k];
  s.incarnation = next_incarnation_++;
  s.running = true;
  s.started_at = now;
  return s.incarnation;
}

restart_policy::decision restart_policy::on_down(const key& k, std::uint64_t incarnation, clock::time_point now) {
  auto i = slots_.find(k);
  if (i == slots_.end() || i->second.incarnation != incarnation || !i->second.running)
    return {};  // a stale actor (replaced, or its topic deleted and perhaps re-created)
  auto& s = i->second;
  s.running = false;
  if (now - s.started_at >= config_.window)
    s.backoff_level = 0;  // it ran well for a while: this is a new failure episode
  while (!s.recent.empty() && now - s.recent.front() > config_.window)
    s.recent.pop_front();
  s.recent.push_back(now);
  decision d;
  d.recent_failures = static_cast<unsigned>(s.recent.size());
  if (s.recent.size() <= config_.fast_restarts) {
    d.what = action::restart_now;
    return d;
  }
  auto delay = config_.initial_backoff;
  for (unsigned level = 0; level < s.backoff_level && delay < config_.max_backoff; ++level)
    delay *= 2;
  d.what = action::restart_later;
  d.delay = std::min(delay, config_.max_backoff);
  if (d.delay < config_.max_backoff)
    ++s.backoff_level;
  return d;
}

bool restart_policy::retry_due(const key& k, std::uint64_t incarnation) const {
  auto i = slots_.find(k);
  return i != slots_.end() && i->second.incarnation == incarnation && !i->second.running;
}

bool restart_policy::offline(const key& k) const {
  auto i = slots_.find(k);
  return i != slots_.end() && !i->second.running;
}

void restart_policy::reset_backoff(const key& k) {
  if (auto i = slots_.find(k); i != slots_.end()) {
    i->second.recent.clear();
    i->second.backoff_level = 0;
  }
}

void restart_policy::forget(const key& k) {
  slots_.erase(k);
}

std::uint64_t restart_policy::incarnation(const key& k) const {
  auto i = slots_.find(k);
  return i == slots_.end() ? 0 : i->second.incarnation;
}

} // namespace herald::actors
