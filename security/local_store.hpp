#pragma once
// ACLs and users of a broker without ZooKeeper (a single node or a static
// cluster): <data-dir>/acls (security/acl.hpp encode_acls) and
// <data-dir>/users (security/user_store.hpp encode_users), each replaced
// atomically (storage/atomic_file.hpp), so a crash leaves the old or the new
// set. A missing file is an empty set; a file that does not parse is an
// error (the broker refuses to start rather than forget ACLs, which would
// open everything up).

#include <filesystem>
#include <string>
#include <vector>

#include "security/acl.hpp"
#include "security/user_store.hpp"

namespace herald::security {

struct local_security {
  std::vector<acl_entry> acls;
  user_map users;
  std::string error;  // empty: loaded
};

local_security load_local_security(const std::filesystem::path& data_dir);
// Empty on success, else why the file could not be written.
std::string save_acls(const std::filesystem::path& data_dir, const std::vector<acl_entry>& acls);
std::string save_users(const std::filesystem::path& data_dir, const user_map& users);

} // namespace herald::security
