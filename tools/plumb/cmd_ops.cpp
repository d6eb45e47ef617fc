// plumb ops: the registry as a support matrix (op, class, composite, gradient, kernels per backend).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "plumb/op.h"

namespace plumb::cli {

namespace {

std::string device_type_name(DeviceType t) {
  switch (t) {
    case DeviceType::cpu: return "cpu";
    case DeviceType::meta: return "meta";
    case DeviceType::cuda: return "cuda";
  }
  return "?";
}

// A kernel column: one (device, backend) pair; cpu/reference sorts first.
struct Column {
  DeviceType device;
  std::string backend;
  std::string label() const { return device_type_name(device) + "/" + backend; }
  auto key() const { return std::make_tuple(static_cast<int>(device), backend != "reference", backend); }
  bool operator<(const Column& o) const { return key() < o.key(); }
  bool operator==(const Column& o) const { return device == o.device && backend == o.backend; }
};

std::vector<Column> kernel_columns(const std::vector<const OpDef*>& ops) {
  std::vector<Column> cols{{DeviceType::cpu, "reference"}};
  for (const OpDef* op : ops)
    for (const Kernel* k : kernels_for(*op)) {
      Column c{k->device, k->backend};
      if (std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
    }
  std::sort(cols.begin(), cols.end());
  return cols;
}

// The dtypes an op's kernels accept on one column, in DType order.
std::vector<std::string> column_dtypes(const OpDef& op, const Column& col) {
  bool has[kNumDTypes] = {};
  for (const Kernel* k : kernels_for(op))
    if (k->device == col.device && k->backend == col.backend)
      for (DType t : k->dtypes) has[static_cast<int>(t)] = true;
  std::vector<std::string> out;
  for (int i = 0; i < kNumDTypes; ++i)
    if (has[i]) out.emplace_back(dtype_name(static_cast<DType>(i)));
  return out;
}

std::string join(const std::vector<std::string>& xs, const char* sep) {
  std::string out;
  for (size_t i = 0; i < xs.size(); ++i) out += (i ? sep : "") + xs[i];
  return out;
}

// One cell: "view" for view ops; a composite's fused kernel dtypes, else "decomposed"; a
// primitive's kernel dtypes, else "-".
std::string cell(const OpDef& op, const Column& col) {
  if (op.is_view()) return "view";
  const std::vector<std::string> dtypes = column_dtypes(op, col);
  if (op.is_composite()) return dtypes.empty() ? "decomposed" : "fused " + join(dtypes, ",");
  return dtypes.empty() ? "-" : join(dtypes, ",");
}

int print_json(const std::vector<const OpDef*>& ops, const std::vector<Column>& cols) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const OpDef* op : ops) {
    nlohmann::ordered_json kernels = nlohmann::ordered_json::array();
    for (const Kernel* k : kernels_for(*op)) {
      nlohmann::ordered_json dtypes = nlohmann::ordered_json::array();
      for (DType t : k->dtypes) dtypes.push_back(std::string(dtype_name(t)));
      kernels.push_back({{"device", device_type_name(k->device)},
                         {"backend", k->backend},
                         {"dtypes", dtypes},
                         {"priority", k->priority},
                         {"strided_inputs", k->strided_inputs}});
    }
    nlohmann::ordered_json support = nlohmann::ordered_json::object();
    for (const Column& c : cols) support[c.label()] = cell(*op, c);
    out.push_back({{"op", op->name},
                   {"class", std::string(op_class_name(op->op_class))},
                   {"composite", op->is_composite()},
                   {"view", op->is_view()},
                   {"differentiable", op->differentiable},
                   {"min_inputs", op->min_inputs},
                   {"max_inputs", op->max_inputs},
                   {"doc", op->doc},
                   {"support", support},
                   {"kernels", kernels}});
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

int print_table(const std::vector<const OpDef*>& ops, const std::vector<Column>& cols) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"op", "class", "composite", "differentiable"};
  for (const Column& c : cols) header.push_back(c.label());
  rows.push_back(header);
  int composites = 0, views = 0;
  for (const OpDef* op : ops) {
    composites += op->is_composite();
    views += op->is_view();
    std::vector<std::string> row = {op->name, std::string(op_class_name(op->op_class)),
                                    op->is_composite() ? "yes" : "no", op->differentiable ? "yes" : "no"};
    for (const Column& c : cols) row.push_back(cell(*op, c));
    rows.push_back(std::move(row));
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
  std::cout << "\n"
            << ops.size() << " ops: " << ops.size() - composites - views << " primitives with kernels, " << views
            << " views, " << composites << " composites.\n"
            << "Cells list the dtypes a backend's kernels accept. Every op also runs on the meta device\n"
            << "(shape inference and cost only, no data).\n";
  return 0;
}

}  // namespace

Run setup_ops(CLI::App& sub) {
  auto json = std::make_shared<bool>(false);
  sub.add_flag("--json", *json, "print a JSON array instead of the table");
  return [json] {
    const std::vector<const OpDef*> ops = all_ops();
    const std::vector<Column> cols = kernel_columns(ops);
    return *json ? print_json(ops, cols) : print_table(ops, cols);
  };
}

}  // namespace plumb::cli
