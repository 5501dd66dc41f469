#include "security/user_store.hpp"

#include <algorithm>

#include "security/acl.hpp"

namespace herald::security {

namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-' || c == '@';
}

// Splits text into '\n'-ended lines; false when the last one has no '\n'.
bool split_lines(std::string_view text, std::vector<std::string_view>& lines) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos)
      return false;
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return true;
}

} // namespace

std::string check_user_name(std::string_view name) {
  if (name.empty())
    return "the user name is empty";
  if (name.size() > max_name_bytes)
    return "the user name is longer than 255 bytes";
  if (!std::all_of(name.begin(), name.end(), name_char))
    return "a user name may only contain letters, digits, '.', '_', '-' and '@'";
  if (name == "." || name == "..")
    return "a user name cannot be '.' or '..'";
  return {};
}

std::string check_credential(std::string_view credential) {
  if (credential.empty())
    return "the credential is empty";
  if (credential.size() > max_credential_bytes)
    return "the credential is longer than 1024 bytes";
  if (!std::all_of(credential.begin(), credential.end(), [](char c) { return c >= 0x20 && c <= 0x7e; }))
    return "the credential must be one line of printable ASCII";
  return {};
}

std::string encode_users(const user_map& users) {
  std::string out = "version=1\n";
  for (const auto& [name, credential] : users)
    out.append(name).append(" ").append(credential).append("\n");
  return out;
}

parsed_users decode_users(std::string_view text) {
  parsed_users out;
  if (text.empty())
    return out;
  std::vector<std::string_view> lines;
  if (!split_lines(text, lines)) {
    out.error = "the last line does not end with a newline";
    return out;
  }
  if (lines.empty() || lines[0] != "version=1") {
    out.error = "line 1 is not version=1";
    return out;
  }
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto sp = lines[i].find(' ');
    auto name = lines[i].substr(0, sp);
    auto credential = sp == std::string_view::npos ? std::string_view{} : lines[i].substr(sp + 1);
    std::string why = check_user_name(name);
    if (why.empty())
      why = check_credential(credential);
    if (why.empty() && out.value.count(std::string{name}) > 0)
      why = "user " + std::string{name} + " appears twice";
    if (!why.empty()) {
      out.error = "line " + std::to_string(i + 1) + ": " + why;
      out.value.clear();
      return out;
    }
    out.value.emplace(std::string{name}, std::string{credential});
  }
  return out;
}

std::string encode_user_record(std::string_view name, std::string_view credential) {
  std::string out = "version=1\nname=";
  out.append(name).append("\nscram_sha_256=").append(credential).append("\n");
  return out;
}

parsed_user_record decode_user_record(std::string_view text) {
  parsed_user_record out;
  std::vector<std::string_view> lines;
  if (!split_lines(text, lines)) {
    out.error = "the last line does not end with a newline";
    return out;
  }
  if (lines.empty() || lines[0] != "version=1") {
    out.error = "line 1 is not version=1";
    return out;
  }
  bool have_name = false, have_credential = false;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto eq = lines[i].find('=');
    auto key = lines[i].substr(0, eq);
    auto value = eq == std::string_view::npos ? std::string_view{} : lines[i].substr(eq + 1);
    if (key == "name") {
      if (have_name) {
        out.error = "key name appears twice";
        return out;
      }
      have_name = true;
      out.name = value;
    } else if (key == "scram_sha_256") {
      if (have_credential) {
        out.error = "key scram_sha_256 appears twice";
        return out;
      }
      have_credential = true;
      out.credential = value;
    }  // unknown keys: a newer broker's, skipped
  }
  if (!have_name || !have_credential) {
    out.error = have_name ? "no scram_sha_256 line" : "no name line";
    return out;
  }
  if (auto why = check_user_name(out.name); !why.empty())
    out.error = why;
  else if (auto why2 = check_credential(out.credential); !why2.empty())
    out.error = why2;
  return out;
}

std::optional<std::string> credential_store::find(std::string_view user) const {
  auto users = snapshot();
  auto i = users->find(std::string{user});
  if (i == users->end())
    return std::nullopt;
  return i->second;
}

void credential_store::replace(user_map users) {
  auto next = std::make_shared<const user_map>(std::move(users));
  std::lock_guard<std::mutex> lock{mutex_};
  users_ = std::move(next);
}

std::shared_ptr<const user_map> credential_store::snapshot() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return users_;
}

} // namespace herald::security
