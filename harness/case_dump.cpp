#include "harness/case_dump.hpp"

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace opbench {

namespace {

nlohmann::json sample_json(const DatasetRecord& r) {
  if (r.sample_axis.empty()) return nullptr;
  return {{"axis", r.sample_axis},
          {"rows", r.sample_rows},
          {"of", r.sample_of},
          {"seed", r.sample_seed}};
}

// numpy has no bfloat16: a bf16 tensor is written as float32, which holds every bf16 value
// exactly (its upper half), and case.json says which dtype the tensor had. Every other dtype is
// written as it is.
Tensor npy_form(const Tensor& t) {
  if (t.dtype() != DType::bf16) return t;
  Tensor wide(DType::f32, t.shape());
  const bf16_t* src = t.data<bf16_t>();
  float* dst = wide.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) dst[i] = to_float(src[i]);
  return wide;
}

// What case.json records of a dumped tensor's dtype: its own, and the file's where they differ.
nlohmann::json dtype_json(const Tensor& t) {
  nlohmann::json j = {{"dtype", std::string(dtype_name(t.dtype()))}};
  if (t.dtype() == DType::bf16) j["file_dtype"] = "f32";
  return j;
}

std::string case_folder(const std::string& key) {
  std::string s = key;
  for (char& ch : s) {
    if (ch == '/') ch = '.';
    if (ch == ':') ch = '-';
  }
  return s;
}

}  // namespace

void Dumper::dataset(const CasePlan& c, const Dataset& d) {
  folder_ = dir_ + "/" + case_folder(d.key);
  std::filesystem::create_directories(folder_);
  for (const auto& [name, t] : d.inputs) {
    data_.write_npy(npy_form(t), folder_ + "/" + name + ".npy");
  }
  for (const auto& [name, t] : d.reference) {
    data_.write_npy(t, folder_ + "/ref." + name + ".npy");
  }
  info_ = nlohmann::json{{"name", d.key},
                         {"suite", c.op->suite},
                         {"op", c.op->name},
                         {"dtype", std::string(dtype_name(c.dtype))},
                         {"params", nlohmann::json::object()},
                         {"inputs", nlohmann::json::array()},
                         {"sample", sample_json(d.record)},
                         {"impls", nlohmann::json::array()}};
  for (const auto& [k, v] : c.params.items()) {
    const bool integer = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
    info_["params"][k] = integer ? nlohmann::json(std::stoll(v)) : nlohmann::json(v);
  }
  for (const auto& t : d.record.tensors) {
    nlohmann::json j = {{"name", t.name},
                        {"source", t.source},
                        {"dist", t.dist},
                        {"seed", t.seed},
                        {"checksum", t.checksum}};
    j.update(dtype_json(d.inputs.at(t.name)));
    info_["inputs"].push_back(j);
  }
  write_info();
}

void Dumper::impl(const CasePlan& c, const TensorMap& out, const Agreement& a) {
  nlohmann::json outputs = nlohmann::json::object();
  for (const auto& [name, t] : out) {
    data_.write_npy(npy_form(t), folder_ + "/" + c.impl->name + "." + name + ".npy");
    outputs[name] = dtype_json(t);
  }
  info_["impls"].push_back({{"impl", c.impl->name},
                            {"outputs", outputs},
                            {"status", status_name(a.status)},
                            {"err_ratio", a.err_ratio},
                            {"mismatches", a.mismatches},
                            {"max_abs_err", a.max_abs_err},
                            {"first_mismatch", a.first_mismatch},
                            {"known_failure", a.known_failure}});
  write_info();
}

// Written whole, then renamed over the last version: a reader never sees half a file.
void Dumper::write_info() {
  const std::string path = folder_ + "/case.json";
  {
    std::ofstream f(path + ".tmp");
    f << info_.dump(2) << "\n";
    if (!f) throw std::runtime_error("--dump: cannot write " + path);
  }
  std::filesystem::rename(path + ".tmp", path);
}

}  // namespace opbench
