#include "cluster/topic.hpp"

namespace herald::cluster {

std::string check_topic_name(std::string_view name) {
  if (name.empty())
    return "topic name is empty";
  if (name.size() > max_topic_name_length)
    return "topic name is longer than 249 characters";
  if (name == "." || name == "..")
    return "topic name cannot be '.' or '..'";
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
              || c == '_' || c == '-';
    if (!ok)
      return "topic name may only contain letters, digits, '.', '_' and '-'";
  }
  return {};
}

} // namespace herald::cluster
