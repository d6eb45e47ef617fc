// Summaries over measured steps, k_cover, and the CSV table.
#include <gtest/gtest.h>

#include <sstream>

#include "profile/profile_test_util.h"

namespace plumb::profile {
namespace {

using testing::sample_profile;

std::vector<SummaryRow> rows(std::initializer_list<double> times) {
  std::vector<SummaryRow> out;
  for (double t : times) out.push_back({.key = "k" + std::to_string(out.size()), .time_ns = t});
  return out;
}

TEST(KCover, CountsRowsUntilTheFractionIsReached) {
  EXPECT_EQ(k_cover({}, 0.9), 0);
  EXPECT_EQ(k_cover(rows({0, 0}), 0.9), 0);
  EXPECT_EQ(k_cover(rows({50, 30, 20}), 0.5), 1);  // reaching exactly the fraction counts
  EXPECT_EQ(k_cover(rows({50, 30, 20}), 0.8), 2);
  EXPECT_EQ(k_cover(rows({50, 30, 20}), 0.81), 3);
  EXPECT_EQ(k_cover(rows({50, 30, 20}), 1.0), 3);
  EXPECT_EQ(k_cover(rows({90, 5, 5}), 0.9), 1);
  EXPECT_EQ(k_cover(rows({10, 10, 10, 10, 10, 10, 10, 10, 10, 10}), 0.9), 9);
}

TEST(Summary, SumsMeasuredStepsOnly) {
  const Summary s = summarize(sample_profile());
  EXPECT_EQ(s.measured_steps, 1);
  EXPECT_DOUBLE_EQ(s.step_wall_ns, 1000);
  EXPECT_DOUBLE_EQ(s.step_cpu_ns, 1900);
  EXPECT_DOUBLE_EQ(s.op_ns, 800);
  EXPECT_DOUBLE_EQ(s.kernel_ns, 600);
  EXPECT_DOUBLE_EQ(s.data_ns, 100);
  EXPECT_DOUBLE_EQ(s.profiler_ns, 50);
  EXPECT_DOUBLE_EQ(s.overhead_ns, 50);  // 1000 wall - 50 profiler - 800 op - 100 data
  // Shares of the step as it would run unprofiled: 950 ns.
  EXPECT_DOUBLE_EQ(s.coverage, 800.0 / 950.0);
  EXPECT_DOUBLE_EQ(s.kernel_coverage, 600.0 / 950.0);
  EXPECT_DOUBLE_EQ(s.flops_per_step, 48 + 8 + 96 + 1e-3);
  EXPECT_DOUBLE_EQ(s.bytes_per_step, 4 * 112.5);

  ASSERT_EQ(s.by_op.size(), 3u);
  EXPECT_EQ(s.by_op[0].key, "matmul");
  EXPECT_EQ(s.by_op[0].op_class, "matrix");
  EXPECT_EQ(s.by_op[0].calls, 2);
  EXPECT_DOUBLE_EQ(s.by_op[0].time_ns, 600);
  EXPECT_DOUBLE_EQ(s.by_op[0].kernel_ns, 480);
  EXPECT_DOUBLE_EQ(s.by_op[0].share, 0.8);
  EXPECT_DOUBLE_EQ(s.by_op[0].flops, 144);
  EXPECT_DOUBLE_EQ(s.by_op[0].bytes, 225);
  EXPECT_DOUBLE_EQ(s.by_op[0].gflops, 0.3);  // rates over kernel time
  EXPECT_DOUBLE_EQ(s.by_op[0].gbs, 0.46875);
  EXPECT_DOUBLE_EQ(s.by_op[0].intensity, 0.64);
  EXPECT_EQ(s.by_op[0].peak_fraction, 0);
  EXPECT_EQ(s.by_op[1].key, "exp");
  EXPECT_EQ(s.by_op[2].key, "sgd");
  EXPECT_EQ(s.by_op[2].op_class, "optimizer");
  EXPECT_EQ(s.k90, 2);

  ASSERT_EQ(s.by_class.size(), 3u);
  EXPECT_EQ(s.by_class[0].key, "matrix");
  EXPECT_EQ(s.by_class[0].op_class, "");
  ASSERT_EQ(s.by_phase.size(), 3u);
  EXPECT_EQ(s.by_phase[0].key, "forward");
  EXPECT_DOUBLE_EQ(s.by_phase[0].time_ns, 400);
  EXPECT_DOUBLE_EQ(s.by_phase[0].kernel_ns, 320);
  EXPECT_EQ(s.by_phase[1].key, "backward");
  EXPECT_EQ(s.by_phase[2].key, "optimizer");
  ASSERT_EQ(s.by_module.size(), 3u);
  EXPECT_EQ(s.by_module[0].key, "fc");  // forward and backward matmuls
  EXPECT_DOUBLE_EQ(s.by_module[0].time_ns, 600);
  EXPECT_EQ(s.by_module[1].key, "act");
  EXPECT_EQ(s.by_module[2].key, "(none)");
}

TEST(Summary, PeakFractionComesFromTheRoofs) {
  const Summary s = summarize(sample_profile(), Roofs{.device = "test", .peak_gflops = 0.48, .bandwidth_gbs = 1});
  EXPECT_DOUBLE_EQ(s.by_op[0].peak_fraction, 0.625);  // 0.3 of 0.48 GFLOP/s
}

TEST(Summary, EqualTimesSortByKey) {
  Profile p = sample_profile();
  for (OpRecord& o : p.ops) o.duration_ns = 100;
  const Summary s = summarize(p);
  ASSERT_EQ(s.by_op.size(), 3u);
  EXPECT_EQ(s.by_op[0].key, "matmul");  // 2 calls
  EXPECT_EQ(s.by_op[1].key, "exp");
  EXPECT_EQ(s.by_op[2].key, "sgd");
}

TEST(Summary, NoMeasuredStepsGivesZeros) {
  Profile p = sample_profile();
  for (StepRecord& st : p.steps) st.measured = false;
  const Summary s = summarize(p);
  EXPECT_EQ(s.measured_steps, 0);
  EXPECT_EQ(s.coverage, 0);
  EXPECT_EQ(s.kernel_coverage, 0);
  EXPECT_TRUE(s.by_op.empty());
  EXPECT_EQ(s.k90, 0);
}

TEST(Csv, OneRowPerOpTypeAfterTheHeader) {
  const std::string csv = to_csv(sample_profile());
  std::istringstream in(csv);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0],
            "op,class,calls,time_ns,time_per_step_ms,kernel_ms,share,flops,bytes,gflops,gbs,intensity,peak_fraction");
  EXPECT_EQ(lines[1], "matmul,matrix,2,600,0.0006,0.00048,0.8,144,225,0.3,0.46875,0.64,0");
  EXPECT_EQ(lines[2].substr(0, 16), "exp,elementwise,");
  EXPECT_EQ(lines[3].substr(0, 14), "sgd,optimizer,");
}

TEST(Csv, QuotesFieldsWithCommasAndQuotes) {
  Profile p = sample_profile();
  for (OpRecord& o : p.ops)
    if (o.op == "exp") {
      o.op = "fused,exp";
      o.op_class = "odd \"class\"";
    }
  const std::string csv = to_csv(p);
  EXPECT_NE(csv.find("\n\"fused,exp\",\"odd \"\"class\"\"\",1,"), std::string::npos) << csv;
}

}  // namespace
}  // namespace plumb::profile
