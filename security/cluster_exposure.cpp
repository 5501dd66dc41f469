#include "security/cluster_exposure.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>

namespace herald::security {

bool is_loopback_host(const std::string& host) {
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']')
    h = h.substr(1, h.size() - 2);
  if (strcasecmp(h.c_str(), "localhost") == 0)
    return true;
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6))
      return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

cluster_exposure classify_cluster_listener(const std::string& host, bool tls, bool insecure) {
  if (tls || is_loopback_host(host))
    return cluster_exposure::allowed;
  return insecure ? cluster_exposure::allowed_insecure : cluster_exposure::refused;
}

std::string cluster_exposure_refusal(const std::string& listen) {
  return "--cluster-listen " + listen +
         " is reachable from the network but has no TLS: anyone who reaches it could make this broker allocate "
         "a 2 GiB BASP payload or talk to it as a broker. Give --cluster-tls-cert, --cluster-tls-key and "
         "--cluster-tls-ca (mutual TLS between brokers; deploy/make-test-ca.sh makes test certificates, "
         "docs/security.md), or listen on loopback (127.0.0.1), or, on a network only brokers reach, "
         "--cluster-insecure";
}

std::string cluster_exposure_warning(const std::string& listen) {
  return "--cluster-insecure: the cluster listener " + listen +
         " runs plain BASP without TLS; anyone who reaches it can act as a broker or make this one allocate 2 GiB. "
         "Keep it to a network only brokers reach, or give --cluster-tls-cert/key/ca";
}

} // namespace herald::security
