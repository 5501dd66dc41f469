#include "security/authorizer.hpp"

namespace herald::security {

std::string_view to_string(authorizer_mode m) {
  switch (m) {
    case authorizer_mode::auto_: return "auto";
    case authorizer_mode::on: return "on";
    case authorizer_mode::off: return "off";
  }
  return "?";
}

std::optional<authorizer_mode> parse_authorizer_mode(std::string_view text) {
  if (text == "auto")
    return authorizer_mode::auto_;
  if (text == "on")
    return authorizer_mode::on;
  if (text == "off")
    return authorizer_mode::off;
  return std::nullopt;
}

authorizer::authorizer(std::vector<acl_entry> acls, std::set<std::string> super_users, authorizer_mode mode,
                       bool authentication_configured)
  : acls_(std::move(acls)), super_users_(std::move(super_users)) {
  switch (mode) {
    case authorizer_mode::on: enforcing_ = true; break;
    case authorizer_mode::off: enforcing_ = false; break;
    case authorizer_mode::auto_: enforcing_ = authentication_configured || !acls_.empty(); break;
  }
}

bool authorizer::allowed(std::string_view principal, operation op, const resource& on) const {
  if (!enforcing_)
    return true;
  if (super_users_.count(std::string{principal}) > 0)
    return true;
  bool allow = false;
  for (const auto& a : acls_) {
    bool implied = false;
    if (!a.matches(principal, op, on)) {
      // describe is implied by the operations that need to see the topic.
      if (op != operation::describe || a.perm != permission::allow || a.type != resource_type::topic)
        continue;
      if (a.op != operation::produce && a.op != operation::consume && a.op != operation::delete_ &&
          a.op != operation::alter)
        continue;
      if (!a.matches(principal, a.op, on))
        continue;
      implied = true;
    }
    if (a.perm == permission::deny && !implied)
      return false;  // deny wins: no need to look further
    allow = true;
  }
  return allow;
}

decision authorizer::check(std::string_view principal, operation op, const resource& on) const {
  if (allowed(principal, op, on))
    return {};
  if (pending_)
    return {false, "the ACLs are not known yet (this broker has not read them from ZooKeeper); retry", true};
  std::string what = on.type == resource_type::cluster ? std::string{"the cluster"}
                                                        : std::string{to_string(on.type)} + " " + on.name;
  return {false, std::string{principal} + " may not " + std::string{to_string(op)} + " " + what +
                   " (no ACL allows it, or one denies it; see herald acl list)"};
}

parsed_super_users parse_super_users(std::string_view text) {
  parsed_super_users out;
  std::size_t pos = 0;
  while (pos <= text.size() && !text.empty()) {
    auto comma = text.find(',', pos);
    auto item = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (auto why = check_principal(item, false); !why.empty()) {
      out.error = "super-user '" + std::string{item} + "': " + why;
      out.value.clear();
      return out;
    }
    out.value.insert(std::string{item});
    if (comma == std::string_view::npos)
      break;
    pos = comma + 1;
  }
  return out;
}

} // namespace herald::security
