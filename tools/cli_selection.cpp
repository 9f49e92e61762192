#include <cstdlib>
#include <sstream>

#include "harness/errors.hpp"
#include "tools/cli.hpp"

namespace opbench::cli {

std::vector<std::string> split_commas(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (!item.empty()) out.push_back(item);
    }
  }
  return out;
}

namespace {

std::pair<std::string, std::string> split_assignment(const std::string& option,
                                                     const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    throw UsageError("--" + option + " '" + text + "': expected NAME=VALUE");
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}
}  // namespace

void SelectionOptions::add_to(po::options_description& desc, bool sweep, bool with_inputs) {
  auto multi = [](std::vector<std::string>* v) {
    return po::value<std::vector<std::string>>(v)->composing();
  };
  desc.add_options()("suite", multi(&suites), "suites to run, comma-separated (norm, ...)")(
      "op", multi(&ops), "ops, comma-separated (layernorm,rmsnorm)")(
      "impl", multi(&impls), "implementations, comma-separated (ref,cpu.plain,cpu.fast,...)")(
      "backend", multi(&backends), "backends, comma-separated (ref,cpu,cuda)")(
      "dtype", multi(&dtypes), "dtypes, comma-separated (f32)")(
      "mode", multi(&modes),
      "training passes, comma-separated (fwd, bwd, fwd_bwd: forward ops, backward ops, whole "
      "training steps); default all")(
      "timing-mode", multi(&timing_modes),
      "timing modes, comma-separated (cpu: wall; cuda: hot, cold); default every mode");
  if (sweep) {
    desc.add_options()("quick", po::bool_switch(&quick),
                       "the quick sweep of every axis (the default)")(
        "full", po::bool_switch(&full), "the full sweep of every axis")(
        "axis", multi(&axes), "NAME=V1,V2: override an axis (e.g. cols=1024,2^12; dist=offset)")(
        "shard", po::value(&shard)->notifier([this](const std::string&) { shard_given = true; }),
        "I/N: run shard I of N (1 <= I <= N), a stable, cost-balanced share of the plan; unset: "
        "the shard a Slurm array job (SLURM_ARRAY_TASK_ID, _COUNT, _MIN) or a Kubernetes "
        "Indexed Job (JOB_COMPLETION_INDEX with OPBENCH_SHARD_COUNT) gives, else the whole plan; "
        "join the reports with opbench merge");
  }
  if (with_inputs) {
    desc.add_options()("input", multi(&inputs),
                       "NAME=FILE.npy: use your own tensor for input NAME; axes follow its shape");
  }
}

Selection SelectionOptions::to_selection() const {
  if (quick && full) throw UsageError("--quick and --full exclude each other");
  Selection s;
  s.suites = split_commas(suites);
  s.ops = split_commas(ops);
  s.impls = split_commas(impls);
  s.backends = split_commas(backends);
  s.dtypes = split_commas(dtypes);
  s.timing_modes = split_commas(timing_modes);
  s.modes = split_commas(modes);
  s.full = full;
  for (const auto& a : axes) {
    auto [name, value] = split_assignment("axis", a);
    s.axis_overrides[name] = value;
  }
  for (const auto& in : inputs) {
    auto [name, path] = split_assignment("input", in);
    s.inputs[name] = path;
  }
  return s;
}

ShardSpec SelectionOptions::shard_spec() const {
  if (shard_given) return parse_shard(shard, "--shard");
  return shard_from_environment([](const char* name) { return std::getenv(name); });
}

po::variables_map parse(const Args& args, const po::options_description& desc,
                        std::vector<std::string>* passthrough) {
  po::variables_map vm;
  try {
    auto parsed = po::command_line_parser(args).options(desc).allow_unregistered().run();
    for (const auto& opt : parsed.options) {
      if (!opt.unregistered) continue;
      const std::string& key = opt.string_key;
      if (passthrough && key.rfind("benchmark_", 0) == 0) {
        std::string flag = "--" + key;
        if (!opt.value.empty()) flag += "=" + opt.value.front();
        passthrough->push_back(flag);
        continue;
      }
      std::string shown = opt.original_tokens.empty() ? key : opt.original_tokens.front();
      throw UsageError("unknown option '" + shown + "' (see --help)");
    }
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return vm;
}

po::variables_map parse_with_positional(const Args& args, const po::options_description& desc,
                                        const char* positional, int max_count,
                                        const std::string& prefix) {
  po::positional_options_description pos;
  pos.add(positional, max_count);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(prefix + e.what());
  }
  return vm;
}

}  // namespace opbench::cli
