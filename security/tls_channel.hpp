#pragma once
// One TLS connection over memory buffers (OpenSSL memory BIOs): the owner
// moves bytes between the socket and the channel, the channel turns them into
// plaintext and back. No sockets, no threads, no CAF: a connection actor
// puts it between its two socket functions (on_socket_bytes / write_socket)
// and its frame logic.
//
//   socket bytes  --feed_ciphertext-->  [tls_channel]  --take_plaintext-->   frames in
//   socket write  <--take_ciphertext--  [tls_channel]  <--write_plaintext--  frames out
//
// After every feed_ciphertext or write_plaintext, call take_ciphertext and
// write what it gives to the socket (handshake messages, alerts, records).
//
// Guarantees:
// - Plaintext written before the handshake completes is kept and sent, in
//   order, as soon as it does.
// - Bytes may be fed in any chunking (one byte at a time included).
// - A failure (bad certificate, protocol error, a peer's alert) is final:
//   failed() turns true, error() says why in words ("peer certificate expired",
//   "peer certificate signed by an unknown CA", "the server requires a client
//   certificate", ...), take_ciphertext() still yields the alert for the
//   peer, and no more plaintext comes out.
// - Memory grows only with bytes actually fed or written (no length taken
//   from the peer is allocated ahead).
// - Not thread-safe: one owner (an actor) at a time.
//
// Copies (why the BIOs are our own, not OpenSSL's memory BIOs): OpenSSL reads
// fed ciphertext straight from the caller's buffer (only bytes it has not
// read when feed_ciphertext returns are kept, which in practice means none),
// decrypts into its record buffer, and SSL_read copies the plaintext
// (mostly) straight into the tail of the vector take_plaintext hands out (swapped,
// not copied, when the caller's vector is empty). Sent records are appended
// by OpenSSL to one vector that take_ciphertext swaps into an empty out.
// A memory BIO cost a copy each way plus its own buffer's growth.

#include <memory>
#include <string>
#include <vector>

#include "security/tls_context.hpp"

struct ssl_st; // OpenSSL's SSL
struct bio_st; // OpenSSL's BIO

namespace herald::security {

class tls_channel {
public:
  // A server channel for a server context; a client channel for a client
  // context, which checks that the server's certificate names server_name
  // (context's server_name() if set, else this argument: the host connected
  // to; a DNS name or a numeric IP address; empty: no name check).
  explicit tls_channel(std::shared_ptr<const tls_context> context, const std::string& server_name = {});
  ~tls_channel();
  tls_channel(const tls_channel&) = delete;
  tls_channel& operator=(const tls_channel&) = delete;

  // Bytes read from the socket.
  void feed_ciphertext(const char* data, std::size_t size);
  // Appends the plaintext decrypted so far to out.
  void take_plaintext(std::vector<char>& out);
  // Plaintext to send; buffered until the handshake completes.
  void write_plaintext(const char* data, std::size_t size);
  // Appends the bytes to write to the socket to out.
  void take_ciphertext(std::vector<char>& out);
  // Sends a close_notify (take_ciphertext then has it).
  void close();

  bool is_server() const { return server_; }
  bool handshake_done() const { return handshake_done_; }
  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }
  // The peer sent close_notify: no more plaintext will come.
  bool peer_closed() const { return peer_closed_; }
  // Bytes of plaintext written but not yet encrypted (waiting for the handshake).
  std::size_t pending_plaintext() const { return pending_.size(); }

  // After the handshake: the common name of the peer's verified certificate
  // ("" without one), and the principal it stands for ("User:<CN>", "" without).
  std::string peer_common_name() const;
  std::string peer_principal() const;
  // "TLSv1.3" etc. after the handshake.
  std::string protocol_version() const;

private:
  struct bio_glue; // the BIO callbacks (tls_channel.cpp)
  void advance();
  void read_records();
  void fail_from_openssl(int ssl_error);
  void fail(std::string why);

  std::shared_ptr<const tls_context> context_;
  ssl_st* ssl_ = nullptr;
  bio_st* in_ = nullptr;  // ciphertext from the peer (owned by ssl_): reads in_data_/in_rest_
  bio_st* out_ = nullptr; // ciphertext to the peer (owned by ssl_): appends to cipher_
  bool server_;
  bool handshake_done_ = false;
  bool failed_ = false;
  bool peer_closed_ = false;
  std::string error_;
  std::string expected_name_;
  std::vector<char> pending_;   // plaintext written before the handshake
  std::vector<char> plaintext_; // decrypted, not yet taken
  // During feed_ciphertext: the caller's bytes OpenSSL has not read yet.
  const char* in_data_ = nullptr;
  std::size_t in_size_ = 0;
  std::vector<char> in_rest_; // fed, left unread by OpenSSL when feed_ciphertext returned
  std::size_t in_rest_at_ = 0;
  std::vector<char> cipher_; // encrypted, not yet taken
};

} // namespace herald::security
