#include "security/tls_channel.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <new>
#include <utility>

namespace herald::security {

namespace {

// Words for a failed certificate check on the verifying side.
std::string verify_error_text(long result, bool we_are_server, const std::string& expected_name) {
  const std::string whose = we_are_server ? "client certificate" : "server certificate";
  switch (result) {
    case X509_V_ERR_CERT_HAS_EXPIRED: return whose + " expired";
    case X509_V_ERR_CERT_NOT_YET_VALID: return whose + " not yet valid";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return whose + " signed by an unknown CA";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return whose + " does not name " + expected_name;
    case X509_V_ERR_INVALID_PURPOSE:
      return whose + " is not for this use (its extended key usage)";
    case X509_V_ERR_CERT_REVOKED: return whose + " revoked";
    default: return whose + " refused: " + X509_verify_cert_error_string(result);
  }
}

// Words for an alert the peer sent us, or a reason OpenSSL found itself.
// Empty when the reason is not one we explain.
std::string reason_text(int reason, bool we_are_server) {
  const std::string peer = we_are_server ? "the client" : "the server";
  switch (reason) {
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED: return peer + " refused our certificate: certificate expired";
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA: return peer + " refused our certificate: unknown CA";
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE: return peer + " refused our certificate: bad certificate";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN: return peer + " refused our certificate: certificate unknown";
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
      return peer + " refused our certificate: unsupported certificate";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED: return peer + " refused our certificate: certificate revoked";
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED: return "the server requires a client certificate";
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return "the client sent no certificate; this listener requires one";
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
      return peer + " ended the handshake (no common TLS version or cipher, or a required client certificate missing)";
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_UNSUPPORTED_PROTOCOL:
      return "no common TLS version (TLS 1.2 or later required)";
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_UNEXPECTED_RECORD:
    case SSL_R_UNEXPECTED_MESSAGE:
      return peer + " does not speak TLS (or not a version we accept)";
    default: return {};
  }
}

// The most plaintext one record carries (TLS 1.2 and 1.3): one SSL_read
// never yields more.
constexpr std::size_t max_record_plaintext = 16384;

} // namespace

// A source/sink BIO whose data is the channel: reads take the bytes
// feed_ciphertext was given (in place), writes append to cipher_. Empty
// means "retry" (like a memory BIO), never end of file.
struct tls_channel::bio_glue {
  static int read(BIO* bio, char* to, int size) {
    auto* self = static_cast<tls_channel*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    std::size_t n = 0;
    if (self->in_rest_at_ < self->in_rest_.size()) {
      n = std::min(std::size_t(size), self->in_rest_.size() - self->in_rest_at_);
      std::memcpy(to, self->in_rest_.data() + self->in_rest_at_, n);
      self->in_rest_at_ += n;
      if (self->in_rest_at_ == self->in_rest_.size()) {
        std::vector<char>().swap(self->in_rest_); // rare: give the memory back
        self->in_rest_at_ = 0;
      }
    } else if (self->in_size_ > 0) {
      n = std::min(std::size_t(size), self->in_size_);
      std::memcpy(to, self->in_data_, n);
      self->in_data_ += n;
      self->in_size_ -= n;
    }
    if (n == 0) {
      BIO_set_retry_read(bio);
      return -1;
    }
    return int(n);
  }

  static int write(BIO* bio, const char* from, int size) {
    auto* self = static_cast<tls_channel*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    try {
      self->cipher_.insert(self->cipher_.end(), from, from + size);
    } catch (const std::bad_alloc&) {
      return -1; // OpenSSL reports a write error; the channel fails
    }
    return size;
  }

  static long ctrl(BIO* bio, int cmd, long, void*) {
    auto* self = static_cast<tls_channel*>(BIO_get_data(bio));
    switch (cmd) {
      case BIO_CTRL_FLUSH: return 1; // nothing held back
      case BIO_CTRL_PENDING:
        return bio == self->in_ ? long(self->in_size_ + (self->in_rest_.size() - self->in_rest_at_)) : 0;
      case BIO_CTRL_WPENDING: return bio == self->out_ ? long(self->cipher_.size()) : 0;
      default: return 0; // as a memory BIO: no kTLS, no push/pop handling
    }
  }

  static int create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }

  // One method for every channel, made on first use (thread-safe static
  // init); it lives as long as the process.
  static const BIO_METHOD* method() {
    static BIO_METHOD* const m = [] {
      BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "herald tls_channel");
      if (made && (BIO_meth_set_read(made, read) != 1 || BIO_meth_set_write(made, write) != 1 ||
                   BIO_meth_set_ctrl(made, ctrl) != 1 || BIO_meth_set_create(made, create) != 1)) {
        BIO_meth_free(made);
        made = nullptr;
      }
      return made;
    }();
    return m;
  }

  static BIO* make(tls_channel* self) {
    const BIO_METHOD* m = method();
    BIO* bio = m ? BIO_new(m) : nullptr;
    if (bio)
      BIO_set_data(bio, self);
    return bio;
  }
};

tls_channel::tls_channel(std::shared_ptr<const tls_context> context, const std::string& server_name)
    : context_(std::move(context)), server_(context_ && context_->is_server()) {
  ERR_clear_error();
  if (!context_ || !(ssl_ = SSL_new(context_->native()))) {
    fail("cannot create a TLS connection");
    return;
  }
  in_ = bio_glue::make(this);
  out_ = bio_glue::make(this);
  if (!in_ || !out_) {
    BIO_free(in_);
    BIO_free(out_);
    in_ = out_ = nullptr;
    fail("cannot create TLS buffers");
    return;
  }
  SSL_set_bio(ssl_, in_, out_); // ssl_ owns both now
  if (server_) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  expected_name_ = context_->server_name().empty() ? server_name : context_->server_name();
  if (!expected_name_.empty()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    // A numeric address is checked against the certificate's IP SANs; a name
    // against its DNS SANs (and sent as SNI).
    if (X509_VERIFY_PARAM_set1_ip_asc(param, expected_name_.c_str()) != 1) {
      ERR_clear_error();
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (SSL_set1_host(ssl_, expected_name_.c_str()) != 1 ||
          SSL_set_tlsext_host_name(ssl_, expected_name_.c_str()) != 1) {
        fail("cannot check the server name '" + expected_name_ + "'");
        return;
      }
    }
  }
  advance(); // the ClientHello
}

tls_channel::~tls_channel() {
  if (ssl_)
    SSL_free(ssl_); // frees the BIOs too
}

void tls_channel::feed_ciphertext(const char* data, std::size_t size) {
  if (failed_ || size == 0)
    return;
  in_data_ = data;
  in_size_ = size;
  advance();
  // OpenSSL reads until it needs more (a partial record waits inside it), so
  // bytes are left only after a failure or the peer's close_notify, when no
  // more plaintext can come: dropped then. Kept otherwise, to be safe.
  if (in_size_ > 0 && !failed_ && !peer_closed_)
    in_rest_.insert(in_rest_.end(), in_data_, in_data_ + in_size_);
  in_data_ = nullptr;
  in_size_ = 0;
}

void tls_channel::take_plaintext(std::vector<char>& out) {
  if (out.empty())
    out.swap(plaintext_);
  else
    out.insert(out.end(), plaintext_.begin(), plaintext_.end());
  plaintext_.clear();
}

void tls_channel::write_plaintext(const char* data, std::size_t size) {
  if (failed_ || size == 0)
    return;
  if (!handshake_done_) {
    pending_.insert(pending_.end(), data, data + size);
    return;
  }
  while (size > 0) {
    int chunk = size > std::size_t(INT_MAX) ? INT_MAX : int(size);
    ERR_clear_error();
    int n = SSL_write(ssl_, data, chunk);
    if (n <= 0) {
      fail_from_openssl(SSL_get_error(ssl_, n));
      return;
    }
    data += n;
    size -= std::size_t(n);
  }
}

void tls_channel::take_ciphertext(std::vector<char>& out) {
  if (cipher_.empty())
    return;
  if (out.empty())
    out.swap(cipher_); // the usual case: CAF's write buffer was flushed
  else
    out.insert(out.end(), cipher_.begin(), cipher_.end());
  cipher_.clear();
}

void tls_channel::close() {
  if (ssl_ && handshake_done_ && !failed_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
  }
}

void tls_channel::advance() {
  if (failed_)
    return;
  ERR_clear_error();
  if (!handshake_done_) {
    int r = SSL_do_handshake(ssl_);
    if (r != 1) {
      int e = SSL_get_error(ssl_, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        fail_from_openssl(e);
      return;
    }
    handshake_done_ = true;
    if (!pending_.empty()) {
      std::vector<char> pending;
      pending.swap(pending_);
      write_plaintext(pending.data(), pending.size());
      if (failed_)
        return;
    }
  }
  read_records();
}

// SSL_read straight into plaintext_'s tail. Room is made without copying
// for nothing: reserved up front for what the ciphertext not yet read can
// yield at most (plaintext is never longer than the record carrying it),
// grown beyond that only by what OpenSSL holds decrypted (SSL_pending), and
// zero-filled (resize) only where a read will land. A read that can only
// learn "want more" (nothing left to read), or a record's first bytes when
// the vector is full, goes through a small stack buffer instead: growing a
// vector for a read that yields nothing cost a reallocation and fresh pages
// (measured: twice the receive time of the stack-buffer loop).
void tls_channel::read_records() {
  auto unread = [this] { return in_size_ + (in_rest_.size() - in_rest_at_); };
  // Only for more than a record's worth: then records do complete; smaller
  // feeds (a socket read of 1500 bytes) mostly complete none, and a reserve
  // each time would allocate for nothing.
  if (const std::size_t want = plaintext_.size() + unread();
      unread() > max_record_plaintext && want > plaintext_.capacity())
    plaintext_.reserve(std::max(want, 2 * plaintext_.capacity()));
  char probe[2048]; // a small record whole; a large one's first bytes
  for (;;) {
    const std::size_t at = plaintext_.size();
    const std::size_t decrypted = std::size_t(SSL_pending(ssl_));
    const std::size_t room =
        std::min(decrypted > 0 ? decrypted : unread() > 0 ? plaintext_.capacity() - at : 0, max_record_plaintext);
    const bool in_place = room >= sizeof probe;
    if (in_place)
      plaintext_.resize(at + room);
    ERR_clear_error();
    std::size_t n = 0;
    const int r = in_place ? SSL_read_ex(ssl_, plaintext_.data() + at, room, &n)
                           : SSL_read_ex(ssl_, probe, sizeof probe, &n);
    if (in_place)
      plaintext_.resize(at + (r == 1 ? n : 0));
    else if (r == 1) {
      // Room for the rest of this record too, in one allocation.
      const std::size_t want = at + n + std::size_t(SSL_pending(ssl_));
      if (want > plaintext_.capacity())
        plaintext_.reserve(std::max(want, 2 * plaintext_.capacity()));
      plaintext_.insert(plaintext_.end(), probe, probe + n);
    }
    if (r == 1)
      continue;
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      return;
    if (e == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      return;
    }
    fail_from_openssl(e);
    return;
  }
}

void tls_channel::fail_from_openssl(int ssl_error) {
  // Our own certificate check first: it names what was wrong with the peer.
  long verify = SSL_get_verify_result(ssl_);
  std::string why;
  std::string openssl;
  bool verify_failed = false;
  while (unsigned long code = ERR_get_error()) {
    int reason = ERR_GET_REASON(code);
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED)
      verify_failed = true;
    if (why.empty())
      why = reason_text(reason, server_);
    if (openssl.empty()) {
      const char* text = ERR_reason_error_string(code);
      openssl = text ? text : "error " + std::to_string(code);
    }
  }
  if (verify_failed && verify != X509_V_OK)
    why = verify_error_text(verify, server_, expected_name_);
  if (why.empty()) {
    if (!openssl.empty())
      why = "TLS error: " + openssl;
    else if (ssl_error == SSL_ERROR_SYSCALL)
      why = "TLS error: the connection ended in the middle of a record";
    else
      why = "TLS error " + std::to_string(ssl_error);
  }
  fail(std::move(why));
}

void tls_channel::fail(std::string why) {
  failed_ = true;
  error_ = std::move(why);
  pending_.clear();
  pending_.shrink_to_fit();
  std::vector<char>().swap(in_rest_);
  in_rest_at_ = 0;
}

std::string tls_channel::peer_common_name() const {
  if (!ssl_ || !handshake_done_ || failed_)
    return {};
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (!cert || SSL_get_verify_result(ssl_) != X509_V_OK)
    return {};
  X509_NAME* subject = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0)
    return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0)
    return {};
  std::string cn(reinterpret_cast<char*>(utf8), std::size_t(length));
  OPENSSL_free(utf8);
  // A NUL inside a CN would let "admin\0.evil" pass as "admin" elsewhere.
  if (cn.find('\0') != std::string::npos)
    return {};
  return cn;
}

std::string tls_channel::peer_principal() const {
  std::string cn = peer_common_name();
  return cn.empty() ? std::string() : "User:" + cn;
}

std::string tls_channel::protocol_version() const {
  return ssl_ && handshake_done_ ? SSL_get_version(ssl_) : "";
}

} // namespace herald::security
