#include "harness/build_info.hpp"
#include "kernels/cpu/norm_fast_half.hpp"
#include "suites/suites.hpp"

#ifdef OPBENCH_HAVE_ONEDNN
#include "kernels/cpu/onednn_norm.hpp"
#endif
#ifdef OPBENCH_HAVE_TORCH
#include "kernels/cpu/torch_peer.hpp"
#endif

namespace opbench {

namespace suite {
extern const char* const kKnownFailuresJson;  // suites/known_failures.json, embedded at build time
}  // namespace suite

void register_all_suites(Registry& reg) {
  reg.known_failures().load_json(suite::kKnownFailuresJson, "suites/known_failures.json");
  // Peers are not backends (their kernels run on the host's): `list` shows whether each was built.
#ifdef OPBENCH_HAVE_ONEDNN
  reg.set_peer_status({"onednn", true, "oneDNN " + onednn::version() + " (runs on cpu)"});
#else
  reg.set_peer_status({"onednn", false, "not built: " + build_info().onednn});
#endif
#ifdef OPBENCH_HAVE_FAISS
  reg.set_peer_status({"faiss", true, "FAISS (runs on cpu)"});
#else
  reg.set_peer_status({"faiss", false, "not built: " + build_info().faiss});
#endif
#ifdef OPBENCH_HAVE_TORCH
  {
    // "enabled (libtorch 1.13.1)" -> "libtorch 1.13.1". The plugin is loaded at the first `torch`
    // case, so `list` names it rather than starting libtorch.
    std::string version = build_info().torch;
    if (const auto open = version.find('('); open != std::string::npos) {
      version = version.substr(open + 1, version.rfind(')') - open - 1);
    }
    reg.set_peer_status({"torch", true,
                         version + " (runs on cpu; loaded at its first case from " +
                             torch_peer::plugin_path() + ")"});
  }
#else
  reg.set_peer_status({"torch", false, "not built: " + build_info().torch});
#endif
  // The 16-bit kernels pick their conversion instructions from the CPU at run time.
  reg.add_device_note("cpu", std::string("16-bit conversions: bf16 ") + cpu::fast::half_path(true) +
                                 ", f16 " + cpu::fast::half_path(false));
  register_norm_suite(reg);
  register_scan_suite(reg);
  register_fff_suite(reg);
  register_pkm_suite(reg);
}

}  // namespace opbench
