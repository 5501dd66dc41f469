#include "security/tls_channel.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <climits>
#include <cstring>
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

} // namespace

tls_channel::tls_channel(std::shared_ptr<const tls_context> context, const std::string& server_name)
    : context_(std::move(context)), server_(context_ && context_->is_server()) {
  ERR_clear_error();
  if (!context_ || !(ssl_ = SSL_new(context_->native()))) {
    fail("cannot create a TLS connection");
    return;
  }
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
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
  while (size > 0) {
    int chunk = size > std::size_t(INT_MAX) ? INT_MAX : int(size);
    int n = BIO_write(in_, data, chunk);
    if (n <= 0) {
      fail("cannot buffer received TLS bytes");
      return;
    }
    data += n;
    size -= std::size_t(n);
  }
  advance();
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
  if (!out_)
    return;
  std::size_t size = BIO_ctrl_pending(out_);
  if (size == 0)
    return;
  std::size_t at = out.size();
  out.resize(at + size);
  int n = BIO_read(out_, out.data() + at, int(size));
  out.resize(at + std::size_t(n > 0 ? n : 0));
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
  char buffer[16384];
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(ssl_, buffer, sizeof buffer);
    if (n > 0) {
      plaintext_.insert(plaintext_.end(), buffer, buffer + n);
      continue;
    }
    int e = SSL_get_error(ssl_, n);
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
