#pragma once
// Cross-workload analysis over profiles: op-type time vectors, cosine similarity, average-linkage
// clustering (scipy.cluster.hierarchy.linkage(method='average', metric='cosine') semantics), and
// Amdahl fits of thread-scaling curves. Pure functions of their inputs.
#include <string>
#include <vector>

#include "plumb/profile.h"

namespace plumb::profile {

// Rows = profiles, columns = the union of op types (sorted by name); entries = total measured op
// time (ns) of that op type in that profile.
struct OpTypeMatrix {
  std::vector<std::string> labels;    // one per profile: "workload/mode" (plus "/variant" when not default)
  std::vector<std::string> op_types;  // columns
  std::vector<std::vector<double>> time_ns;
};
OpTypeMatrix op_type_matrix(const std::vector<Profile>& profiles);

// similarity[i][j] = a.b / (|a||b|); 1 on the diagonal; 0 when either vector is all zero.
std::vector<std::vector<double>> cosine_similarity(const std::vector<std::vector<double>>& vectors);

// One merge of agglomerative clustering, scipy's linkage-matrix row: clusters `a` and `b` (ids < n
// are observations, id n + k is the cluster made by merge k) join at `distance` into a cluster of
// `size` observations. Ties break toward the lowest (a, b) pair.
struct Merge {
  int a = 0, b = 0;
  double distance = 0;
  int size = 0;
};
// Average linkage (UPGMA) over a symmetric distance matrix; n - 1 merges for n observations.
// Throws Error when the matrix is not square or not symmetric.
std::vector<Merge> average_linkage(const std::vector<std::vector<double>>& distance);
// Leaf order of the dendrogram (left to right), as scipy's dendrogram draws it.
std::vector<int> dendrogram_order(const std::vector<Merge>& merges, int n);

// Amdahl's law T(p) = T1 * (s + (1 - s) / p), fitted by least squares over s in [0, 1] and T1 > 0.
struct AmdahlFit {
  double serial_fraction = 0;
  double t1_ms = 0;
  double rmse_ms = 0;  // root-mean-square residual
  double max_speedup() const { return serial_fraction > 0 ? 1.0 / serial_fraction : 0.0; }  // 0 = unbounded
};
// Throws Error with fewer than two distinct thread counts or a non-positive time.
AmdahlFit fit_amdahl(const std::vector<ScalingPoint>& points);

}  // namespace plumb::profile
