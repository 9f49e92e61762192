#include "harness/build_info.hpp"
#include "kernels/cpu/norm_fast_half.hpp"
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
  // The 16-bit kernels pick their conversion instructions from the CPU at run time.
  reg.add_device_note("cpu", std::string("16-bit conversions: bf16 ") + cpu::fast::half_path(true) +
                                 ", f16 " + cpu::fast::half_path(false));
  register_norm_suite(reg);
  register_scan_suite(reg);
  register_fff_suite(reg);
  register_pkm_suite(reg);
}

}  // namespace opbench
