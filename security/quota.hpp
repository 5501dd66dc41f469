#pragma once
// Produce and fetch byte-rate quotas per principal. After each produce or
// fetch response a connection actor records the bytes and is told how long
// that principal's connection must pause; it puts that into the frame's
// throttle_ms and stops reading the socket for that long (Kafka's muting). A
// client that honours it settles at its limit.
//
// The accounting is a token bucket with debt (Kafka's KIP-599 TokenBucket),
// not Kafka's older sampled window (KIP-13: 11 samples of 1 s, rate = bytes in
// the live samples / their span, at least 10 s). Both answer
//
//     throttle = (observed - limit) / limit * window  =  excess bytes / limit
//
// but the sampled window lumps a burst into one sample that expires at once,
// after which the principal may burst again: simulated here, a producer on a
// fast link limited to 1 MiB/s swung between 0.07 and 1.9 MiB/s over 10 s
// spans (period ~11 s) and overshot 1.4 MiB/s with 8 MiB batches. The bucket
// holds `burst` worth of the limit, refills continuously at the limit, and
// may go negative: the debt is the excess, so the pause is exact and a
// principal that honours it gets its limit within one request's bytes,
// whatever its batch size.
//
// Thread-safe: one registry is shared by every connection actor of a broker.
// CAF-free and I/O-free; time is passed in, so tests use a fake clock.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace herald::security {

enum class quota_kind : std::uint8_t { produce, fetch };

// One principal's quotas; 0 = no limit. The byte rates are enforced here;
// the ownership limits (partitions, disk) by security/principal_limits.hpp
// when a topic is created or grown.
struct quota_limits {
  std::uint64_t produce_bytes_per_sec = 0;
  std::uint64_t fetch_bytes_per_sec = 0;
  std::uint64_t partitions = 0;  // partitions of the topics it owns, summed
  std::uint64_t disk_bytes = 0;  // its topics' reservation: partitions x replication factor x retention.bytes

  std::uint64_t of(quota_kind kind) const {
    return kind == quota_kind::produce ? produce_bytes_per_sec : fetch_bytes_per_sec;
  }
  // Any byte-rate quota (what the registry below enforces).
  bool any() const { return produce_bytes_per_sec != 0 || fetch_bytes_per_sec != 0; }
  // Any ownership limit.
  bool any_ownership() const { return partitions != 0 || disk_bytes != 0; }
  friend bool operator==(const quota_limits&, const quota_limits&) = default;
};

struct quota_config {
  // What every principal gets unless overridden.
  quota_limits defaults;
  // Principal ("User:alice") -> its limits, replacing the defaults whole
  // (a 0 in an override exempts that principal from that quota).
  std::map<std::string, quota_limits, std::less<>> overrides;
  // How much a principal may send at once after being quiet: this long at its
  // limit (the bucket's size).
  std::chrono::milliseconds burst{1000};
  // No single answer asks for a longer pause than this; the rest of the debt
  // is asked for on the next request. (Very low limits with big batches would
  // otherwise tell a client to wait for hours.)
  std::chrono::milliseconds max_throttle{30'000};

  // Any byte-rate quota for anyone.
  bool any() const;
  // Any partition or disk limit for anyone.
  bool any_ownership() const;
};

// Empty when `config` is usable, otherwise a sentence saying what is wrong.
std::string check_quota_config(const quota_config& config);

// Parses one `--quota` override,
// "PRINCIPAL=produce:N,fetch:M,partitions:P,disk:B" (any part may be left
// out, in any order; a part left out takes the default from `defaults`).
// Plain decimal numbers, no suffixes. On
// success fills `principal` and `limits` and returns ""; otherwise returns
// why not and leaves them alone.
std::string parse_quota_override(std::string_view text, const quota_limits& defaults,
                                 std::string& principal, quota_limits& limits);

// heraldd's flags into a config: the defaults for every principal
// (--quota-produce-bytes-per-sec, --quota-fetch-bytes-per-sec,
// --quota-partitions, --quota-disk-bytes) and each --quota override. "" and
// `out` filled, or why not (the first mistake).
std::string build_quota_config(const quota_limits& defaults, const std::vector<std::string>& overrides,
                               quota_config& out);
inline std::string build_quota_config(std::uint64_t produce_bytes_per_sec, std::uint64_t fetch_bytes_per_sec,
                                      const std::vector<std::string>& overrides, quota_config& out) {
  return build_quota_config(quota_limits{produce_bytes_per_sec, fetch_bytes_per_sec}, overrides, out);
}

class quota_registry {
public:
  using clock = std::chrono::steady_clock;

  explicit quota_registry(quota_config config);

  // Records `bytes` of `kind` for `principal` at `now` and returns how long
  // the principal's connection must pause (0 when within its quota or when it
  // has none). Safe to call from any thread.
  std::chrono::milliseconds record(std::string_view principal, quota_kind kind, std::uint64_t bytes,
                                   clock::time_point now);

  // What `principal` may still send of `kind` at `now` without a pause
  // (negative: its debt); for tests and metrics. The bucket size when it is
  // unknown or unlimited.
  double available(std::string_view principal, quota_kind kind, clock::time_point now) const;

  quota_limits limits_for(std::string_view principal) const;
  // False when no principal has any quota: callers may skip the lookup.
  bool enabled() const { return enabled_; }
  const quota_config& config() const { return config_; }
  // Principals currently tracked (idle ones are dropped as new ones come).
  std::size_t tracked() const;

private:
  struct bucket {
    double tokens = 0; // bytes that may go without a pause; negative = debt
    std::int64_t last_ms = 0;
    bool started = false;
  };
  struct principal_state {
    bucket produce;
    bucket fetch;
  };

  double capacity(std::uint64_t limit) const;
  void refill(bucket& b, std::uint64_t limit, std::int64_t now_ms) const;
  bool full(const principal_state& s, const quota_limits& limits, std::int64_t now_ms) const;
  void drop_idle(std::int64_t now_ms);

  const quota_config config_;
  const bool enabled_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, principal_state> states_;
  std::size_t next_idle_sweep_ = 1024;
};

} // namespace herald::security
