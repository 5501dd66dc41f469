#include "apps/acl_commands.hpp"

#include <cstdio>
#include <iostream>

#include "schema/wire.hpp"

namespace herald::cli {

namespace {

const char* const operations[] = {"create", "delete", "produce", "consume", "describe", "alter", "all"};
const char* const types[] = {"topic", "group", "cluster"};

std::vector<std::string> operation_names() {
  return {std::begin(operations), std::end(operations)};
}

schema::AclOperation operation_of(const std::string& name) {
  for (unsigned i = 0; i < std::size(operations); ++i)
    if (name == operations[i])
      return static_cast<schema::AclOperation>(i);
  return schema::AclOperation::ALL;
}

// The ACL the options describe, into `out`.
void fill(schema::Acl::Builder out, const std::string& principal, const std::string& operation, const std::string& topic,
          const std::string& group, bool cluster, bool deny) {
  out.setPermission(deny ? schema::AclPermission::DENY : schema::AclPermission::ALLOW);
  out.setPrincipal(principal);
  out.setOperation(operation_of(operation));
  if (cluster) {
    out.setResourceType(schema::ResourceType::CLUSTER);
    out.setPattern("cluster");
  } else if (!group.empty()) {
    out.setResourceType(schema::ResourceType::GROUP);
    out.setPattern(group);
  } else {
    out.setResourceType(schema::ResourceType::TOPIC);
    out.setPattern(topic);
  }
}

std::string text_of(unsigned value, const char* const* names, unsigned count) {
  return value < count ? names[value] : "?" + std::to_string(value);
}

} // namespace

acl_commands::acl_commands(CLI::App& app) {
  acl_ = app.add_subcommand("acl", "Add, remove and list ACLs (who may do what to which topic, group or the cluster)");
  acl_->require_subcommand(1);
  auto target = [&](CLI::App* cmd, const char* verb) {
    cmd->add_option("--principal", principal_, "User:<name>, or User:* for everyone")->required();
    cmd->add_option("--operation", operation_, "create, delete, produce, consume, describe, alter or all")
      ->required()
      ->check(CLI::IsMember(operation_names()));
    auto* t = cmd->add_option("--topic", topic_, "A topic name, a prefix ending in * (orders.*), or * for all");
    auto* g = cmd->add_option("--group", group_, "A group name, a prefix ending in *, or * for all");
    auto* c = cmd->add_flag("--cluster", cluster_, "The cluster itself (create topics, ACLs and users)");
    t->excludes(g)->excludes(c);
    g->excludes(c);
    cmd->add_flag("--deny", deny_, std::string{"A deny ACL (deny wins over every allow) to "} + verb);
  };
  add_ = acl_->add_subcommand("add", "Add an ACL (allow unless --deny)");
  target(add_, "add");
  remove_ = acl_->add_subcommand("remove", "Remove an ACL (named exactly as it was added)");
  target(remove_, "remove");
  list_ = acl_->add_subcommand("list", "List ACLs as a table");
  list_->add_option("--principal", principal_, "Only this principal's ACLs (and User:*'s)");
}

bool acl_commands::parsed() const {
  return acl_->parsed();
}

int acl_commands::run(client::connection& conn) {
  capnp::MallocMessageBuilder builder;
  auto req = builder.initRoot<schema::Request>();
  if (add_->parsed() || remove_->parsed()) {
    if (topic_.empty() && group_.empty() && !cluster_) {
      std::cerr << "herald: name the resource: --topic, --group or --cluster" << std::endl;
      return 2;
    }
    auto alter = req.initAlterAcls();
    fill(add_->parsed() ? alter.initAdd(1)[0] : alter.initRemove(1)[0], principal_, operation_, topic_, group_,
         cluster_, deny_);
    auto bytes = conn.admin_request(wire::to_bytes(builder));
    wire::message_reader reader(bytes);
    auto r = reader.root<schema::Response>().getAlterAcls();
    if (add_->parsed())
      std::cout << (r.getAdded() > 0 ? "added" : "already present:") << " ";
    else
      std::cout << (r.getRemoved() > 0 ? "removed" : "no such ACL:") << " ";
    std::cout << (deny_ ? "deny " : "allow ") << principal_ << " " << operation_ << " "
              << (cluster_ ? "cluster:cluster" : !group_.empty() ? "group:" + group_ : "topic:" + topic_) << "\n";
    return 0;
  }
  auto d = req.initDescribeAcls();
  d.setPrincipal(principal_);
  auto bytes = conn.admin_request(wire::to_bytes(builder));
  wire::message_reader reader(bytes);
  auto r = reader.root<schema::Response>().getDescribeAcls();
  std::vector<std::array<std::string, 4>> rows{{"PERMISSION", "PRINCIPAL", "OPERATION", "RESOURCE"}};
  for (auto a : r.getAcls())
    rows.push_back({a.getPermission() == schema::AclPermission::DENY ? "deny" : "allow", a.getPrincipal().cStr(),
                    text_of(static_cast<unsigned>(a.getOperation()), operations, std::size(operations)),
                    text_of(static_cast<unsigned>(a.getResourceType()), types, std::size(types)) + ":" +
                      a.getPattern().cStr()});
  std::array<std::size_t, 4> width{};
  for (const auto& row : rows)
    for (unsigned i = 0; i < 4; ++i)
      width[i] = std::max(width[i], row[i].size());
  for (const auto& row : rows) {
    std::string line;
    for (unsigned i = 0; i < 4; ++i) {
      line += row[i];
      if (i < 3)
        line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
  std::string supers;
  for (auto s : r.getSuperUsers())
    supers += (supers.empty() ? "" : ",") + std::string{s.cStr()};
  std::cerr << rows.size() - 1 << " ACL(s); authorization " << (r.getEnforcing() ? "enforced" : "off (allows everything)")
            << " on this broker; super-users: " << (supers.empty() ? "none" : supers) << std::endl;
  return 0;
}

} // namespace herald::cli
