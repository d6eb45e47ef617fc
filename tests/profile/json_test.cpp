// Profile JSON: stable, byte-identical round trip; atomic writes; one clear error for bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/temp_dir.h"
#include "plumb/error.h"
#include "plumb/nn/layers.h"
#include "plumb/ops.h"
#include "profile/profile_test_util.h"

namespace plumb::profile {
namespace {

using testing::sample_profile;

std::string error_of(const std::string& text, const std::string& source = "profile.json") {
  try {
    from_json(text, source);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// The sample profile's JSON with one change applied.
template <class F>
std::string edited(F&& edit) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(to_json(sample_profile()));
  edit(j);
  return j.dump();
}

TEST(ProfileJson, VersionComesFirst) {
  const std::string s = to_json(sample_profile());
  EXPECT_EQ(s.rfind("{\n  \"version\": 1,\n", 0), 0u) << s.substr(0, 40);
  const auto j = nlohmann::ordered_json::parse(s);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"version", "run", "steps", "ops", "regions", "scaling"}));
}

TEST(ProfileJson, RoundTripIsByteIdentical) {
  const Profile p = sample_profile();
  const std::string once = to_json(p);
  const Profile back = from_json(once);
  EXPECT_EQ(back, p);
  EXPECT_EQ(back.ops[0].kernel_ns, 240);
  EXPECT_EQ(back.steps[1].kernel_ns, 600);
  EXPECT_EQ(to_json(back), once);
}

TEST(ProfileJson, RoundTripOfARecordedProfileIsByteIdentical) {
  nn::Sequential net{std::make_shared<nn::Linear>(3, 5), std::make_shared<nn::ReLU>()};
  Profiler prof;
  prof.attach();
  for (int i = 0; i < 2; ++i) {
    prof.begin_step(i > 0);
    softmax(net(Tensor::ones({2, 3})));
    prof.end_step();
  }
  prof.detach();
  Profile p = prof.finish({.workload = "hand", .mode = "infer", .batch = 2, .steps = 2, .drop_first = 1});
  p.scaling = {{1, 0.1}, {2, 1.0 / 3}};
  ASSERT_FALSE(p.ops.empty());
  EXPECT_TRUE(std::any_of(p.ops.begin(), p.ops.end(), [](const OpRecord& o) { return o.kernel_ns > 0; }));
  const std::string once = to_json(p);
  const Profile back = from_json(once);
  EXPECT_EQ(back, p);
  EXPECT_EQ(to_json(back), once);
}

TEST(ProfileJson, EmptyProfileRoundTrips) {
  const Profile p;
  EXPECT_EQ(to_json(from_json(to_json(p))), to_json(p));
}

TEST(ProfileJson, RejectsGarbledJson) {
  for (const char* bad : {"", "{ \"version\": 1,", "garbage", "{\"version\": 1} trailing"}) {
    const std::string e = error_of(bad);
    EXPECT_EQ(e.rfind("profile.json: not valid JSON: ", 0), 0u) << e;
  }
  EXPECT_EQ(error_of("[1, 2]"), "profile.json: not a plumb profile (expected a JSON object, got array)");
}

TEST(ProfileJson, RejectsOtherVersions) {
  EXPECT_EQ(error_of(edited([](auto& j) { j["version"] = 2; })),
            "profile.json: schema version 2, this plumb reads version 1");
  EXPECT_EQ(error_of(edited([](auto& j) { j["version"] = 0; }), "old.json"),
            "old.json: schema version 0, this plumb reads version 1");
  EXPECT_EQ(error_of(edited([](auto& j) { j["version"] = "1"; })),
            "profile.json: schema version must be an integer, got \"1\"");
  EXPECT_EQ(error_of(edited([](auto& j) { j.erase("version"); })),
            "profile.json: not a plumb profile (no \"version\" field)");
}

TEST(ProfileJson, RejectsMissingFields) {
  EXPECT_EQ(error_of(edited([](auto& j) { j.erase("run"); })), "profile.json: run: missing");
  EXPECT_EQ(error_of(edited([](auto& j) { j.erase("ops"); })), "profile.json: ops: missing");
  EXPECT_EQ(error_of(edited([](auto& j) { j["ops"][3].erase("duration_ns"); })),
            "profile.json: ops[3].duration_ns: missing");
  EXPECT_EQ(error_of(edited([](auto& j) { j["ops"][2].erase("kernel_ns"); })),
            "profile.json: ops[2].kernel_ns: missing");
  EXPECT_EQ(error_of(edited([](auto& j) { j["steps"][1].erase("kernel_ns"); })),
            "profile.json: steps[1].kernel_ns: missing");
  EXPECT_EQ(error_of(edited([](auto& j) { j["run"].erase("host"); })), "profile.json: run.host: missing");
  EXPECT_EQ(error_of(edited([](auto& j) { j["scaling"][1].erase("step_ms"); })),
            "profile.json: scaling[1].step_ms: missing");
}

TEST(ProfileJson, RejectsMistypedFields) {
  EXPECT_EQ(error_of(edited([](auto& j) { j["ops"][0]["flops"] = "many"; })),
            "profile.json: ops[0].flops: expected a number, got string");
  EXPECT_EQ(error_of(edited([](auto& j) { j["steps"][1]["wall_ns"] = 1.5; })),
            "profile.json: steps[1].wall_ns: expected an integer, got a fraction");
  EXPECT_EQ(error_of(edited([](auto& j) { j["steps"][0]["measured"] = 1; })),
            "profile.json: steps[0].measured: expected true or false, got number");
  EXPECT_EQ(error_of(edited([](auto& j) { j["ops"] = nlohmann::ordered_json::object(); })),
            "profile.json: ops: expected an array, got object");
  EXPECT_EQ(error_of(edited([](auto& j) { j["ops"][2]["inputs"][0] = "4x3"; })),
            "profile.json: ops[2].inputs[0]: expected a shape (array of integers), got string");
  EXPECT_EQ(error_of(edited([](auto& j) { j["regions"][0] = 5; })),
            "profile.json: regions[0]: expected an object, got number");
}

TEST(ProfileJson, RejectsInconsistentValues) {
  EXPECT_EQ(error_of(edited([](auto& j) { j["ops"][0]["phase"] = "sideways"; })),
            "profile.json: ops[0].phase: 'sideways' is not one of forward, backward, optimizer");
  EXPECT_EQ(error_of(edited([](auto& j) { j["ops"][0]["step"] = 2; })),
            "profile.json: ops[0].step: refers to step 2 of 2");
  EXPECT_EQ(error_of(edited([](auto& j) { j["ops"][0]["duration_ns"] = -5; })),
            "profile.json: ops[0].duration_ns: must be at least 0, got -5");
  EXPECT_EQ(error_of(edited([](auto& j) { j["ops"][1]["kernel_ns"] = -1; })),
            "profile.json: ops[1].kernel_ns: must be at least 0, got -1");
  EXPECT_EQ(error_of(edited([](auto& j) { j["steps"][1]["index"] = 7; })),
            "profile.json: steps[1].index: expected 1, got 7");
  EXPECT_EQ(error_of(edited([](auto& j) { j["regions"][0]["kind"] = "loop"; })),
            "profile.json: regions[0].kind: 'loop' is not one of composite, module, data, region");
}

class ProfileFiles : public plumb::testing::TempDirTest {};

TEST_F(ProfileFiles, WriteThenReadRoundTrips) {
  const Profile p = sample_profile();
  const std::string path = this->path("p.json");
  write_profile(p, path);
  EXPECT_EQ(read_profile(path), p);
  // Overwriting leaves exactly one file: the temporary was renamed into place.
  write_profile(p, path);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(e.path().filename(), "p.json");
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(ProfileFiles, ReadErrorsNameThePath) {
  const std::string missing = path("missing.json");
  try {
    read_profile(missing);
    ADD_FAILURE() << "read a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(missing + ": cannot read", 0), 0u) << e.what();
  }
  const std::string garbled = path("garbled.json");
  write_text_file(garbled, "{\"version\": 1, \"run\": ");
  try {
    read_profile(garbled);
    ADD_FAILURE() << "read a garbled file";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(garbled + ": not valid JSON", 0), 0u) << e.what();
  }
  try {
    read_profile(dir_.string());
    ADD_FAILURE() << "read a directory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
}

TEST_F(ProfileFiles, WriteErrorsNameThePath) {
  const std::string bad = path("no/such/dir/p.json");
  try {
    write_text_file(bad, "x");
    ADD_FAILURE() << "wrote into a missing directory";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(bad + ": cannot write: ", 0), 0u) << e.what();
  }
}

TEST_F(ProfileFiles, WriteTextFileWritesExactBytes) {
  const std::string f = path("t.txt");
  const std::string text("a\0b\nc", 5);
  write_text_file(f, text);
  std::ifstream in(f, std::ios::binary);
  const std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(back, text);
}

}  // namespace
}  // namespace plumb::profile
