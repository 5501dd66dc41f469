#pragma once
// Two tls_channels joined in memory, and the test CA's files
// (deploy/make-test-ca.sh, run by the tls_test_ca fixture into HERALD_TEST_CA_DIR).

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "security/tls_channel.hpp"

namespace herald::test {

inline std::string ca_file(const std::string& name) {
  return std::string(HERALD_TEST_CA_DIR) + "/" + name;
}

inline security::tls_server_options server_options(const std::string& cert = "broker",
                                                   security::tls_client_auth auth = security::tls_client_auth::none) {
  return {ca_file(cert + ".crt"), ca_file(cert + ".key"), ca_file("ca.crt"), auth};
}

inline security::tls_client_options client_options(const std::string& cert = "", const std::string& ca = "ca") {
  security::tls_client_options o;
  o.ca_file = ca_file(ca + ".crt");
  if (!cert.empty()) {
    o.cert_file = ca_file(cert + ".crt");
    o.key_file = ca_file(cert + ".key");
  }
  return o;
}

// Moves ciphertext from one channel to the other in pieces of `chunk` bytes
// (0: all at once), both ways, until nothing more flows.
inline void pump(security::tls_channel& a, security::tls_channel& b, std::size_t chunk = 0) {
  for (int round = 0; round < 1000; ++round) {
    bool moved = false;
    for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
      std::vector<char> bytes;
      from->take_ciphertext(bytes);
      if (bytes.empty())
        continue;
      moved = true;
      std::size_t step = chunk == 0 ? bytes.size() : chunk;
      for (std::size_t at = 0; at < bytes.size(); at += step)
        to->feed_ciphertext(bytes.data() + at, std::min(step, bytes.size() - at));
    }
    if (!moved)
      return;
  }
}

inline std::string take_text(security::tls_channel& channel) {
  std::vector<char> out;
  channel.take_plaintext(out);
  return std::string(out.begin(), out.end());
}

} // namespace herald::test
