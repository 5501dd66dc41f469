#pragma once
// Which broker a client tries when any broker will do (metadata, admin, the
// first connection): the brokers metadata named, then the bootstrap list
// the user gave, each once; brokers whose connection failed go last (the
// longest-failed first among them), so a dead broker costs one failed
// connect per round rather than one per request. No CAF here.

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace herald::client {

class broker_candidates {
public:
  using time_point = std::chrono::steady_clock::time_point;

  broker_candidates() = default;
  explicit broker_candidates(std::vector<std::string> bootstrap) : bootstrap_(std::move(bootstrap)) {}

  void failed(const std::string& address, time_point when) { failed_[address] = when; }
  void succeeded(const std::string& address) { failed_.erase(address); }

  // `known`: the brokers metadata named (HOST:PORT).
  std::vector<std::string> order(const std::vector<std::string>& known) const {
    std::vector<std::string> all;
    for (const auto* list : {&known, &bootstrap_})
      for (const auto& a : *list)
        if (std::find(all.begin(), all.end(), a) == all.end())
          all.push_back(a);
    std::stable_sort(all.begin(), all.end(), [&](const std::string& a, const std::string& b) {
      auto fa = failed_.find(a), fb = failed_.find(b);
      if (fa == failed_.end() || fb == failed_.end())
        return fa == failed_.end() && fb != failed_.end();
      return fa->second < fb->second;
    });
    return all;
  }

  const std::vector<std::string>& bootstrap() const { return bootstrap_; }

private:
  std::vector<std::string> bootstrap_;
  std::map<std::string, time_point> failed_;
};

} // namespace herald::client
