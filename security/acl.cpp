#include "security/acl.hpp"

#include <algorithm>

namespace herald::security {

namespace {

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

bool topic_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

constexpr std::string_view user_prefix = "User:";

} // namespace

std::string_view to_string(resource_type t) {
  switch (t) {
    case resource_type::topic: return "topic";
    case resource_type::group: return "group";
    case resource_type::cluster: return "cluster";
  }
  return "?";
}

std::string_view to_string(operation o) {
  switch (o) {
    case operation::create: return "create";
    case operation::delete_: return "delete";
    case operation::produce: return "produce";
    case operation::consume: return "consume";
    case operation::describe: return "describe";
    case operation::alter: return "alter";
    case operation::all: return "all";
  }
  return "?";
}

std::string_view to_string(permission p) {
  return p == permission::deny ? "deny" : "allow";
}

std::optional<resource_type> parse_resource_type(std::string_view text) {
  for (auto t : {resource_type::topic, resource_type::group, resource_type::cluster})
    if (text == to_string(t))
      return t;
  return std::nullopt;
}

std::optional<operation> parse_operation(std::string_view text) {
  for (auto o : {operation::create, operation::delete_, operation::produce, operation::consume, operation::describe,
                 operation::alter, operation::all})
    if (text == to_string(o))
      return o;
  return std::nullopt;
}

std::optional<permission> parse_permission(std::string_view text) {
  if (text == "allow")
    return permission::allow;
  if (text == "deny")
    return permission::deny;
  return std::nullopt;
}

bool pattern_matches(std::string_view pattern, std::string_view name) {
  if (!pattern.empty() && pattern.back() == '*') {
    auto prefix = pattern.substr(0, pattern.size() - 1);
    return name.substr(0, prefix.size()) == prefix;  // "*" alone: the empty prefix, everything
  }
  return pattern == name;
}

bool acl_entry::matches(std::string_view who, operation what, const resource& on) const {
  if (type != on.type)
    return false;
  if (op != operation::all && op != what)
    return false;
  if (principal != "User:*" && principal != who)
    return false;
  return pattern_matches(pattern, on.name);
}

std::string check_principal(std::string_view principal, bool wildcard_ok) {
  if (principal.substr(0, user_prefix.size()) != user_prefix)
    return "a principal is User:<name> (got '" + std::string{principal} + "')";
  auto name = principal.substr(user_prefix.size());
  if (name.empty())
    return "the principal's name is empty";
  if (name.size() > max_name_bytes)
    return "the principal's name is longer than 255 bytes";
  if (!printable(name))
    return "the principal's name may hold only printable ASCII without spaces";
  if (name.find('*') != std::string_view::npos && (name != "*" || !wildcard_ok))
    return wildcard_ok ? "'*' in a principal stands alone (User:*)" : "a principal here cannot be a wildcard";
  return {};
}

std::string check_pattern(resource_type type, std::string_view pattern) {
  if (pattern.empty())
    return "the resource name is empty";
  if (pattern.size() > max_name_bytes)
    return "the resource name is longer than 255 bytes";
  if (!printable(pattern))
    return "the resource name may hold only printable ASCII without spaces";
  if (auto star = pattern.find('*'); star != std::string_view::npos && star + 1 != pattern.size())
    return "'*' may only end a resource name (a prefix), or stand alone (all)";
  const auto stem = pattern.back() == '*' ? pattern.substr(0, pattern.size() - 1) : pattern;
  switch (type) {
    case resource_type::topic:
      if (!std::all_of(stem.begin(), stem.end(), topic_char))
        return "a topic name may only contain letters, digits, '.', '_' and '-' (and a final '*')";
      break;
    case resource_type::cluster:
      if (pattern != cluster_resource_name && pattern != "*")
        return "the cluster resource is called 'cluster' (or '*')";
      break;
    case resource_type::group: break;
  }
  return {};
}

std::string check(const acl_entry& acl) {
  if (auto why = check_principal(acl.principal); !why.empty())
    return "principal: " + why;
  if (auto why = check_pattern(acl.type, acl.pattern); !why.empty())
    return "resource: " + why;
  return {};
}

std::string encode(const acl_entry& acl) {
  std::string out;
  out.append(to_string(acl.perm)).append(" ").append(acl.principal).append(" ");
  out.append(to_string(acl.op)).append(" ").append(to_string(acl.type)).append(":").append(acl.pattern);
  return out;
}

parsed_acl parse_acl(std::string_view line) {
  parsed_acl out;
  std::vector<std::string_view> fields;
  std::size_t pos = 0;
  while (true) {
    auto sp = line.find(' ', pos);
    fields.push_back(line.substr(pos, sp == std::string_view::npos ? std::string_view::npos : sp - pos));
    if (sp == std::string_view::npos)
      break;
    pos = sp + 1;
  }
  if (fields.size() != 4) {
    out.error = "an ACL is '<allow|deny> <principal> <operation> <type>:<name>' (4 fields separated by one space), got " +
                std::to_string(fields.size()) + " field(s)";
    return out;
  }
  auto perm = parse_permission(fields[0]);
  if (!perm) {
    out.error = "permission '" + std::string{fields[0]} + "' is neither allow nor deny";
    return out;
  }
  auto op = parse_operation(fields[2]);
  if (!op) {
    out.error = "operation '" + std::string{fields[2]} +
                "' is not one of create, delete, produce, consume, describe, alter, all";
    return out;
  }
  auto colon = fields[3].find(':');
  auto type = colon == std::string_view::npos ? std::nullopt : parse_resource_type(fields[3].substr(0, colon));
  if (!type) {
    out.error = "resource '" + std::string{fields[3]} + "' is not topic:<name>, group:<name> or cluster:cluster";
    return out;
  }
  out.value = acl_entry{*perm, std::string{fields[1]}, *op, *type, std::string{fields[3].substr(colon + 1)}};
  out.error = check(out.value);
  return out;
}

std::string encode_acls(std::vector<acl_entry> acls) {
  std::sort(acls.begin(), acls.end());
  acls.erase(std::unique(acls.begin(), acls.end()), acls.end());
  std::string out = "version=1\n";
  for (const auto& a : acls)
    out.append(encode(a)).append("\n");
  return out;
}

parsed_acls decode_acls(std::string_view text) {
  parsed_acls out;
  if (text.empty())
    return out;
  std::size_t pos = 0;
  unsigned number = 0;
  while (pos < text.size()) {
    ++number;
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      out.error = "line " + std::to_string(number) + " does not end with a newline";
      return out;
    }
    auto line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (number == 1) {
      if (line != "version=1") {
        out.error = line.substr(0, 8) == "version="
                      ? "ACLs of " + std::string{line} + " (written by a newer broker?); this broker reads version=1"
                      : "line 1 is not version=1";
        return out;
      }
      continue;
    }
    auto acl = parse_acl(line);
    if (!acl.ok()) {
      out.error = "line " + std::to_string(number) + ": " + acl.error;
      out.value.clear();
      return out;
    }
    out.value.push_back(std::move(acl.value));
  }
  std::sort(out.value.begin(), out.value.end());
  out.value.erase(std::unique(out.value.begin(), out.value.end()), out.value.end());
  return out;
}

} // namespace herald::security
