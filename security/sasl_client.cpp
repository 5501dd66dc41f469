#include "security/sasl_client.hpp"

#include <algorithm>

namespace herald::security {

sasl_client::sasl_client(std::string user, std::string password, std::string nonce)
    : scram_(std::move(user), std::move(password), std::move(nonce)) {}

std::optional<sasl_client::step> sasl_client::fail(std::string why) {
  if (error_.empty())
    error_ = std::move(why);
  return std::nullopt;
}

std::optional<sasl_client::step> sasl_client::start(const std::vector<std::string>& offered) {
  if (rounds_ != 0 || failed())
    return fail("SASL: started twice");
  if (std::find(offered.begin(), offered.end(), scram_sha_256) == offered.end()) {
    std::string list;
    for (const auto& m : offered)
      list += (list.empty() ? "" : ", ") + m.substr(0, 64);
    return fail("SASL: the broker offers " + list + "; this client supports only SCRAM-SHA-256");
  }
  auto first = scram_.first_message();
  if (!first.ok())
    return fail(first.error);
  rounds_ = 1;
  return step{std::string(scram_sha_256), std::move(first.message)};
}

std::optional<sasl_client::step> sasl_client::on_reply(std::string_view error_message, std::string_view payload,
                                                       bool done) {
  if (failed() || done_)
    return fail("SASL: a reply after the exchange ended");
  if (!error_message.empty())
    return fail("the broker refused: " + std::string(error_message.substr(0, 512)));
  if (rounds_ == 1) {
    if (done)
      return fail("SASL: the broker declared the exchange done before the client's proof");
    auto final = scram_.final_message(payload);
    if (!final.ok())
      return fail(final.error);
    rounds_ = 2;
    return step{std::string(scram_sha_256), std::move(final.message)};
  }
  if (rounds_ == 2) {
    auto verified = scram_.verify_server_final(payload);
    if (!verified.ok())
      return fail(verified.error);
    if (!done)
      return fail("SASL: the broker did not end the exchange after its final message");
    done_ = true;
    return std::nullopt;
  }
  return fail("SASL: a reply before the exchange started");
}

} // namespace herald::security
