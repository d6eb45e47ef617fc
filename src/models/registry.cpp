// The model registry: a function-local table filled by the zoo's register_* functions on first use.
#include <algorithm>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>

#include "plumb/error.h"
#include "plumb/models.h"
#include "zoo.h"

namespace plumb::models {

namespace {

struct Entry {
  ModelInfo info;
  ConfigurableBuilder builder;
  WorkloadFactory workload;
};

// std::map keeps names sorted, so listings are stable.
std::map<std::string, Entry>& table_unlocked() {
  static std::map<std::string, Entry> table;
  return table;
}

std::recursive_mutex& table_mutex() {
  static std::recursive_mutex mu;
  return mu;
}

std::string joined(const std::vector<std::string>& names) {
  std::ostringstream os;
  for (size_t i = 0; i < names.size(); ++i) os << (i ? ", " : "") << names[i];
  return os.str();
}

// Locks the table and registers the zoo the first time; the mutex is recursive because the zoo's
// register_* functions call register_model while the first lookup holds it.
std::map<std::string, Entry>& table(std::unique_lock<std::recursive_mutex>& lock) {
  lock = std::unique_lock<std::recursive_mutex>(table_mutex());
  static bool zoo_registered = false;
  if (!zoo_registered) {
    zoo_registered = true;
    register_mlp();
    register_lenet5();
    register_alexnet();
    register_vgg();
    register_residual();
    register_autoenc();
    register_deepq();
    register_memnet();
    register_seq2seq();
    register_speech();
  }
  return table_unlocked();
}

const Entry& find(const std::map<std::string, Entry>& t, const std::string& name) {
  const auto it = t.find(name);
  if (it == t.end()) {
    std::vector<std::string> names;
    for (const auto& [n, e] : t) names.push_back(n);
    fail("unknown model '", name, "'; known models: ", joined(names));
  }
  return it->second;
}

}  // namespace

void register_model(ModelInfo info, ModelBuilder builder, WorkloadFactory workload) {
  if (!builder) fail("register_model: model '", info.name, "' has no builder");
  const std::string name = info.name;
  const int64_t classes = info.num_classes;
  ConfigurableBuilder fixed_head = [name, classes, builder = std::move(builder)](const BuildOptions& o) {
    if (o.num_classes != 0 && o.num_classes != classes)
      fail("model '", name, "' has a fixed head of ", classes, " classes; it cannot be built with ", o.num_classes);
    return builder(o.variant);
  };
  register_model(std::move(info), std::move(fixed_head), std::move(workload));
}

void register_model(ModelInfo info, ConfigurableBuilder builder, WorkloadFactory workload) {
  std::unique_lock<std::recursive_mutex> lock;
  auto& t = table(lock);
  if (info.name.empty()) fail("register_model: a model needs a name");
  if (info.variants.empty()) fail("register_model: model '", info.name, "' lists no variants");
  if (!builder) fail("register_model: model '", info.name, "' has no builder");
  if (t.count(info.name)) fail("register_model: model '", info.name, "' is already registered");
  std::string name = info.name;
  t.emplace(std::move(name), Entry{std::move(info), std::move(builder), std::move(workload)});
}

WorkloadFactory workload_factory(const std::string& name) {
  std::unique_lock<std::recursive_mutex> lock;
  return find(table(lock), name).workload;
}

std::vector<std::string> model_names() {
  std::unique_lock<std::recursive_mutex> lock;
  std::vector<std::string> names;
  for (const auto& [n, e] : table(lock)) names.push_back(n);
  return names;
}

bool has_model(const std::string& name) {
  std::unique_lock<std::recursive_mutex> lock;
  return table(lock).count(name) > 0;
}

const ModelInfo& model_info(const std::string& name) {
  std::unique_lock<std::recursive_mutex> lock;
  // Entries are never removed and std::map nodes are stable, so the reference outlives the lock.
  return find(table(lock), name).info;
}

ConfigurableBuilder imagenet_builder(HeadBuilder fathom, HeadBuilder modern) {
  return [fathom, modern](const BuildOptions& o) {
    return o.variant == "modern" ? modern(o.num_classes ? o.num_classes : 1000)
                                 : fathom(o.num_classes ? o.num_classes : 1001);
  };
}

std::shared_ptr<nn::Module> build_model(const std::string& name, const std::string& variant) {
  return build_model(name, BuildOptions{.variant = variant});
}

std::shared_ptr<nn::Module> build_model(const std::string& name, const BuildOptions& options) {
  if (options.num_classes < 0) fail("model '", name, "': the class count must be positive, got ", options.num_classes);
  ConfigurableBuilder builder;
  BuildOptions o = options;
  {
    std::unique_lock<std::recursive_mutex> lock;
    const Entry& e = find(table(lock), name);
    std::string& v = o.variant;
    if (v.empty()) v = e.info.variants.front();
    if (std::find(e.info.variants.begin(), e.info.variants.end(), v) == e.info.variants.end())
      fail("model '", name, "' has no variant '", v, "'; variants: ", joined(e.info.variants));
    builder = e.builder;
  }
  return builder(o);  // outside the lock: building runs ops, which may take a while
}

}  // namespace plumb::models
