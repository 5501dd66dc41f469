#pragma once
// Access control entries: who (a principal) may or may not do what (an
// operation) to which resource (a topic, a group or the cluster). Plain
// values and their one-line text form; no CAF, no network, no I/O. The
// decision over a set of them is security/authorizer.hpp.
//
// A principal is "User:<name>" (security-design.md: SCRAM user name, mTLS
// certificate CN, or User:ANONYMOUS). An ACL's principal may be "User:*":
// every principal.
//
// A resource pattern names resources of one type:
//   literal  "orders"    the topic (group) called exactly that
//   prefixed "orders.*"  every name that starts with "orders." (a final '*')
//   all      "*"         every name of that type
// The cluster resource has one name, "cluster"; its patterns are "cluster"
// and "*".
//
// TEXT FORM (one ACL, as stored in ZooKeeper's /herald/acls, the data
// directory's acls file, and printed by `herald acl list`): four fields
// separated by exactly one space (0x20), no leading or trailing space:
//   <permission> <principal> <operation> <type>:<pattern>
//   permission  allow | deny
//   principal   "User:" followed by 1..255 bytes of 0x21..0x7e, or "User:*"
//   operation   create | delete | produce | consume | describe | alter | all
//   type        topic | group | cluster
//   pattern     1..255 bytes of 0x21..0x7e; '*' only as the last byte
//               (topic patterns: letters, digits, '.', '_', '-', then the
//               optional '*'; cluster: "cluster" or "*")
// Examples:
//   allow User:alice produce topic:orders
//   allow User:etl consume topic:raw.*
//   deny User:* delete topic:*
//   allow User:ops alter cluster:cluster

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::security {

enum class resource_type : std::uint8_t { topic, group, cluster };
enum class operation : std::uint8_t { create, delete_, produce, consume, describe, alter, all };
enum class permission : std::uint8_t { allow, deny };

inline constexpr std::string_view cluster_resource_name = "cluster";
inline constexpr std::string_view anonymous_principal = "User:ANONYMOUS";
inline constexpr std::size_t max_name_bytes = 255;

// A concrete resource a request touches.
struct resource {
  resource_type type = resource_type::topic;
  std::string name;  // the cluster's is cluster_resource_name
  static resource topic(std::string name) { return {resource_type::topic, std::move(name)}; }
  static resource group(std::string name) { return {resource_type::group, std::move(name)}; }
  static resource cluster() { return {resource_type::cluster, std::string{cluster_resource_name}}; }
  friend bool operator==(const resource&, const resource&) = default;
};

struct acl_entry {
  permission perm = permission::allow;
  std::string principal;            // "User:alice" or "User:*"
  operation op = operation::all;
  resource_type type = resource_type::topic;
  std::string pattern;              // literal, "prefix*" or "*"
  friend bool operator==(const acl_entry&, const acl_entry&) = default;
  friend auto operator<=>(const acl_entry&, const acl_entry&) = default;

  // Does this entry speak about (principal, op, resource)? Its permission aside.
  bool matches(std::string_view who, operation what, const resource& on) const;
};

std::string_view to_string(resource_type t);
std::string_view to_string(operation o);
std::string_view to_string(permission p);
std::optional<resource_type> parse_resource_type(std::string_view text);
std::optional<operation> parse_operation(std::string_view text);
std::optional<permission> parse_permission(std::string_view text);

// Does `pattern` (literal, "prefix*" or "*") cover `name`?
bool pattern_matches(std::string_view pattern, std::string_view name);

// Empty when the principal may appear in an ACL ("User:*" allowed when
// `wildcard_ok`), else why not.
std::string check_principal(std::string_view principal, bool wildcard_ok = true);
// Empty when `pattern` is a valid pattern for resources of `type`, else why not.
std::string check_pattern(resource_type type, std::string_view pattern);
// Both checks above, with the field named.
std::string check(const acl_entry& acl);

// The text form (header). encode() of a valid entry; parse() never throws.
std::string encode(const acl_entry& acl);
struct parsed_acl {
  acl_entry value;
  std::string error;  // empty on success: names the field that is wrong
  bool ok() const { return error.empty(); }
};
parsed_acl parse_acl(std::string_view line);

// A whole ACL set as one text: "version=1\n" then one ACL per line, each
// ended by '\n', sorted (by permission allow < deny, principal bytewise,
// operation in the order of the enum above, type, pattern), no duplicates (encode sorts and drops duplicates;
// decode accepts any order and drops duplicates). An empty input (a node
// or file that was never written) is the empty set. A larger version, a
// missing one or a bad line is refused with the line's number.
std::string encode_acls(std::vector<acl_entry> acls);
struct parsed_acls {
  std::vector<acl_entry> value;
  std::string error;
  bool ok() const { return error.empty(); }
};
parsed_acls decode_acls(std::string_view text);

} // namespace herald::security
