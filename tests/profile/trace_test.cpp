// Chrome trace: validated against the trace-event format (keys and types per phase, non-negative
// durations, proper nesting per thread) and checked for ops inside their module and composite spans.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "plumb/ops.h"
#include "plumb/profile.h"
#include "plumb/workload.h"
#include "profile/profile_test_util.h"

namespace plumb::profile {
namespace {

using json = nlohmann::json;

struct Span {
  std::string name, cat;
  int64_t start = 0, end = 0;  // ns
  const json* ev = nullptr;
};

int64_t to_ns(const json& us) { return std::llround(us.get<double>() * 1000.0); }

// Checks `text` against the trace-event format and returns the complete events by thread.
std::map<int, std::vector<Span>> validate_trace(const std::string& text) {
  std::map<int, std::vector<Span>> by_tid;
  const json doc = json::parse(text);  // throws (fails the test) on invalid JSON
  EXPECT_TRUE(doc.is_object());
  EXPECT_EQ(doc.value("displayTimeUnit", ""), "ns");
  EXPECT_TRUE(doc.contains("traceEvents") && doc["traceEvents"].is_array());
  if (!doc.contains("traceEvents") || !doc["traceEvents"].is_array()) return by_tid;

  std::set<int> named_threads;
  bool process_named = false;
  static json events;  // keeps the Span::ev pointers alive for the caller
  events = doc["traceEvents"];
  for (const json& e : events) {
    EXPECT_TRUE(e.is_object());
    EXPECT_TRUE(e.contains("ph") && e["ph"].is_string()) << e.dump();
    EXPECT_TRUE(e.contains("name") && e["name"].is_string()) << e.dump();
    EXPECT_TRUE(e.contains("pid") && e["pid"].is_number_integer()) << e.dump();
    EXPECT_TRUE(e.contains("tid") && e["tid"].is_number_integer()) << e.dump();
    EXPECT_EQ(e.value("pid", 0), 1);
    const std::string ph = e.value("ph", "");
    if (ph == "M") {
      const std::string n = e.value("name", "");
      EXPECT_TRUE(n == "process_name" || n == "thread_name") << n;
      EXPECT_TRUE(e.contains("args") && e["args"].contains("name") && e["args"]["name"].is_string()) << e.dump();
      if (n == "thread_name") named_threads.insert(e["tid"].get<int>());
      if (n == "process_name") process_named = true;
    } else if (ph == "X") {
      EXPECT_TRUE(e.contains("ts") && e["ts"].is_number()) << e.dump();
      EXPECT_TRUE(e.contains("dur") && e["dur"].is_number()) << e.dump();
      EXPECT_TRUE(e.contains("cat") && e["cat"].is_string()) << e.dump();
      if (e.contains("args")) EXPECT_TRUE(e["args"].is_object());
      if (!e.contains("ts") || !e.contains("dur")) continue;
      EXPECT_GE(e["dur"].get<double>(), 0) << e.dump();
      EXPECT_GE(e["ts"].get<double>(), 0) << e.dump();
      const int64_t start = to_ns(e["ts"]);
      by_tid[e["tid"].get<int>()].push_back({e["name"], e["cat"], start, start + to_ns(e["dur"]), &e});
    } else {
      ADD_FAILURE() << "unexpected phase " << ph;
    }
  }
  EXPECT_TRUE(process_named);
  for (const auto& [tid, spans] : by_tid) EXPECT_TRUE(named_threads.count(tid)) << "thread " << tid << " has no name";

  // Spans on one thread either nest or are disjoint.
  for (auto& [tid, spans] : by_tid) {
    std::vector<Span> sorted = spans;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Span& a, const Span& b) {
      return a.start != b.start ? a.start < b.start : a.end > b.end;
    });
    std::vector<const Span*> open;
    for (const Span& s : sorted) {
      while (!open.empty() && open.back()->end <= s.start) open.pop_back();
      if (!open.empty())
        EXPECT_LE(s.end, open.back()->end) << s.name << " [" << s.start << ", " << s.end << ") overlaps "
                                           << open.back()->name << " [" << open.back()->start << ", "
                                           << open.back()->end << ") on thread " << tid;
      open.push_back(&s);
    }
  }
  return by_tid;
}

bool inside(const Span& op, const std::vector<Span>& spans, const std::string& cat, const std::string& name) {
  return std::any_of(spans.begin(), spans.end(), [&](const Span& s) {
    return s.cat == cat && s.name == name && s.start <= op.start && op.end <= s.end;
  });
}

// Every op lies in its step, its (forward) module span and its innermost composite span.
void check_ops_nest(const Profile& p, const std::map<int, std::vector<Span>>& by_tid) {
  size_t ops = 0, spans = 0;
  for (const auto& [tid, list] : by_tid) {
    spans += list.size();
    for (const Span& s : list) {
      const json& a = (*s.ev)["args"];
      if (!a.contains("phase")) continue;
      ++ops;
      for (const char* key : {"class", "phase", "module", "inputs", "outputs", "flops", "bytes_read", "bytes_written"})
        EXPECT_TRUE(a.contains(key)) << s.name << " lacks " << key;
      EXPECT_EQ(a["class"], s.cat);
      const int step = a["step"];
      if (step >= 0) {
        EXPECT_TRUE(inside(s, list, "step", "step " + std::to_string(step))) << s.name;
      }
      const std::string module = a["module"];
      if (a["phase"] == "forward" && !module.empty()) {
        EXPECT_TRUE(inside(s, list, "module", module)) << s.name << " outside module " << module;
      }
      const std::string region = a["region"];
      if (!region.empty()) {
        const std::string innermost = region.substr(region.rfind('/') + 1);
        EXPECT_TRUE(inside(s, list, "composite", innermost)) << s.name << " outside composite " << innermost;
      }
    }
  }
  EXPECT_EQ(ops, p.ops.size());
  EXPECT_EQ(spans, p.ops.size() + p.regions.size() + p.steps.size());
}

TEST(ChromeTrace, SampleProfileValidates) {
  const Profile p = testing::sample_profile();
  const std::string trace = to_chrome_trace(p);
  const auto by_tid = validate_trace(trace);
  check_ops_nest(p, by_tid);
  // Microsecond floats: 1110 ns is 1.11 us.
  EXPECT_NE(trace.find("\"ts\":1.11,"), std::string::npos);
}

TEST(ChromeTrace, RecordedTrainingProfileValidates) {
  auto w = models::make_workload("lenet5", {.mode = models::Mode::train, .batch = 4});
  const Profile p = profile_workload(*w, {.steps = 3, .drop_first = 1, .drop_last = 1});
  const auto by_tid = validate_trace(to_chrome_trace(p));
  check_ops_nest(p, by_tid);
  std::set<std::string> cats;
  for (const auto& [tid, list] : by_tid)
    for (const Span& s : list) cats.insert(s.cat);
  EXPECT_TRUE(cats.count("step"));
  EXPECT_TRUE(cats.count("module"));
  EXPECT_TRUE(cats.count("convolution"));
}

// pad's kernel wants contiguous inputs, so the dispatcher copies a permuted one inside pad's call:
// the copy's span lies inside pad's, whose span is the whole call (its self time plus the copy's).
TEST(ChromeTrace, ANestedCopyDrawsInsideItsCaller) {
  const Tensor a = permute(Tensor::ones({5, 4}), {1, 0});
  Profiler prof;
  prof.attach();
  prof.begin_step();
  pad(a, {1, 1, 1, 1});
  prof.end_step();
  prof.detach();
  const Profile p = prof.finish({.workload = "nested"});
  ASSERT_EQ(p.ops.size(), 2u);
  ASSERT_EQ(p.ops[0].op, "copy");
  const auto by_tid = validate_trace(to_chrome_trace(p));
  check_ops_nest(p, by_tid);
  const Span *copy = nullptr, *padded = nullptr;
  for (const Span& s : by_tid.at(0)) {
    if (s.name == "copy") copy = &s;
    if (s.name == "pad") padded = &s;
  }
  ASSERT_TRUE(copy && padded);
  EXPECT_LT(padded->start, copy->start);
  EXPECT_LE(copy->end, padded->end);
  EXPECT_EQ(padded->end - padded->start, p.ops[1].duration_ns + p.ops[0].duration_ns);
  EXPECT_EQ((*padded->ev)["args"]["self_ns"], p.ops[1].duration_ns);
  EXPECT_EQ((*padded->ev)["args"]["kernel_ns"], p.ops[1].kernel_ns);
}

TEST(ChromeTrace, ValidatorCatchesPartialOverlap) {
  Profile p = testing::sample_profile();
  p.regions[0].duration_ns = 2000;  // module "fc" of step 0 now runs past the end of step 0
  EXPECT_NONFATAL_FAILURE(validate_trace(to_chrome_trace(p)), "overlaps");
}

}  // namespace
}  // namespace plumb::profile
