#include "security/local_store.hpp"

#include "storage/atomic_file.hpp"

namespace herald::security {

namespace {

// The file's text, "" when it does not exist; error set when unreadable.
std::string read_text(const std::filesystem::path& file, std::string& error) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    return {};
  auto bytes = storage::read_whole_file(file);
  if (!bytes) {
    error = file.string() + ": " + bytes.error().message;
    return {};
  }
  return std::string{bytes->begin(), bytes->end()};
}

std::string write_text(const std::filesystem::path& file, const std::string& text) {
  auto st = storage::write_file_atomically(file, {text.data(), text.size()});
  return st ? std::string{} : file.string() + ": " + st.message;
}

} // namespace

local_security load_local_security(const std::filesystem::path& data_dir) {
  local_security out;
  auto acl_text = read_text(data_dir / "acls", out.error);
  if (!out.error.empty())
    return out;
  auto acls = decode_acls(acl_text);
  if (!acls.ok()) {
    out.error = (data_dir / "acls").string() + ": " + acls.error;
    return out;
  }
  auto user_text = read_text(data_dir / "users", out.error);
  if (!out.error.empty())
    return out;
  auto users = decode_users(user_text);
  if (!users.ok()) {
    out.error = (data_dir / "users").string() + ": " + users.error;
    return out;
  }
  out.acls = std::move(acls.value);
  out.users = std::move(users.value);
  return out;
}

std::string save_acls(const std::filesystem::path& data_dir, const std::vector<acl_entry>& acls) {
  return write_text(data_dir / "acls", encode_acls(acls));
}

std::string save_users(const std::filesystem::path& data_dir, const user_map& users) {
  return write_text(data_dir / "users", encode_users(users));
}

} // namespace herald::security
