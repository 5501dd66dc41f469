#include "security/sasl_user_lookup.hpp"

namespace herald::security {

scram_credential_lookup scram_lookup_in(std::shared_ptr<const credential_store> store) {
  return [store = std::move(store)](const std::string& user) -> std::optional<scram_credential> {
    if (!store)
      return std::nullopt;
    auto line = store->find(user);
    if (!line)
      return std::nullopt;
    return decode_credential(*line);
  };
}

} // namespace herald::security
