#include "harness/build_info.hpp"
#include "harness/device.hpp"
#include "suites/suites.hpp"

#ifdef OPBENCH_HAVE_ONEDNN
#include "kernels/cpu/onednn_norm.hpp"
#endif

namespace opbench {

namespace suite {
extern const char* const kKnownFailuresJson;  // suites/known_failures.json, embedded at build time
}  // namespace suite

void register_all_suites(Registry& reg) {
  reg.known_failures().load_json(suite::kKnownFailuresJson, "suites/known_failures.json");
  reg.set_backend_status({"ref", true, "float64 reference, one thread"});
  reg.set_backend_status(
      {"cpu", true, cpu_model_name() + ", " + std::to_string(hardware_threads()) + " threads"});
  reg.set_backend_status(cuda_status());
#ifdef OPBENCH_HAVE_ONEDNN
  reg.set_backend_status({"onednn", true, "oneDNN " + onednn::version() + " (peer, runs on cpu)"});
#else
  reg.set_backend_status({"onednn", false, "not built: " + build_info().onednn});
#endif
#ifdef OPBENCH_HAVE_FAISS
  reg.set_backend_status({"faiss", true, "FAISS (peer, runs on cpu)"});
#else
  reg.set_backend_status({"faiss", false, "not built: " + build_info().faiss});
#endif
  register_norm_suite(reg);
  register_scan_suite(reg);
  register_fff_suite(reg);
  register_pkm_suite(reg);
}

}  // namespace opbench
