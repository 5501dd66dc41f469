#pragma once
// Mutual TLS on the cluster listener (CAF's BASP between brokers), through
// CAF 0.17's libcaf-openssl.
//
// With the three files set, the openssl module is loaded and every BASP
// connection, accepted or made, runs TLS (1.2 or later: OpenSSL 3 refuses
// older versions at its default security level) and REQUIRES the peer's
// certificate signed by ca_file (SSL_VERIFY_PEER | FAIL_IF_NO_PEER_CERT, on
// both sides). CAF reads and parses BASP only through SSL_read after the
// handshake: a plain TCP client, a client without a certificate or with one
// from another CA fails in the handshake, before a single BASP byte is
// looked at, so it cannot make the broker allocate a claimed payload.
// There is no name check: any certificate of the cluster CA is a broker.
//
// Reload: CAF builds a new SSL_CTX from the files for every connection, so
// replaced files apply to the next connection, and connections up keep
// theirs. Replace them atomically (write elsewhere, then mv): CAF raises an
// exception on a file it cannot read.

#include <cstdint>
#include <string>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

namespace herald::actors {

struct cluster_tls_settings {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;

  bool enabled() const { return !cert_file.empty() || !key_file.empty() || !ca_file.empty(); }
};

// "" when the settings are usable (none, or all three files readable, the key
// matching the certificate); otherwise what is wrong, naming the flag or file.
std::string check_cluster_tls(const cluster_tls_settings& tls);

// Loads the openssl module with the files, when enabled. Call after
// configure_actor_system, before the actor system starts.
void configure_cluster_tls(caf::actor_system_config& cfg, const cluster_tls_settings& tls);

// The middleman actor that reaches other brokers: the TLS one when the
// openssl module is loaded, the plain one otherwise.
caf::io::middleman_actor cluster_middleman(caf::actor_system& system);

// Publishes the node actor on the cluster listener (TLS when configured);
// the port bound.
caf::expected<std::uint16_t> publish_cluster(caf::actor_system& system, const caf::actor& node, std::uint16_t port,
                                             const std::string& host);

} // namespace herald::actors
