#pragma once
// Caps on client connections: in total and per client IP. The listener asks
// `acquire(ip)` for each accepted connection; a refusal carries a sentence
// for the goodbye frame, an admission carries a ticket that gives the slot
// back when it is destroyed (the connection actor keeps it in its state, so
// the slot returns however the connection ends).
//
// Thread-safe (the listener acquires, connection actors release on their own
// threads). CAF-free and I/O-free.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace herald::security {

struct connection_limits_config {
  std::size_t max_total = 0;  // 0 = no cap
  std::size_t max_per_ip = 0; // 0 = no cap
};

// Empty when usable, otherwise why not.
std::string check_connection_limits_config(const connection_limits_config& config);

// The key a client address is counted under: an IPv4 address mapped into
// IPv6 (::ffff:1.2.3.4) counts as the IPv4 address, so one client cannot
// hold two allowances by connecting both ways.
std::string normalize_client_ip(std::string_view ip);

class connection_limits {
  struct shared;

public:
  enum class refusal { none, total, per_ip };

  // Holds one slot while alive; move-only. A default-constructed ticket holds
  // nothing.
  class ticket {
  public:
    ticket() = default;
    ticket(ticket&& other) noexcept;
    ticket& operator=(ticket&& other) noexcept;
    ticket(const ticket&) = delete;
    ticket& operator=(const ticket&) = delete;
    ~ticket();
    // Gives the slot back now (idempotent).
    void release();
    bool held() const { return state_ != nullptr; }

  private:
    friend class connection_limits;
    ticket(std::shared_ptr<shared> state, std::string ip);
    std::shared_ptr<shared> state_;
    std::string ip_;
  };

  struct admission {
    refusal refused = refusal::none;
    std::string reason; // empty when admitted: "too many connections from 10.0.0.7 (limit 8 per IP)"
    ticket slot;        // held when admitted
    explicit operator bool() const { return refused == refusal::none; }
  };

  explicit connection_limits(connection_limits_config config);

  admission acquire(std::string_view client_ip);

  std::size_t total() const;
  std::size_t count(std::string_view client_ip) const;
  const connection_limits_config& config() const;

private:
  std::shared_ptr<shared> state_;
};

} // namespace herald::security
