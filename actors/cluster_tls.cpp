#include "actors/cluster_tls.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>

#include "security/tls_context.hpp"

namespace herald::actors {

std::string check_cluster_tls(const cluster_tls_settings& tls) {
  if (!tls.enabled())
    return {};
  if (tls.cert_file.empty() || tls.key_file.empty() || tls.ca_file.empty())
    return "cluster TLS needs all of --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca";
  // Load them the way a listener would, so that a bad file is refused at
  // start with a clear message rather than by CAF at the first connection.
  security::tls_server_options options{tls.cert_file, tls.key_file, tls.ca_file,
                                       security::tls_client_auth::required};
  std::string error;
  if (!security::tls_context::make_server(options, error))
    return "cluster TLS: " + error;
  return {};
}

void configure_cluster_tls(caf::actor_system_config& cfg, const cluster_tls_settings& tls) {
  if (!tls.enabled())
    return;
  cfg.openssl_certificate = tls.cert_file;
  cfg.openssl_key = tls.key_file;
  cfg.openssl_cafile = tls.ca_file;
  cfg.load<caf::openssl::manager>();
}

caf::io::middleman_actor cluster_middleman(caf::actor_system& system) {
  if (system.has_openssl_manager())
    return system.openssl_manager().actor_handle();
  return system.middleman().actor_handle();
}

caf::expected<std::uint16_t> publish_cluster(caf::actor_system& system, const caf::actor& node, std::uint16_t port,
                                             const std::string& host) {
  if (system.has_openssl_manager())
    return caf::openssl::publish(node, port, host.c_str(), true);
  return system.middleman().publish(node, port, host.c_str(), true);
}

} // namespace herald::actors
