#pragma once
// What the torch peer's test files share: a fixture with a fresh scratch folder for the opbench
// runs of each test (removed after it) and the JSON report read from it.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>

#include "tests/cli_test_support.hpp"

namespace cli_test {

class TorchPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/opbench_test_torch_peer_XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  json report(const std::string& name) { return json::parse(read_text(dir_ / name)); }
  fs::path dir_;
};

}  // namespace cli_test
