// Cross-workload analysis: op-type time vectors, cosine similarity, average-linkage clustering with
// scipy's linkage-matrix conventions, dendrogram leaf order, and Amdahl fits.
#include "plumb/profile_analysis.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "plumb/error.h"

namespace plumb::profile {

namespace {

std::string base_label(const RunInfo& run) {
  std::string label = run.workload;
  label += '/';
  label += run.mode;
  if (!run.variant.empty() && run.variant != "default") {
    label += '/';
    label += run.variant;
  }
  return label;
}

void check_square_symmetric(const std::vector<std::vector<double>>& d) {
  const size_t n = d.size();
  for (size_t i = 0; i < n; ++i) {
    if (d[i].size() != n)
      fail("average_linkage: the distance matrix is not square (row ", i, " has ", d[i].size(), " entries, expected ",
           n, ")");
    for (size_t j = 0; j < n; ++j)
      if (!std::isfinite(d[i][j])) fail("average_linkage: distance [", i, "][", j, "] is not finite");
  }
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      const double tol = 1e-12 * std::max({1.0, std::abs(d[i][j]), std::abs(d[j][i])});
      if (std::abs(d[i][j] - d[j][i]) > tol)
        fail("average_linkage: the distance matrix is not symmetric ([", i, "][", j, "] = ", d[i][j], ", [", j,
             "][", i, "] = ", d[j][i], ")");
    }
}

}  // namespace

OpTypeMatrix op_type_matrix(const std::vector<Profile>& profiles) {
  OpTypeMatrix m;
  std::set<std::string> types;
  std::vector<std::map<std::string, double>> rows(profiles.size());
  for (size_t p = 0; p < profiles.size(); ++p) {
    const Profile& prof = profiles[p];
    for (const OpRecord& op : prof.ops) {
      // Only ops inside a measured step count (the dropped first and last steps do not).
      if (op.step < 0 || static_cast<size_t>(op.step) >= prof.steps.size() || !prof.steps[op.step].measured)
        continue;
      types.insert(op.op);
      rows[p][op.op] += static_cast<double>(op.duration_ns);
    }
  }
  m.op_types.assign(types.begin(), types.end());
  // Repeated labels (the same workload profiled twice) get "#2", "#3", ... so each row stays nameable.
  std::map<std::string, int> seen;
  for (size_t p = 0; p < profiles.size(); ++p) {
    std::string label = base_label(profiles[p].run);
    const int k = ++seen[label];
    if (k > 1) {
      label += '#';
      label += std::to_string(k);
    }
    m.labels.push_back(std::move(label));
    std::vector<double> row;
    row.reserve(m.op_types.size());
    for (const std::string& t : m.op_types) {
      const auto it = rows[p].find(t);
      row.push_back(it == rows[p].end() ? 0.0 : it->second);
    }
    m.time_ns.push_back(std::move(row));
  }
  return m;
}

std::vector<std::vector<double>> cosine_similarity(const std::vector<std::vector<double>>& vectors) {
  const size_t n = vectors.size();
  for (size_t i = 1; i < n; ++i)
    if (vectors[i].size() != vectors[0].size())
      fail("cosine_similarity: vector ", i, " has ", vectors[i].size(), " entries, vector 0 has ", vectors[0].size());
  std::vector<double> norm(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (double v : vectors[i]) s += v * v;
    norm[i] = std::sqrt(s);
  }
  std::vector<std::vector<double>> sim(n, std::vector<double>(n, 0.0));
  for (size_t i = 0; i < n; ++i) {
    sim[i][i] = 1.0;  // also for an all-zero vector: a profile is identical to itself
    for (size_t j = i + 1; j < n; ++j) {
      double dot = 0;
      for (size_t k = 0; k < vectors[i].size(); ++k) dot += vectors[i][k] * vectors[j][k];
      double s = norm[i] > 0 && norm[j] > 0 ? dot / (norm[i] * norm[j]) : 0.0;
      s = std::clamp(s, -1.0, 1.0);  // rounding can step just past 1
      sim[i][j] = sim[j][i] = s;
    }
  }
  return sim;
}

// Greedy UPGMA: merge the closest pair of active clusters (ties: lowest (a, b) by cluster id), then
// update distances by the Lance-Williams average rule d(ab, k) = (|a| d(a, k) + |b| d(b, k)) / (|a| + |b|),
// the rule scipy's nn_chain uses. Average linkage is monotone, so the merges come out sorted by distance,
// as in scipy's output; without ties the rows equal scipy's linkage(squareform(D), 'average').
std::vector<Merge> average_linkage(const std::vector<std::vector<double>>& distance) {
  check_square_symmetric(distance);
  const int n = static_cast<int>(distance.size());
  if (n < 2) return {};
  const int total = 2 * n - 1;
  // d[x][y] for cluster ids x, y (upper triangle read as d[min][max]).
  std::vector<std::vector<double>> d(total, std::vector<double>(total, 0.0));
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) d[i][j] = d[j][i] = distance[i][j];
  std::vector<int> size(total, 0);
  std::vector<int> active;
  for (int i = 0; i < n; ++i) {
    size[i] = 1;
    active.push_back(i);
  }
  std::vector<Merge> merges;
  for (int k = 0; k < n - 1; ++k) {
    int best_a = -1, best_b = -1;
    double best = std::numeric_limits<double>::infinity();
    // `active` is kept sorted, so the first strict minimum found is the lowest (a, b) pair.
    for (size_t i = 0; i < active.size(); ++i)
      for (size_t j = i + 1; j < active.size(); ++j) {
        const double v = d[active[i]][active[j]];
        if (v < best) {
          best = v;
          best_a = active[i];
          best_b = active[j];
        }
      }
    const int id = n + k;
    size[id] = size[best_a] + size[best_b];
    merges.push_back({best_a, best_b, best, size[id]});
    std::erase(active, best_a);
    std::erase(active, best_b);
    for (int other : active) {
      const double v = (size[best_a] * d[best_a][other] + size[best_b] * d[best_b][other]) / size[id];
      d[id][other] = d[other][id] = v;
    }
    active.push_back(id);  // the largest id so far: `active` stays sorted
  }
  return merges;
}

// scipy's dendrogram (and leaves_list) draws merge k's first column `a` on the left and `b` on the
// right, recursively from the root (the last merge).
std::vector<int> dendrogram_order(const std::vector<Merge>& merges, int n) {
  if (n < 0) fail("dendrogram_order: negative observation count ", n);
  if (n == 0) {
    if (!merges.empty()) fail("dendrogram_order: merges given for no observations");
    return {};
  }
  if (static_cast<int>(merges.size()) != n - 1)
    fail("dendrogram_order: ", merges.size(), " merges for ", n, " observations (expected ", n - 1, ")");
  if (n == 1) return {0};
  std::vector<bool> used(2 * n - 1, false);
  for (int k = 0; k < n - 1; ++k) {
    const Merge& m = merges[k];
    for (int c : {m.a, m.b}) {
      if (c < 0 || c >= n + k)
        fail("dendrogram_order: merge ", k, " refers to cluster ", c, ", which does not exist yet");
      if (used[c]) fail("dendrogram_order: cluster ", c, " is merged twice");
      used[c] = true;
    }
    if (m.a == m.b) fail("dendrogram_order: merge ", k, " joins cluster ", m.a, " with itself");
  }
  std::vector<int> order;
  order.reserve(n);
  std::vector<int> stack{2 * n - 2};
  while (!stack.empty()) {
    const int c = stack.back();
    stack.pop_back();
    if (c < n) {
      order.push_back(c);
      continue;
    }
    const Merge& m = merges[c - n];
    stack.push_back(m.b);  // pushed first, visited after the left subtree
    stack.push_back(m.a);
  }
  return order;
}

// T(p) = T1 (s + (1 - s) / p) = alpha + beta / p with alpha = T1 s >= 0 and beta = T1 (1 - s) >= 0:
// a linear least-squares problem in (alpha, beta), solved exactly; when the unconstrained optimum
// leaves the feasible quadrant, the best of the two boundaries (s = 0 or s = 1) is the optimum.
AmdahlFit fit_amdahl(const std::vector<ScalingPoint>& points) {
  std::set<int> distinct;
  for (const ScalingPoint& p : points) {
    if (p.threads < 1) fail("fit_amdahl: thread count must be at least 1, got ", p.threads);
    if (!(p.step_ms > 0) || !std::isfinite(p.step_ms))
      fail("fit_amdahl: step time at ", p.threads, " threads must be positive, got ", p.step_ms);
    distinct.insert(p.threads);
  }
  if (distinct.size() < 2)
    fail("fit_amdahl: needs at least two distinct thread counts, got ", distinct.size());

  const double n = static_cast<double>(points.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;  // x = 1/p, y = time
  for (const ScalingPoint& p : points) {
    const double x = 1.0 / p.threads, y = p.step_ms;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  auto sse = [&](double alpha, double beta) {
    double s = 0;
    for (const ScalingPoint& p : points) {
      const double r = p.step_ms - (alpha + beta / p.threads);
      s += r * r;
    }
    return s;
  };
  double alpha = 0, beta = 0;
  const double det = n * sxx - sx * sx;  // > 0 with two distinct thread counts
  const double a_free = (sxx * sy - sx * sxy) / det, b_free = (n * sxy - sx * sy) / det;
  if (a_free >= 0 && b_free >= 0) {
    alpha = a_free;
    beta = b_free;
  } else {
    const double beta_only = sxy / sxx;  // s = 0: perfectly parallel
    const double alpha_only = sy / n;    // s = 1: no speed-up at all
    if (sse(0, beta_only) <= sse(alpha_only, 0)) {
      beta = beta_only;
    } else {
      alpha = alpha_only;
    }
  }
  AmdahlFit fit;
  fit.t1_ms = alpha + beta;
  fit.serial_fraction = std::clamp(alpha / fit.t1_ms, 0.0, 1.0);
  // Rounding residue of an exact 0 or 1 (which would read as a 1e15x maximum speed-up) is snapped.
  if (fit.serial_fraction < 1e-12) fit.serial_fraction = 0;
  if (fit.serial_fraction > 1 - 1e-12) fit.serial_fraction = 1;
  fit.rmse_ms = std::sqrt(sse(alpha, beta) / n);
  return fit;
}

}  // namespace plumb::profile
