#pragma once
// `herald acl add|remove|list`: ACLs on the brokers (docs/security.md).

#include <CLI/CLI.hpp>

#include "client/blocking.hpp"

namespace herald::cli {

class acl_commands {
public:
  // Adds the `acl` subcommand and its own subcommands to `app`.
  explicit acl_commands(CLI::App& app);
  bool parsed() const;
  // Runs the parsed one; the exit status.
  int run(client::connection& conn);

private:
  CLI::App* acl_ = nullptr;
  CLI::App* add_ = nullptr;
  CLI::App* remove_ = nullptr;
  CLI::App* list_ = nullptr;
  std::string principal_;
  std::string operation_;
  std::string topic_;
  std::string group_;
  bool cluster_ = false;
  bool deny_ = false;
};

} // namespace herald::cli
