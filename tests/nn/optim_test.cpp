// Optimizers: convergence on a quadratic, 3-step trajectories equal to PyTorch's, state round trips,
// gradient clipping, LR schedules, and that updates are dispatched as class/phase `optimizer` ops.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>

#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/nn/optim.h"
#include "plumb/ops.h"

namespace plumb::nn {
namespace {

Tensor vec(std::vector<double> v) {
  const auto n = static_cast<int64_t>(v.size());
  return Tensor::from_vector(v, {n});
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// loss = sum((w - t)^2), gradients into w.grad().
void quadratic_grad(const Tensor& w, const Tensor& t) {
  const Tensor d = sub(w, t);
  backward(sum(mul(d, d)));
}

const std::vector<double> kStart = {0.5, -1.0, 2.0};
const std::vector<double> kTarget = {1.0, 2.0, -1.0};

// Runs 3 steps from kStart towards kTarget and returns w after each.
std::vector<std::vector<double>> trajectory(const std::function<std::unique_ptr<Optimizer>(NamedTensors)>& make) {
  Tensor w = vec(kStart);
  w.set_requires_grad(true);
  const Tensor t = vec(kTarget);
  auto opt = make({{"w", w}});
  std::vector<std::vector<double>> out;
  for (int s = 0; s < 3; ++s) {
    opt->zero_grad();
    quadratic_grad(w, t);
    opt->step();
    out.push_back(w.to_vector<double>());
  }
  EXPECT_EQ(opt->steps(), 3);
  return out;
}

void expect_trajectory(const std::vector<std::vector<double>>& got, const std::vector<std::vector<double>>& want,
                       const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t s = 0; s < want.size(); ++s)
    for (size_t i = 0; i < want[s].size(); ++i)
      EXPECT_NEAR(got[s][i], want[s][i], 1e-13 * std::max(1.0, std::abs(want[s][i])))
          << what << " step " << s + 1 << " element " << i;
}

// Reference numbers: PyTorch 1.13 (Debian python3-torch), float64 tensors, w = [0.5, -1, 2] minimizing
// ((w - [1, 2, -1])**2).sum(); w after each of 3 calls to opt.step() with the torch.optim call named.
TEST(Optim, TrajectoriesMatchPyTorch) {
  // torch.optim.SGD(p, lr=0.1)
  expect_trajectory(trajectory([](NamedTensors p) { return make_sgd(p, {.lr = 0.1}); }),
                    {{0.59999999999999998, -0.39999999999999997, 1.3999999999999999},
                     {0.67999999999999994, 0.080000000000000043, 0.91999999999999993},
                     {0.74399999999999999, 0.46400000000000002, 0.53599999999999992}},
                    "sgd");
  // torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01)
  expect_trajectory(
      trajectory([](NamedTensors p) { return make_sgd(p, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01}); }),
      {{0.59950000000000003, -0.39899999999999997, 1.3979999999999999},
       {0.76855050000000003, 0.62209899999999996, 0.37520199999999998},
       {0.96621729950000002, 1.816046201, -0.82073180199999995}},
      "sgd momentum weight decay");
  // torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)
  expect_trajectory(
      trajectory([](NamedTensors p) { return make_sgd(p, {.lr = 0.05, .momentum = 0.9, .nesterov = true}); }),
      {{0.59499999999999997, -0.42999999999999994, 1.4299999999999999},
       {0.71245000000000003, 0.27470000000000006, 0.72529999999999994},
       {0.83633950000000001, 1.0180370000000001, -0.018037000000000098}},
      "sgd nesterov");
  // torch.optim.Adam(p, lr=0.1, weight_decay=0.01)
  expect_trajectory(trajectory([](NamedTensors p) { return make_adam(p, {.lr = 0.1, .weight_decay = 0.01}); }),
                    {{0.59999999899497491, -0.90000000016638937, 1.900000000166113},
                     {0.69879259623308743, -0.80010310367710902, 1.8001029051694311},
                     {0.7950400516249001, -0.70038301490769073, 1.7003822677459035}},
                    "adam");
  // torch.optim.AdamW(p, lr=0.1, weight_decay=0.1)
  expect_trajectory(trajectory([](NamedTensors p) {
                      return make_adam(p, {.lr = 0.1, .weight_decay = 0.1, .decoupled_weight_decay = true});
                    }),
                    {{0.594999999, -0.89000000016666669, 1.8800000001666666},
                     {0.68795922025075384, -0.78121477817711327, 1.7613271883119548},
                     {0.7777561630547124, -0.67371302279594847, 1.6440586051965227}},
                    "adamw");
  // torch.optim.RMSprop(p, lr=0.01)
  expect_trajectory(trajectory([](NamedTensors p) { return make_rmsprop(p, {.lr = 0.01}); }),
                    {{0.59999999000000093, -0.90000000166666672, 1.9000000016666667},
                     {0.66266082204250754, -0.83031744944007657, 1.8303174494400767},
                     {0.7095667736789566, -0.77388856939166906, 1.7738885693916691}},
                    "rmsprop");
  // torch.optim.RMSprop(p, lr=0.01, momentum=0.9, weight_decay=0.01)
  expect_trajectory(
      trajectory([](NamedTensors p) { return make_rmsprop(p, {.lr = 0.01, .momentum = 0.9, .weight_decay = 0.01}); }),
      {{0.59999998994974968, -0.90000000166389349, 1.9000000016611296},
       {0.75256504869252916, -0.74032156477619582, 1.7403195043454467},
       {0.92587984975870186, -0.54143368385112978, 1.5414248061420786}},
      "rmsprop momentum weight decay");
  // torch.optim.Adagrad(p, lr=0.1, weight_decay=0.01)
  expect_trajectory(trajectory([](NamedTensors p) { return make_adagrad(p, {.lr = 0.1, .weight_decay = 0.01}); }),
                    {{0.59999999998994979, -0.90000000000166391, 1.900000000001661},
                     {0.66237365743158239, -0.8305019135327838, 1.8304998484149464},
                     {0.70887438202621045, -0.77436894422281244, 1.7743641368872343}},
                    "adagrad");
}

TEST(Optim, EachOptimizerConvergesOnAQuadratic) {
  const std::vector<std::pair<std::string, double>> configs = {
      {"sgd", 0.1}, {"momentum", 0.05}, {"adam", 0.05}, {"adamw", 0.05}, {"rmsprop", 0.01}, {"adagrad", 0.5}};
  for (const auto& [name, lr] : configs) {
    Tensor w = Tensor::from_vector<float>({0.5f, -1.0f, 2.0f, 0.0f}, {2, 2});
    w.set_requires_grad(true);
    const Tensor t = Tensor::from_vector<float>({1.0f, 2.0f, -1.0f, 0.25f}, {2, 2});
    auto opt = make_optimizer(name, {{"w", w}}, lr);
    for (int s = 0; s < 500; ++s) {
      opt->zero_grad();
      quadratic_grad(w, t);
      opt->step();
    }
    const auto got = w.to_vector<double>(), want = t.to_vector<double>();
    // AdamW's decoupled decay (0.01) pulls the optimum slightly toward 0; RMSprop's steps stay near lr
    // in size (g / rms(g)), so it settles within a few lr of the optimum. Each starts 3 away.
    const double tol = name == "adamw" ? 0.02 : name == "rmsprop" ? 5e-3 : 1e-3;
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << name << " element " << i;
  }
}

TEST(Optim, MakeOptimizerNamesAndErrors) {
  Tensor w = vec({1});
  w.set_requires_grad(true);
  EXPECT_EQ(make_optimizer("sgd", {{"w", w}}, 0.1)->type_name(), "SGD");
  EXPECT_EQ(make_optimizer("adamw", {{"w", w}}, 0.1)->type_name(), "AdamW");
  EXPECT_EQ(make_optimizer("rmsprop", {{"w", w}}, 0.1)->lr(), 0.1);
  const std::string err = error_of([&] { make_optimizer("lion", {{"w", w}}, 0.1); });
  EXPECT_NE(err.find("unknown optimizer 'lion'"), std::string::npos) << err;
  EXPECT_NE(err.find("sgd, momentum, adam, adamw, rmsprop, adagrad"), std::string::npos) << err;
  EXPECT_NE(error_of([&] { make_sgd({{"w", w}}, {.nesterov = true}); }).find("nesterov requires momentum"),
            std::string::npos);
  EXPECT_NE(error_of([&] { make_adam({{"w", w}, {"w", w}}, {}); }).find("'w' appears twice"), std::string::npos);
}

TEST(Optim, ZeroGradClearsAndParamsWithoutGradsAreSkipped) {
  Tensor a = vec({1, 2}), b = vec({3});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  auto opt = make_sgd({{"a", a}, {"b", b}}, {.lr = 0.5});
  backward(sum(mul(a, a)));  // only a gets a gradient
  ASSERT_TRUE(a.grad().defined());
  const Tensor a_before = a;  // the same handle: sees the update
  opt->step();
  EXPECT_EQ(a_before.to_vector<double>(), (std::vector<double>{0, 0}));  // 1 - 0.5*2, 2 - 0.5*4
  EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{3}));
  opt->zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

// Runs `steps` quadratic steps on w with `opt`.
void run_steps(Optimizer& opt, const Tensor& w, int steps) {
  const Tensor t = Tensor::from_vector<float>({1.0f, 2.0f, -1.0f, 0.5f}, {4});
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    quadratic_grad(w, t);
    opt.step();
  }
}

TEST(Optim, StateRoundTripGivesBitIdenticalSteps) {
  using Maker = std::function<std::unique_ptr<Optimizer>(NamedTensors)>;
  const std::vector<std::pair<Maker, std::vector<std::string>>> makers = {
      {[](NamedTensors p) { return make_sgd(p, {.lr = 0.05, .momentum = 0.9, .nesterov = true}); },
       {"w.momentum_buffer", "step"}},
      {[](NamedTensors p) { return make_sgd(p, {.lr = 0.05}); }, {"step"}},
      {[](NamedTensors p) { return make_adam(p, {.lr = 0.05, .weight_decay = 0.01}); },
       {"w.exp_avg", "w.exp_avg_sq", "step"}},
      {[](NamedTensors p) { return make_rmsprop(p, {.lr = 0.01, .momentum = 0.5}); },
       {"w.square_avg", "w.momentum_buffer", "step"}},
      {[](NamedTensors p) { return make_adagrad(p, {.lr = 0.1}); }, {"w.sum", "step"}},
  };
  for (const auto& [make, names] : makers) {
    Tensor w = Tensor::from_vector<float>({0.5f, -1.0f, 2.0f, 0.0f}, {4});
    w.set_requires_grad(true);
    auto a = make({{"w", w}});
    run_steps(*a, w, 2);
    const NamedTensors saved = a->state();
    const std::vector<float> w_saved = w.to_vector<float>();
    std::vector<std::string> got_names;
    for (const auto& [n, t] : saved) got_names.push_back(n);
    EXPECT_EQ(got_names, names);
    EXPECT_EQ(saved.back().second.dtype(), DType::i64);
    EXPECT_EQ(saved.back().second.dim(), 0);
    EXPECT_EQ(saved.back().second.item(), 2);
    run_steps(*a, w, 3);  // must not disturb `saved`

    Tensor w2 = Tensor::from_vector<float>(w_saved, {4});
    w2.set_requires_grad(true);
    auto b = make({{"w", w2}});
    b->load_state(saved);
    EXPECT_EQ(b->steps(), 2);
    run_steps(*b, w2, 3);
    EXPECT_EQ(w2.to_vector<float>(), w.to_vector<float>()) << a->type_name() << " " << names[0];
  }
}

TEST(Optim, LoadStateNamesTheMismatch) {
  Tensor w = vec({1, 2});
  w.set_requires_grad(true);
  auto opt = make_adam({{"w", w}}, {});
  NamedTensors st = opt->state();
  NamedTensors bad_shape = st;
  bad_shape[0].second = Tensor::zeros({3}, DType::f64);
  std::string err = error_of([&] { opt->load_state(bad_shape); });
  EXPECT_NE(err.find("'w.exp_avg' has shape (3,), expected (2,)"), std::string::npos) << err;
  NamedTensors missing(st.begin() + 1, st.end());
  err = error_of([&] { opt->load_state(missing); });
  EXPECT_NE(err.find("missing entry 'w.exp_avg'"), std::string::npos) << err;
  NamedTensors extra = st;
  extra.emplace_back("v.exp_avg", Tensor::zeros({2}, DType::f64));
  err = error_of([&] { opt->load_state(extra); });
  EXPECT_NE(err.find("unexpected entry 'v.exp_avg'"), std::string::npos) << err;
  NamedTensors bad_dtype = st;
  bad_dtype[1].second = Tensor::zeros({2}, DType::f32);
  err = error_of([&] { opt->load_state(bad_dtype); });
  EXPECT_NE(err.find("'w.exp_avg_sq' has dtype f32, expected f64"), std::string::npos) << err;
}

TEST(Optim, ClipGradNorm) {
  Tensor a = vec({0, 0}), b = vec({0});
  a.set_grad(vec({3, 4}));
  b.set_grad(vec({12}));
  // Norm 13 under 20: unchanged.
  EXPECT_NEAR(clip_grad_norm({a, b}, 20), 13, 1e-12);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{3, 4}));
  // Clipped to 6.5: scaled by 6.5 / (13 + 1e-6), as torch.nn.utils.clip_grad_norm_.
  EXPECT_NEAR(clip_grad_norm({a, b}, 6.5), 13, 1e-12);
  const double k = 6.5 / (13 + 1e-6);
  const auto ga = a.grad().to_vector<double>();
  EXPECT_NEAR(ga[0], 3 * k, 1e-12);
  EXPECT_NEAR(ga[1], 4 * k, 1e-12);
  EXPECT_NEAR(b.grad().to_vector<double>()[0], 12 * k, 1e-12);
  // Parameters without gradients are ignored.
  Tensor c = vec({1});
  EXPECT_EQ(clip_grad_norm({c}, 1), 0);
  EXPECT_NE(error_of([&] { clip_grad_norm({a}, -1); }).find("max_norm must be >= 0"), std::string::npos);
}

TEST(Optim, Schedules) {
  EXPECT_EQ(constant_lr(0.3)->at(0), 0.3);
  EXPECT_EQ(constant_lr(0.3)->at(1000), 0.3);
  auto s = step_lr(0.1, 10, 0.5);
  EXPECT_DOUBLE_EQ(s->at(0), 0.1);
  EXPECT_DOUBLE_EQ(s->at(9), 0.1);
  EXPECT_DOUBLE_EQ(s->at(10), 0.05);
  EXPECT_DOUBLE_EQ(s->at(25), 0.025);
  auto c = cosine_lr(1.0, 10, 0.1);
  EXPECT_DOUBLE_EQ(c->at(0), 1.0);
  EXPECT_NEAR(c->at(5), 0.55, 1e-15);
  EXPECT_NEAR(c->at(10), 0.1, 1e-15);
  EXPECT_NEAR(c->at(50), 0.1, 1e-15);
  EXPECT_NEAR(cosine_lr(2.0, 4)->at(1), 1 + std::cos(std::numbers::pi / 4), 1e-15);
  auto w = warmup_lr(4, step_lr(0.2, 10, 0.1));
  EXPECT_DOUBLE_EQ(w->at(0), 0);
  EXPECT_DOUBLE_EQ(w->at(2), 0.1);
  EXPECT_DOUBLE_EQ(w->at(4), 0.2);
  EXPECT_DOUBLE_EQ(w->at(13), 0.2);
  EXPECT_NEAR(w->at(14), 0.02, 1e-15);
  EXPECT_EQ(warmup_lr(0, constant_lr(0.5))->at(0), 0.5);
  EXPECT_NE(error_of([] { step_lr(0.1, 0, 0.5); }).find("step_size must be > 0"), std::string::npos);
  EXPECT_NE(error_of([] { constant_lr(0.1)->at(-1); }).find("step must be >= 0"), std::string::npos);
}

struct Recorder : DispatchObserver {
  struct Row {
    std::string name;
    OpClass op_class;
    Phase phase;
  };
  std::vector<Row> rows;
  void on_op(const OpEvent& e) override { rows.push_back({e.op->name, e.op->op_class, e.phase}); }
};

TEST(Optim, UpdatesAreOptimizerOpsInTheOptimizerPhase) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"sgd", "sgd_update"}, {"momentum", "sgd_update"}, {"adam", "adam_update"},
      {"adamw", "adam_update"}, {"rmsprop", "rmsprop_update"}, {"adagrad", "adagrad_update"}};
  for (const auto& [name, op] : cases) {
    Tensor a = vec({1, 2}), b = vec({3});
    a.set_requires_grad(true);
    b.set_requires_grad(true);
    auto opt = make_optimizer(name, {{"a", a}, {"b", b}}, 0.1);
    backward(add(sum(mul(a, a)), sum(b)));
    Recorder rec;
    {
      ObserverScope scope(&rec);
      opt->step();
    }
    ASSERT_EQ(rec.rows.size(), 2u) << name;  // one update per parameter, nothing else
    for (const auto& r : rec.rows) {
      EXPECT_EQ(r.name, op) << name;
      EXPECT_EQ(r.op_class, OpClass::optimizer) << name;
      EXPECT_EQ(r.phase, Phase::optimizer) << name;
    }
    EXPECT_EQ(current_phase(), Phase::forward);
    EXPECT_TRUE(a.requires_grad()) << name;
  }
}

// On the meta device a step runs infer and cost only, so optimizer work can be characterized without data.
TEST(Optim, StepsOnMetaTensors) {
  Tensor w = Tensor::empty({64, 32}, DType::f32, kMeta);
  w.set_requires_grad(true);
  w.set_grad(Tensor::empty({64, 32}, DType::f32, kMeta));
  auto opt = make_adam({{"w", w}}, {});
  Recorder rec;
  {
    ObserverScope scope(&rec);
    opt->step();
  }
  ASSERT_EQ(rec.rows.size(), 1u);
  EXPECT_EQ(rec.rows[0].name, "adam_update");
  EXPECT_TRUE(w.is_meta());
  EXPECT_EQ(w.shape(), (Shape{64, 32}));
}

}  // namespace
}  // namespace plumb::nn
