#pragma once
// Users and their SCRAM credentials as the broker keeps them. The broker
// never sees a password: `herald user add` computes the credential on the
// client (security/scram.hpp make_credential) and sends its one-line text
// form, which is stored and handed back opaquely here.
//
// User names: 1..255 bytes of letters, digits, '.', '_', '-', '@' (no ','
// or '=' that SCRAM would have to escape, no '/' that a ZooKeeper path
// would split). The principal of user NAME is "User:NAME".
// Credentials: 1..1024 bytes of printable ASCII (0x20..0x7e), one line.
//
// Storage:
//   ZooKeeper  /herald/users/<name>, persistent, a record in the
//              cluster/zk_records.hpp style:
//                version=1
//                name=<name>
//                scram_sha_256=<credential>
//   data dir   <data-dir>/users (single node or static cluster), replaced
//              atomically: "version=1\n", then one line per user, sorted by
//              name: "<name> <credential>\n" (one space; the credential is
//              the rest of the line).
//
// credential_store: the live set, shared by the node actor (writer) and the
// connection actors that run SCRAM (readers, any thread).

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace herald::security {

inline constexpr std::size_t max_credential_bytes = 1024;

using user_map = std::map<std::string, std::string>;  // name -> credential line

// Empty when `name` may be a user's name, else why not.
std::string check_user_name(std::string_view name);
// Empty when `credential` may be stored, else why not.
std::string check_credential(std::string_view credential);

// The data directory's users file.
std::string encode_users(const user_map& users);
struct parsed_users {
  user_map value;
  std::string error;
  bool ok() const { return error.empty(); }
};
parsed_users decode_users(std::string_view text);  // "" (never written): no users

// One ZooKeeper user node.
std::string encode_user_record(std::string_view name, std::string_view credential);
struct parsed_user_record {
  std::string name;
  std::string credential;
  std::string error;
  bool ok() const { return error.empty(); }
};
parsed_user_record decode_user_record(std::string_view text);

class credential_store {
public:
  std::optional<std::string> find(std::string_view user) const;
  void replace(user_map users);
  std::shared_ptr<const user_map> snapshot() const;

private:
  mutable std::mutex mutex_;
  std::shared_ptr<const user_map> users_ = std::make_shared<user_map>();
};

} // namespace herald::security
