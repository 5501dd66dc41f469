#include "security/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace herald::security {

namespace {

std::atomic<unsigned> reload_generation{0};
static_assert(std::atomic<unsigned>::is_always_lock_free, "request_tls_reload must be async-signal-safe");

// The reasons OpenSSL queued (oldest first), then clears the queue so they do
// not leak into the next connection's diagnosis.
std::string openssl_errors() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    if (!text.empty())
      text += "; ";
    text += reason ? reason : "error " + std::to_string(code);
  }
  return text.empty() ? "unknown error" : text;
}

// "cannot read certificate /x.crt: No such file or directory" rather than
// OpenSSL's "system lib": say the file first, then why.
std::string file_error(const char* what, const std::string& path) {
  std::string text = std::string("cannot read ") + what + " " + path + ": ";
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    ERR_clear_error();
    return text + std::strerror(errno);
  }
  return text + openssl_errors();
}

struct ctx_deleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using ctx_ptr = std::unique_ptr<SSL_CTX, ctx_deleter>;

ctx_ptr new_ctx(const SSL_METHOD* method, std::string& error) {
  ERR_clear_error();
  ctx_ptr ctx(SSL_CTX_new(method));
  if (!ctx) {
    error = "cannot create a TLS context: " + openssl_errors();
    return nullptr;
  }
  // TLS 1.2+: 1.0/1.1 are deprecated (RFC 8996).
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Renegotiation (TLS 1.2) only adds attack surface here.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Our BIOs never block; partial writes are not wanted (a record per write).
  // RELEASE_BUFFERS: an idle connection holds no ~17 KiB read and write
  // record buffers (freed when empty, taken again for the next record).
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_AUTO_RETRY | SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

bool load_identity(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file, std::string& error) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    error = file_error("certificate", cert_file);
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL checks the pair while loading the key.
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      error = "key " + key_file + " does not match certificate " + cert_file;
    } else {
      error = file_error("key", key_file);
    }
    return false;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    error = "key " + key_file + " does not match certificate " + cert_file;
    return false;
  }
  return true;
}

bool load_ca(SSL_CTX* ctx, const std::string& ca_file, std::string& error) {
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    error = file_error("CA file", ca_file);
    return false;
  }
  return true;
}

} // namespace

bool parse_tls_client_auth(const std::string& text, tls_client_auth& out) {
  if (text == "none")
    out = tls_client_auth::none;
  else if (text == "optional")
    out = tls_client_auth::optional;
  else if (text == "required")
    out = tls_client_auth::required;
  else
    return false;
  return true;
}

const char* to_string(tls_client_auth mode) {
  switch (mode) {
    case tls_client_auth::none: return "none";
    case tls_client_auth::optional: return "optional";
    case tls_client_auth::required: return "required";
  }
  return "?";
}

tls_context::~tls_context() {
  SSL_CTX_free(ctx_);
}

std::shared_ptr<const tls_context> tls_context::make_server(const tls_server_options& options, std::string& error) {
  if (options.cert_file.empty() || options.key_file.empty()) {
    error = "a TLS listener needs a certificate and a key";
    return nullptr;
  }
  if (options.client_auth != tls_client_auth::none && options.ca_file.empty()) {
    error = std::string("client authentication '") + to_string(options.client_auth) +
            "' needs a CA file to verify client certificates";
    return nullptr;
  }
  auto ctx = new_ctx(TLS_server_method(), error);
  if (!ctx || !load_identity(ctx.get(), options.cert_file, options.key_file, error))
    return nullptr;
  if (!options.ca_file.empty()) {
    if (!load_ca(ctx.get(), options.ca_file, error))
      return nullptr;
    // The CA names sent in the certificate request, so that a client with
    // several certificates picks the right one.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca_file.c_str()))
      SSL_CTX_set_client_CA_list(ctx.get(), names);
    ERR_clear_error();
  }
  int mode = SSL_VERIFY_NONE;
  if (options.client_auth == tls_client_auth::optional)
    mode = SSL_VERIFY_PEER;
  else if (options.client_auth == tls_client_auth::required)
    mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx.get(), mode, nullptr);
  // No session resumption: a resumed session skips the certificate check a
  // reload (or a revoked CA) may have changed, and connections are long-lived.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  std::shared_ptr<tls_context> result(new tls_context(ctx.release(), true));
  result->client_auth_ = options.client_auth;
  return result;
}

std::shared_ptr<const tls_context> tls_context::make_client(const tls_client_options& options, std::string& error) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    error = "a TLS client certificate needs its key, and a key its certificate";
    return nullptr;
  }
  auto ctx = new_ctx(TLS_client_method(), error);
  if (!ctx)
    return nullptr;
  if (!options.cert_file.empty() && !load_identity(ctx.get(), options.cert_file, options.key_file, error))
    return nullptr;
  if (options.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
      error = "cannot load the system's CA certificates: " + openssl_errors();
      return nullptr;
    }
  } else if (!load_ca(ctx.get(), options.ca_file, error)) {
    return nullptr;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  std::shared_ptr<tls_context> result(new tls_context(ctx.release(), false));
  result->server_name_ = options.server_name;
  return result;
}

void request_tls_reload() noexcept {
  reload_generation.fetch_add(1, std::memory_order_relaxed);
}

tls_context_holder::tls_context_holder(tls_server_options options, std::chrono::milliseconds check_interval)
    : options_(std::move(options)), check_interval_(check_interval) {
  std::lock_guard<std::mutex> guard(mutex_);
  seen_generation_ = reload_generation.load(std::memory_order_relaxed);
  load_locked();
  next_check_ = clock::now() + check_interval_;
}

bool tls_context_holder::ok() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return current_ != nullptr;
}

std::string tls_context_holder::error() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return error_;
}

std::uint64_t tls_context_holder::reloads() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return reloads_;
}

std::shared_ptr<const tls_context> tls_context_holder::current() {
  std::lock_guard<std::mutex> guard(mutex_);
  unsigned generation = reload_generation.load(std::memory_order_relaxed);
  auto now = clock::now();
  if (generation != seen_generation_) {
    seen_generation_ = generation;
    load_locked();
  } else if (now >= next_check_) {
    next_check_ = now + check_interval_;
    if (read_stamps() != stamps_)
      load_locked();
  }
  return current_;
}

bool tls_context_holder::reload() {
  std::lock_guard<std::mutex> guard(mutex_);
  return load_locked();
}

tls_context_holder::stamps tls_context_holder::read_stamps() const {
  auto stamp = [](const std::string& path) {
    file_stamp s;
    struct stat st{};
    if (!path.empty() && ::stat(path.c_str(), &st) == 0) {
      s.mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
      s.size = st.st_size;
      s.inode = st.st_ino;
    }
    return s;
  };
  return {stamp(options_.cert_file), stamp(options_.key_file), stamp(options_.ca_file)};
}

bool tls_context_holder::load_locked() {
  // Stamps first: a file replaced while we read it then looks changed at the
  // next check and is read again.
  stamps before = read_stamps();
  std::string error;
  auto ctx = tls_context::make_server(options_, error);
  if (!ctx) {
    // Keep serving the previous context; stamps_ stays, so the next check
    // tries again (a certificate and key replaced one after the other
    // mismatch for a moment).
    error_ = error;
    return false;
  }
  if (current_)
    ++reloads_;
  current_ = std::move(ctx);
  stamps_ = before;
  error_.clear();
  return true;
}

} // namespace herald::security
