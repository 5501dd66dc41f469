#include "security/sasl_server.hpp"

#include <algorithm>

namespace herald::security {

const std::vector<std::string>& supported_sasl_mechanisms() {
  static const std::vector<std::string> all{std::string(scram_sha_256)};
  return all;
}

std::optional<std::vector<std::string>> parse_sasl_mechanisms(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<std::vector<std::string>> {
    if (error)
      *error = std::move(why);
    return std::nullopt;
  };
  const auto& supported = supported_sasl_mechanisms();
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t comma = text.find(',', pos);
    std::string item(text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    if (item.empty())
      return fail("empty entry in '" + std::string(text) + "'");
    if (std::find(supported.begin(), supported.end(), item) == supported.end())
      return fail("unsupported mechanism '" + item + "' (supported: SCRAM-SHA-256)");
    if (std::find(out.begin(), out.end(), item) != out.end())
      return fail("'" + item + "' given twice");
    out.push_back(std::move(item));
    if (comma == std::string_view::npos)
      return out;
    pos = comma + 1;
  }
}

sasl_server::sasl_server(std::vector<std::string> mechanisms, scram_credential_lookup lookup)
    : mechanisms_(std::move(mechanisms)), lookup_(std::move(lookup)) {}
sasl_server::~sasl_server() = default;
sasl_server::sasl_server(sasl_server&&) noexcept = default;
sasl_server& sasl_server::operator=(sasl_server&&) noexcept = default;

sasl_outcome sasl_server::fail(std::string error, std::string detail) {
  state_ = state::failed;
  scram_.reset();
  sasl_outcome out;
  out.log_detail = detail.empty() ? error : std::move(detail);
  out.error = std::move(error);
  return out;
}

sasl_outcome sasl_server::step(std::string_view mechanism, std::string_view payload) {
  switch (state_) {
    case state::done:
      return fail("SASL: already authenticated");
    case state::failed:
      return fail("SASL: the exchange already failed");
    case state::in_progress:
      if (mechanism != mechanism_)
        return fail("SASL: mechanism changed from " + mechanism_ + " to '" + std::string(mechanism.substr(0, 64)) +
                    "' during the exchange");
      break;
    case state::initial: {
      if (std::find(mechanisms_.begin(), mechanisms_.end(), mechanism) == mechanisms_.end()) {
        std::string offered;
        for (const auto& m : mechanisms_)
          offered += (offered.empty() ? "" : ", ") + m;
        return fail("SASL: mechanism '" + std::string(mechanism.substr(0, 64)) + "' is not offered here (offered: " +
                    (offered.empty() ? "none" : offered) + ")");
      }
      mechanism_ = std::string(mechanism);
      scram_ = std::make_unique<scram_server>(lookup_);
      state_ = state::in_progress;
      auto first = scram_->first_response(payload);
      if (!first.ok()) {
        auto out = fail(first.error, scram_->log_detail());
        out.reply = first.message;
        return out;
      }
      sasl_outcome out;
      out.reply = std::move(first.message);
      return out;
    }
  }
  auto final = scram_->final_response(payload);
  if (!final.ok()) {
    std::string detail = scram_->log_detail();
    auto out = fail(final.error, std::move(detail));
    out.reply = final.message;
    return out;
  }
  state_ = state::done;
  principal_ = "User:" + scram_->user();
  sasl_outcome out;
  out.reply = std::move(final.message);
  out.done = true;
  out.principal = principal_;
  out.log_detail = "SCRAM-SHA-256: authenticated " + principal_;
  scram_.reset();
  return out;
}

} // namespace herald::security
