// The device table: built-in entries, user files merged over them, and clear errors on bad files.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <set>
#include <string>

#include "common/temp_dir.h"
#include "plumb/devices.h"
#include "plumb/error.h"

namespace plumb::hw {
namespace {

using DeviceTableTest = plumb::testing::TempDirTest;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(DeviceTable, BuiltInEntriesAreCompleteAndUnique) {
  const auto table = device_table();
  ASSERT_GE(table.size(), 8u);
  std::set<std::string> ids;
  for (const DeviceSpec& d : table) {
    EXPECT_TRUE(ids.insert(d.id).second) << d.id;
    EXPECT_FALSE(d.name.empty()) << d.id;
    EXPECT_TRUE(d.kind == "gpu" || d.kind == "tpu" || d.kind == "cpu") << d.id;
    EXPECT_GT(d.peak_fp32_gflops + d.peak_fp16_gflops, 0) << d.id;
    EXPECT_GT(d.bandwidth_gbs, 0) << d.id;
    EXPECT_FALSE(d.source.empty()) << d.id;
    // Dense tensor-core peaks exceed the fp32 vector peak on every GPU listed.
    if (d.kind == "gpu") EXPECT_GT(d.peak_fp16_gflops, d.peak_fp32_gflops) << d.id;
  }
  for (const char* id : {"h100-sxm", "h100-pcie", "h200-sxm", "a100-sxm", "v100-sxm2", "t4", "tpu-v2-8", "tpu-v3-8"})
    EXPECT_TRUE(ids.count(id)) << id;

  const DeviceSpec h100 = find_device(table, "h100-sxm");
  EXPECT_EQ(h100.peak_fp32_gflops, 67000);
  EXPECT_EQ(h100.peak_fp16_gflops, 989500);  // dense, not the 1,979 TFLOPS sparsity figure
  EXPECT_EQ(h100.bandwidth_gbs, 3350);
  const DeviceSpec tpu = find_device(table, "tpu-v2-8");  // ParaDnn's roofline figures
  EXPECT_EQ(tpu.peak_fp16_gflops, 180000);
  EXPECT_EQ(tpu.bandwidth_gbs, 2400);
}

TEST(DeviceTable, RoofsUseFp32AndFallBackToTheMatrixPeak) {
  const auto table = device_table();
  const profile::Roofs a100 = roofs_of(find_device(table, "a100-sxm"));
  EXPECT_EQ(a100.device, "NVIDIA A100 SXM4 80GB");
  EXPECT_EQ(a100.peak_gflops, 19500);
  EXPECT_EQ(a100.bandwidth_gbs, 2039);
  const profile::Roofs tpu = roofs_of(find_device(table, "tpu-v2-8"));
  EXPECT_EQ(tpu.peak_gflops, 180000);
  EXPECT_NE(tpu.device.find("bf16"), std::string::npos) << tpu.device;
}

TEST(DeviceTable, UnknownIdListsTheKnownOnes) {
  const std::string msg = error_of([] { find_device(device_table(), "h900"); });
  EXPECT_NE(msg.find("h900"), std::string::npos) << msg;
  EXPECT_NE(msg.find("h100-sxm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tpu-v3-8"), std::string::npos) << msg;
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

const char* kEntry = R"({"id": "%ID%", "name": "N", "kind": "gpu", "peak_fp32_gflops": 10,
  "peak_fp16_gflops": 20, "bandwidth_gbs": 30, "source": "test"})";

std::string entry(const std::string& id) {
  std::string s = kEntry;
  s.replace(s.find("%ID%"), 4, id);
  return s;
}

TEST_F(DeviceTableTest, UserFileOverridesAndAdds) {
  const std::string file = path("mine.json");
  write(file, std::string(R"({"version": 1, "devices": [)") + entry("t4") + "," + entry("my-npu") + "]}");
  const auto builtin = device_table();
  const auto table = device_table(file);
  ASSERT_EQ(table.size(), builtin.size() + 1);
  for (size_t i = 0; i < builtin.size(); ++i) EXPECT_EQ(table[i].id, builtin[i].id);  // order kept
  const DeviceSpec t4 = find_device(table, "t4");
  EXPECT_EQ(t4.peak_fp32_gflops, 10);
  EXPECT_EQ(t4.bandwidth_gbs, 30);
  EXPECT_EQ(table.back().id, "my-npu");
  EXPECT_EQ(find_device(table, "h100-sxm").peak_fp32_gflops, 67000);  // untouched
}

TEST_F(DeviceTableTest, MalformedUserFilesNameTheFileAndTheField) {
  struct Case {
    std::string text, expect;
  };
  const Case cases[] = {
      {"{\"version\": 1, \"devices\": [", "not valid JSON"},
      {"[1, 2]", "'version'"},
      {R"({"version": 2, "devices": []})", "'version' must be 1"},
      {R"({"version": 1})", "'devices' is missing"},
      {R"({"version": 1, "devices": {}})", "'devices' must be an array"},
      {R"({"version": 1, "devices": [{"id": "x", "name": "N", "kind": "gpu", "peak_fp32_gflops": 1,
         "peak_fp16_gflops": 1, "source": "s"}]})",
       "'bandwidth_gbs' is missing"},
      {R"({"version": 1, "devices": [{"id": "x", "name": "N", "kind": "gpu", "peak_fp32_gflops": -5,
         "peak_fp16_gflops": 1, "bandwidth_gbs": 1, "source": "s"}]})",
       "'peak_fp32_gflops' must be a non-negative number"},
      {R"({"version": 1, "devices": [{"id": "x", "name": "N", "kind": "gpu", "peak_fp32_gflops": "fast",
         "peak_fp16_gflops": 1, "bandwidth_gbs": 1, "source": "s"}]})",
       "'peak_fp32_gflops' must be a number"},
      {R"({"version": 1, "devices": [{"id": "x", "name": "N", "kind": "fpga", "peak_fp32_gflops": 1,
         "peak_fp16_gflops": 1, "bandwidth_gbs": 1, "source": "s"}]})",
       "'kind'"},
      {std::string(R"({"version": 1, "devices": [)") + entry("dup") + "," + entry("dup") + "]}", "repeats"},
  };
  for (const Case& c : cases) {
    const std::string file = path("bad.json");
    write(file, c.text);
    const std::string msg = error_of([&] { device_table(file); });
    EXPECT_NE(msg.find(file), std::string::npos) << c.text << "\n-> " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.text << "\n-> " << msg;
  }
  const std::string missing = path("none.json");
  const std::string msg = error_of([&] { device_table(missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
}

}  // namespace
}  // namespace plumb::hw
