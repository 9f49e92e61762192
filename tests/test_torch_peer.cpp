// GoogleTest suite of the `torch` peer's norm ops and its plugin loading (kernels/cpu/torch_peer.*,
// kernels/cpu/torch_plugin_norm.cpp), through the real opbench binary: the agreement check against
// the float64 reference runs on poisoned outputs, so an output PyTorch's chain did not write, or
// wrote in another layout or dtype, fails. Built only when CMake found a working libtorch. Each
// test loads libtorch once (about a second), so they are few.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/torch_test_support.hpp"

namespace {

using namespace cli_test;

// `opbench check` of the torch peer on norm ops over small shapes with a ragged row (33 columns,
// 7 spatial elements), into check.json.
class TorchPeer : public TorchPeerTest {
 protected:
  Outcome check_norm_ops(const std::string& ops, const std::string& dtypes,
                         const std::string& dists) {
    return opbench(
        dir_, {"check",  "--op",      ops,      "--impl",  "torch",    "--dtype", dtypes,
               "--axis", "rows=5",    "--axis", "cols=33", "--axis",   "n=2",     "--axis",
               "c=8",    "--axis",    "hw=7",   "--axis",  "groups=4", "--axis",  "dist=" + dists,
               "--json", "check.json"});
  }
};

// Every norm op the peer binds, in every dtype it claims, over shapes with a ragged row (33
// columns, 7 spatial elements) and the distributions without a large common offset. PyTorch 1.13's
// bfloat16 LayerNorm, GroupNorm and training BatchNorm do not round once (known failures, with
// the measured errors, in suites/known_failures.json): they may be xfail, never fail; every other
// case must pass.
TEST_F(TorchPeer, NormOpsAgreeWithTheReferenceInEveryDtypeTheyClaim) {
  Outcome r = check_norm_ops("layernorm,rmsnorm,batchnorm_infer,batchnorm_train,groupnorm",
                             "f32,bf16", "normal,uniform,llm_outliers");
  ASSERT_TRUE(fs::exists(dir_ / "check.json")) << r;
  const json doc = report("check.json");
  const std::set<std::string> listed = {"layernorm", "groupnorm", "batchnorm_train"};
  std::map<std::string, std::set<std::string>> dtypes;  // op -> dtypes of its torch cases
  int must_pass = 0;
  for (const json& c : doc.at("opbench").at("cases")) {
    if (c.at("impl") != "torch") continue;
    SCOPED_TRACE(c.dump());
    const std::string op = c.at("op"), dtype = c.at("dtype"),
                      status = c.at("agreement").at("status");
    EXPECT_EQ(c.value("error", ""), "");
    EXPECT_EQ(c.at("agreement").at("checked"), true);
    dtypes[op].insert(dtype);
    if (dtype == "bf16" && listed.count(op)) {
      EXPECT_TRUE(status == "pass" || status == "xfail");
    } else {
      EXPECT_EQ(status, "pass");
      ++must_pass;
    }
  }
  const std::set<std::string> both = {"f32", "bf16"};
  EXPECT_EQ(dtypes["layernorm"], both);
  EXPECT_EQ(dtypes["rmsnorm"], both);
  EXPECT_EQ(dtypes["batchnorm_train"], both);
  EXPECT_EQ(dtypes["groupnorm"], both);
  // Running statistics in float32 and data in bfloat16 is a mix PyTorch 1.13's CPU batch_norm
  // refuses, so the peer claims float32 alone there.
  EXPECT_EQ(dtypes["batchnorm_infer"], std::set<std::string>{"f32"});
  EXPECT_EQ(must_pass, 6 * 3);  // rmsnorm in both dtypes, the four others in f32; three dists
}

// The backward kernels autograd runs for LayerNorm, GroupNorm and training BatchNorm, on the
// statistics the forward saved, in float32 over a ragged row and every distribution of the
// backward ops, dx, dgamma and dbeta compared on poisoned outputs. PyTorch 1.13's LayerNorm and
// GroupNorm backward lose precision under a large common offset, and LayerNorm's on constant rows
// (known failures, with the measured errors, in suites/known_failures.json): those may be xfail,
// never fail; every other case must pass.
TEST_F(TorchPeer, NormBackwardOpsAgreeWithTheReference) {
  Outcome r = check_norm_ops("layernorm_backward,groupnorm_backward,batchnorm_train_backward",
                             "f32", "normal,uniform,llm_outliers,offset,constant_rows");
  ASSERT_TRUE(fs::exists(dir_ / "check.json")) << r;
  const json doc = report("check.json");
  const std::set<std::string> listed = {
      "layernorm_backward/offset", "layernorm_backward/constant_rows", "groupnorm_backward/offset"};
  std::map<std::string, int> passed;  // op -> torch cases that must pass, and did
  for (const json& c : doc.at("opbench").at("cases")) {
    if (c.at("impl") != "torch") continue;
    SCOPED_TRACE(c.dump());
    const std::string op = c.at("op"), status = c.at("agreement").at("status");
    EXPECT_EQ(c.value("error", ""), "");
    if (listed.count(op + "/" + c.at("params").at("dist").get<std::string>())) {
      EXPECT_TRUE(status == "pass" || status == "xfail");
    } else {
      EXPECT_EQ(status, "pass");
      passed[op] += status == "pass";
    }
  }
  EXPECT_EQ(passed["layernorm_backward"], 3);  // normal, uniform, llm_outliers
  EXPECT_EQ(passed["groupnorm_backward"], 4);  // and constant_rows
  EXPECT_EQ(passed["batchnorm_train_backward"], 5);
}

// libtorch missing or broken at run time costs the torch cases, never the run: each says why in
// one line, and the other implementations are checked as usual.
TEST_F(TorchPeer, APluginThatCannotBeLoadedIsThatCasesErrorAndTheRunGoesOn) {
  const std::string missing = (dir_ / "no-such-plugin.so").string();
  ASSERT_EQ(setenv("OPBENCH_TORCH_PLUGIN", missing.c_str(), 1), 0);
  Outcome r =
      opbench(dir_, {"check", "--op", "layernorm", "--impl", "torch,cpu.plain", "--axis", "rows=3",
                     "--axis", "cols=5", "--axis", "dist=normal", "--json", "check.json"});
  unsetenv("OPBENCH_TORCH_PLUGIN");
  EXPECT_NE(r.code, 0) << r;  // an errored case is not a passing check
  ASSERT_TRUE(fs::exists(dir_ / "check.json")) << r;
  const json doc = report("check.json");
  int torch_cases = 0, plain_passed = 0;
  for (const json& c : doc.at("opbench").at("cases")) {
    SCOPED_TRACE(c.dump());
    if (c.at("impl") == "torch") {
      ++torch_cases;
      EXPECT_EQ(c.at("agreement").at("status"), "error");
      const std::string error = c.value("error", "");
      EXPECT_EQ(error.rfind("torch layernorm: cannot load the PyTorch plugin " + missing + ": ", 0),
                0u);
      EXPECT_EQ(error.find('\n'), std::string::npos);
    } else if (c.at("impl") == "cpu.plain") {
      plain_passed += c.at("agreement").at("status") == "pass";
    }
  }
  EXPECT_EQ(torch_cases, 2);  // f32 and bf16
  EXPECT_EQ(plain_passed, 2);
}

// `list` names the peer, its library version and where the plugin is loaded from, and each op's
// dtypes, without loading libtorch: it works with the plugin gone.
TEST_F(TorchPeer, ListShowsThePeerAndItsDtypesWithoutLoadingIt) {
  ASSERT_EQ(setenv("OPBENCH_TORCH_PLUGIN", "/nonexistent/libopbench_torch.so", 1), 0);
  Outcome r = opbench(dir_, {"list", "--op", "layernorm,batchnorm_infer"});
  unsetenv("OPBENCH_TORCH_PLUGIN");
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "torch[f32,bf16]")) << r;
  EXPECT_TRUE(contains(r.out, "torch[f32]")) << r;
  EXPECT_TRUE(contains(r.out, "loaded at its first case from /nonexistent/libopbench_torch.so"))
      << r;
}

}  // namespace
