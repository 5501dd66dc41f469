#include "security/acl_wire.hpp"

namespace herald::security {

parsed_acl from_wire(schema::Acl::Reader in) {
  parsed_acl out;
  out.value.perm = in.getPermission() == schema::AclPermission::DENY ? permission::deny : permission::allow;
  out.value.principal = in.getPrincipal();
  const auto op = static_cast<unsigned>(in.getOperation());
  const auto type = static_cast<unsigned>(in.getResourceType());
  if (op > static_cast<unsigned>(operation::all)) {
    out.error = "unknown operation " + std::to_string(op);
    return out;
  }
  if (type > static_cast<unsigned>(resource_type::cluster)) {
    out.error = "unknown resource type " + std::to_string(type);
    return out;
  }
  if (static_cast<unsigned>(in.getPermission()) > 1) {
    out.error = "unknown permission " + std::to_string(static_cast<unsigned>(in.getPermission()));
    return out;
  }
  out.value.op = static_cast<operation>(op);
  out.value.type = static_cast<resource_type>(type);
  out.value.pattern = in.getPattern();
  out.error = check(out.value);
  return out;
}

void to_wire(const acl_entry& in, schema::Acl::Builder out) {
  out.setPermission(in.perm == permission::deny ? schema::AclPermission::DENY : schema::AclPermission::ALLOW);
  out.setPrincipal(in.principal);
  out.setOperation(static_cast<schema::AclOperation>(static_cast<std::uint16_t>(in.op)));
  out.setResourceType(static_cast<schema::ResourceType>(static_cast<std::uint16_t>(in.type)));
  out.setPattern(in.pattern);
}

} // namespace herald::security
