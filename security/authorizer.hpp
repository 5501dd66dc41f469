#pragma once
// The authorization decision: may `principal` do `op` to `resource`? An
// immutable snapshot (ACLs + super-users + whether authorization is on),
// built by the node actor whenever the ACLs change and handed to every
// session like the routing table, so a session decides without asking
// anyone. No CAF, no I/O.
//
// Rules, in order:
//   1. authorization off (mode off, or auto with no ACL and no
//      authentication configured): allowed. Today's behaviour.
//   2. a super-user (--super-users): allowed, whatever the ACLs say.
//   3. any matching deny ACL: refused (deny wins over every allow).
//   4. any matching allow ACL: allowed. `describe` of a topic is also
//      allowed by an allow of produce, consume, delete or alter on it (a
//      producer must see the topic it may write to; Kafka does the same);
//      a deny of describe still wins.
//   5. otherwise refused (default deny).
// "Matching" is acl_entry::matches: same resource type, operation equal or
// `all`, principal equal or User:*, pattern covering the name.

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "security/acl.hpp"

namespace herald::security {

// heraldd --authorizer. auto: on as soon as any ACL exists or the broker
// authenticates clients (SASL or mTLS configured); off: never checks.
enum class authorizer_mode : std::uint8_t { auto_, on, off };
std::string_view to_string(authorizer_mode m);
std::optional<authorizer_mode> parse_authorizer_mode(std::string_view text);

struct decision {
  bool allowed = true;
  std::string reason;  // refused: a sentence naming principal, operation and resource
  bool retriable = false;  // refused only because the ACLs are not known yet (pending)
  explicit operator bool() const { return allowed; }
};

class authorizer {
public:
  authorizer() = default;  // off: allows everything
  authorizer(std::vector<acl_entry> acls, std::set<std::string> super_users, authorizer_mode mode,
             bool authentication_configured);

  // Whether checks apply at all (rule 1).
  bool enforcing() const { return enforcing_; }
  // A broker on ZooKeeper before it has read the ACLs: it enforces with none
  // (only super-users pass), and says the refusal is retriable.
  void set_pending(bool pending) { pending_ = pending; }
  bool pending() const { return pending_; }
  bool allowed(std::string_view principal, operation op, const resource& on) const;
  // The same, with the refusal worded for the client.
  decision check(std::string_view principal, operation op, const resource& on) const;

  const std::vector<acl_entry>& acls() const { return acls_; }
  const std::set<std::string>& super_users() const { return super_users_; }

private:
  std::vector<acl_entry> acls_;
  std::set<std::string> super_users_;
  bool enforcing_ = false;
  bool pending_ = false;
};

using authorizer_ptr = std::shared_ptr<const authorizer>;

// "User:admin,User:ops" -> the set; error names the bad entry. Empty text: none.
struct parsed_super_users {
  std::set<std::string> value;
  std::string error;
  bool ok() const { return error.empty(); }
};
parsed_super_users parse_super_users(std::string_view text);

} // namespace herald::security
