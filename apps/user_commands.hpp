#pragma once
// `herald user add|remove|list`: SCRAM-SHA-256 users on the brokers
// (docs/security.md). The credential is computed here from the password
// (security/scram.hpp make_credential, a fresh random salt): the password
// never leaves this process.

#include <CLI/CLI.hpp>

#include "client/blocking.hpp"

namespace herald::cli {

class user_commands {
public:
  explicit user_commands(CLI::App& app);
  bool parsed() const;
  int run(client::connection& conn);

private:
  CLI::App* user_ = nullptr;
  CLI::App* add_ = nullptr;
  CLI::App* remove_ = nullptr;
  CLI::App* list_ = nullptr;
  std::string name_;
  std::string password_file_;
  std::uint32_t iterations_ = 0;
};

} // namespace herald::cli
