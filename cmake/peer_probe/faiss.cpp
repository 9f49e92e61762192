// Peer probe for FAISS: builds a tiny inner-product index and searches it, so a config that loads
// but names a missing or broken library (or one whose BLAS does not load) is caught at configure
// time.
#include <faiss/IndexFlat.h>

#include <cstdio>

int main() {
  faiss::IndexFlatIP index(2);
  const float keys[] = {1.0f, 0.0f, 0.0f, 1.0f};
  index.add(2, keys);
  const float query[] = {0.25f, 0.75f};
  float score = 0.0f;
  faiss::Index::idx_t id = -1;  // FAISS 1.7's spelling (Debian 12)
  index.search(1, query, 1, &score, &id);
  std::printf("FAISS search picked key %ld\n", static_cast<long>(id));
  return id == 1 ? 0 : 1;
}
