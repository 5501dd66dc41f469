#pragma once
// Whether heraldd may open its cluster listener (CAF's BASP, for brokers
// only) on an address without mutual TLS. BASP trusts its peers: anyone who
// reaches a plain cluster listener can claim a 2 GiB payload and make the
// broker allocate it, or talk to the node actor as a broker would. So a
// plain cluster listener is allowed only where nobody else can reach it
// (loopback), or when the operator says the network is trusted
// (--cluster-insecure). No CAF, no network: the decision alone.

#include <string>

namespace herald::security {

// True for a loopback address as heraldd's HOST:PORT flags spell it:
// 127.0.0.0/8, ::1 (also bracketed, [::1]), ::ffff:127.x.y.z and "localhost".
// Anything else (0.0.0.0, ::, another address, any other host name, which
// may resolve anywhere) is not.
bool is_loopback_host(const std::string& host);

enum class cluster_exposure {
  allowed,           // loopback, or mutual TLS on
  allowed_insecure,  // reachable from the network without TLS, as asked: warn at start
  refused,
};

cluster_exposure classify_cluster_listener(const std::string& host, bool tls, bool insecure);

// The refusal heraldd prints for `refused`: what to do instead.
std::string cluster_exposure_refusal(const std::string& listen);
// The warning logged at start for `allowed_insecure`.
std::string cluster_exposure_warning(const std::string& listen);

} // namespace herald::security
