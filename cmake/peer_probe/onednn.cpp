// Peer probe for oneDNN: links against libdnnl and runs one primitive-free call, so a config that
// loads but names a missing or broken library is caught at configure time.
#include <dnnl.h>

#include <cstdio>

int main() {
  const dnnl_version_t* v = dnnl_version();
  std::printf("oneDNN %d.%d.%d\n", v->major, v->minor, v->patch);
  return v->major > 0 ? 0 : 1;
}
