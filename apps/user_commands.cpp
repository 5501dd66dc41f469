#include "apps/user_commands.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

#include "schema/wire.hpp"
#include "security/scram.hpp"

namespace herald::cli {

namespace {

// The password: the file's first line, without its line end. Empty when the
// file cannot be read (error says why).
std::string read_password(const std::string& file, std::string& error) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = "cannot read --password-file " + file;
    return {};
  }
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r')
    line.pop_back();
  if (line.empty())
    error = "--password-file " + file + " holds an empty password";
  return line;
}

} // namespace

user_commands::user_commands(CLI::App& app) {
  user_ = app.add_subcommand("user", "Add, remove and list SCRAM-SHA-256 users (the password never leaves this process)");
  user_->require_subcommand(1);
  add_ = user_->add_subcommand("add", "Add a user, or replace its password");
  add_->add_option("name", name_, "User name (its principal is User:<name>)")->required();
  add_->add_option("--password-file", password_file_, "A file whose first line is the password")->required();
  add_->add_option("--iterations", iterations_, "PBKDF2 iterations (default: SCRAM's default)")
    ->check(CLI::Range(security::scram_min_iterations, security::scram_max_iterations));
  remove_ = user_->add_subcommand("remove", "Remove a user");
  remove_->add_option("name", name_, "User name")->required();
  list_ = user_->add_subcommand("list", "List user names (never credentials)");
}

bool user_commands::parsed() const {
  return user_->parsed();
}

int user_commands::run(client::connection& conn) {
  capnp::MallocMessageBuilder builder;
  auto req = builder.initRoot<schema::Request>();
  if (add_->parsed()) {
    std::string error;
    auto password = read_password(password_file_, error);
    if (!error.empty()) {
      std::cerr << "herald: " << error << std::endl;
      return 2;
    }
    auto credential = security::make_credential(
      password, iterations_ == 0 ? security::scram_default_iterations : iterations_);
    if (!credential) {
      std::cerr << "herald: cannot derive a SCRAM credential" << std::endl;
      return 1;
    }
    auto u = req.initAlterUsers().initUpsert(1)[0];
    u.setName(name_);
    u.setScramSha256(security::encode_credential(*credential));
    conn.admin_request(wire::to_bytes(builder));
    std::cout << "user " << name_ << " added (principal User:" << name_ << ")\n";
    return 0;
  }
  if (remove_->parsed()) {
    req.initAlterUsers().initRemove(1).set(0, name_);
    auto bytes = conn.admin_request(wire::to_bytes(builder));
    wire::message_reader reader(bytes);
    auto removed = reader.root<schema::Response>().getAlterUsers().getRemoved();
    std::cout << (removed > 0 ? "removed user " : "no such user: ") << name_ << "\n";
    return 0;
  }
  req.initDescribeUsers();
  auto bytes = conn.admin_request(wire::to_bytes(builder));
  wire::message_reader reader(bytes);
  for (auto n : reader.root<schema::Response>().getDescribeUsers().getNames())
    std::cout << n.cStr() << "\n";
  return 0;
}

} // namespace herald::cli
