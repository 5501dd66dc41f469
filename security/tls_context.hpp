#pragma once
// TLS settings loaded from PEM files into an OpenSSL 3 SSL_CTX, for the
// broker's listeners (server side) and the client library (client side).
// No CAF, no sockets: a tls_channel (tls_channel.hpp) runs one connection's
// TLS over memory buffers with a context from here.
//
// Guarantees:
// - TLS 1.2 and 1.3 only (older versions and SSLv3 refused in the handshake).
// - A server context always presents its certificate; with client_auth
//   `optional` it asks for a client certificate and verifies one if sent, with
//   `required` a client without a certificate signed by ca_file is refused.
// - A client context always verifies the server's certificate against ca_file
//   (the system's CAs when ca_file is empty) and, per channel, checks that it
//   names the server (tls_channel's server_name: a DNS name or an IP address).
// - A context is immutable once made and shared (std::shared_ptr): a channel
//   keeps the one it was made with, so a reload never disturbs a connection
//   in progress.
// - tls_context_holder reloads the files when they change (checked at most
//   once per interval) or when request_tls_reload() was called (for SIGHUP:
//   async-signal-safe); a reload that fails keeps the previous context and
//   reports why.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

struct ssl_ctx_st; // OpenSSL's SSL_CTX, kept out of this header

namespace herald::security {

enum class tls_client_auth { none, optional, required };

// "none", "optional", "required"; false for anything else.
bool parse_tls_client_auth(const std::string& text, tls_client_auth& out);
const char* to_string(tls_client_auth mode);

struct tls_server_options {
  std::string cert_file; // PEM: the certificate, then any intermediates
  std::string key_file;  // PEM private key (unencrypted)
  std::string ca_file;   // PEM CAs trusted for client certificates; required unless client_auth is none
  tls_client_auth client_auth = tls_client_auth::none;
};

struct tls_client_options {
  std::string ca_file;     // PEM CAs trusted for the server; empty: the system's
  std::string cert_file;   // optional client certificate (mutual TLS) ...
  std::string key_file;    // ... and its key: both or neither
  std::string server_name; // overrides the name checked and sent (SNI); empty: the host connected to
};

class tls_context {
public:
  // nullptr and a message saying which file and what is wrong with it
  // ("cannot read certificate /x.crt: No such file or directory",
  // "key /x.key does not match certificate /y.crt", ...).
  static std::shared_ptr<const tls_context> make_server(const tls_server_options& options, std::string& error);
  static std::shared_ptr<const tls_context> make_client(const tls_client_options& options, std::string& error);

  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  bool is_server() const { return server_; }
  tls_client_auth client_auth() const { return client_auth_; }
  const std::string& server_name() const { return server_name_; }
  ssl_ctx_st* native() const { return ctx_; }

private:
  tls_context(ssl_ctx_st* ctx, bool server) : ctx_(ctx), server_(server) {}

  ssl_ctx_st* ctx_;
  bool server_;
  tls_client_auth client_auth_ = tls_client_auth::none;
  std::string server_name_;
};

// Asks every tls_context_holder to reload at its next current() call.
// Async-signal-safe (a lock-free atomic increment): call it from a SIGHUP handler.
void request_tls_reload() noexcept;

// The server context of a listener, reloaded when its files change. Shared by
// every connection of the listener: current() may be called from any thread.
class tls_context_holder {
public:
  using clock = std::chrono::steady_clock;

  // Loads the files now; check error() / ok(). check_interval: how often at
  // most current() looks at the files' modification times (0: every call).
  tls_context_holder(tls_server_options options, std::chrono::milliseconds check_interval);

  bool ok() const;
  // Why the last load failed ("" after a success). A failed reload keeps
  // serving the previous context.
  std::string error() const;
  // How many times a new context replaced the previous one.
  std::uint64_t reloads() const;

  // The context for a new connection: reloaded first when a file changed (at
  // most once per interval) or a reload was requested. nullptr only if the
  // first load failed.
  std::shared_ptr<const tls_context> current();

  // Reloads now, whether or not the files changed; false (and error()) if it failed.
  bool reload();

private:
  struct file_stamp {
    std::int64_t mtime_ns = 0;
    std::int64_t size = -1;
    std::uint64_t inode = 0;
    bool operator==(const file_stamp&) const = default;
  };
  struct stamps {
    file_stamp cert, key, ca;
    bool operator==(const stamps&) const = default;
  };
  stamps read_stamps() const;
  bool load_locked(); // under mutex_

  const tls_server_options options_;
  const std::chrono::milliseconds check_interval_;
  mutable std::mutex mutex_;
  std::shared_ptr<const tls_context> current_;
  std::string error_;
  stamps stamps_;
  clock::time_point next_check_;
  unsigned seen_generation_ = 0;
  std::uint64_t reloads_ = 0;
};

} // namespace herald::security
