// Rnn, LstmCell and GruCell against PyTorch (1.13, f64): 2 layers, bidirectional, variable lengths
// (pack_padded_sequence), outputs, final states and gradients; the fused LSTM layer against the cells.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/nn/layers.h"
#include "plumb/nn/rnn.h"
#include "plumb/ops.h"

namespace plumb::nn {
namespace {

// The reference values below were printed once by this script (Debian python3 with torch):
// import torch, math
// torch.set_default_dtype(torch.float64)
// T, N, I, H, L = 5, 3, 3, 4, 2
// lengths = [3, 5, 2]
// def fill(shape, seed):
//     n = 1
//     for s in shape: n *= s
//     return torch.tensor([0.5 * math.sin(0.7 * j + seed) for j in range(n)]).reshape(shape)
// def run(cls, wname):
//     m = cls(I, H, num_layers=L, bidirectional=True)
//     with torch.no_grad():
//         for k, (name, p) in enumerate(m.named_parameters()):
//             p.copy_(fill(p.shape, k + 1))
//     x = fill((T, N, I), 100).requires_grad_(True)
//     packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
//     out, st = m(packed)
//     y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
//     h = st[0] if isinstance(st, tuple) else st
//     c = st[1] if isinstance(st, tuple) else None
//     loss = (y * fill(y.shape, 200)).sum() + (h * fill(h.shape, 300)).sum()
//     if c is not None: loss = loss + (c * fill(c.shape, 400)).sum()
//     loss.backward()
//     w = dict(m.named_parameters())[wname]
//     def emit(name, t):
//         v = t.detach().reshape(-1).tolist()
//         print(f"const std::vector<double> {name} = {{" + ", ".join(f"{a:.12g}" for a in v) + "};")
//     emit(cls.__name__.lower() + "_y", y); emit(cls.__name__.lower() + "_h", h)
//     if c is not None: emit(cls.__name__.lower() + "_c", c)
//     emit(cls.__name__.lower() + "_dx", x.grad); emit(cls.__name__.lower() + "_dw", w.grad)
// run(torch.nn.LSTM, "weight_hh_l1_reverse")
// run(torch.nn.GRU, "weight_ih_l1")

// fill(shape, seed) of the script: 0.5 * sin(0.7 j + seed) over the row-major elements.
Tensor fill(const Shape& shape, int seed, DType dtype = DType::f64) {
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (size_t j = 0; j < v.size(); ++j) v[j] = 0.5 * std::sin(0.7 * static_cast<double>(j) + seed);
  return cast(Tensor::from_vector(v, shape), dtype);
}

constexpr int64_t kT = 5, kN = 3, kI = 3, kH = 4, kL = 2;

const std::vector<double> lstm_y = {-0.114707523928, -0.129548941707, -0.0690972874258, 0.0539272645736, 0.0931042850094, -0.0303428824282, -0.223970419657, -0.367766424065, -0.111081453797, -0.12425964076, -0.0655601330033, 0.0511043610342, 0.0808311402, -0.0475348202162, -0.265680496777, -0.472949528824, -0.107531324053, -0.138409301795, -0.10417645877, 0.0229356448818, 0.0820580082404, -0.0312273136835, -0.176151260619, -0.272133325417, -0.200636094329, -0.151333319174, -0.110708666324, 0.0850027127558, 0.0859609182463, -0.0374544149458, -0.190375239835, -0.300849665827, -0.191876757838, -0.141419670887, -0.10271928804, 0.0805277296532, 0.0797575968941, -0.0589230397066, -0.270655470335, -0.455149616514, -0.196284987504, -0.175216333634, -0.178233094225, 0.0575991512272, 0.0601221877269, -0.0283533778382, -0.110522543149, -0.169391587533, -0.259151057663, -0.146361748954, -0.128871589938, 0.103854884535, 0.062721011726, -0.0291262494821, -0.113529300638, -0.180663847823, -0.239259814591, -0.12960994913, -0.117791313376, 0.0939021660597, 0.0807135424152, -0.060736625807, -0.252205714373, -0.405956685077, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -0.266026232769, -0.115343301868, -0.120230766366, 0.100182823847, 0.0783413136252, -0.0535710675052, -0.203896991313, -0.320037192827, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -0.289339265956, -0.108116118336, -0.113524851347, 0.108202041374, 0.0590202023564, -0.0349159546276, -0.117831427083, -0.187555330655, 0, 0, 0, 0, 0, 0, 0, 0};
const std::vector<double> lstm_h = {0.0706708299013, -0.03293302225, -0.362072594385, -0.309649819206, -0.132006255141, 0.0803791253982, -0.325389507123, -0.578654791179, 0.0445750779674, -0.243399375794, -0.123433676934, -0.170942812025, 0.0419809893565, 0.211699741484, 0.139649316944, 0.0610838144738, 0.0711988244632, 0.227222139937, 0.172215389682, 0.0723107189896, 0.249933749798, 0.119043794497, 0.0979171271755, 0.146390252894, -0.259151057663, -0.146361748954, -0.128871589938, 0.103854884535, -0.289339265956, -0.108116118336, -0.113524851347, 0.108202041374, -0.196284987504, -0.175216333634, -0.178233094225, 0.0575991512272, 0.0931042850094, -0.0303428824282, -0.223970419657, -0.367766424065, 0.0808311402, -0.0475348202162, -0.265680496777, -0.472949528824, 0.0820580082404, -0.0312273136835, -0.176151260619, -0.272133325417};
const std::vector<double> lstm_c = {0.177830812948, -0.0799981627044, -0.548550562119, -0.507140252076, -0.273324320011, 0.196431096226, -0.545425305591, -1.12410325778, 0.160364522615, -0.451922585545, -0.179845007507, -0.314220738192, 0.0834800646982, 0.756085384316, 0.549527745152, 0.186338932169, 0.183124901129, 0.636583115183, 0.625968202726, 0.319891683932, 0.517061833681, 0.638862143318, 0.248369829237, 0.455225647912, -0.454195207358, -0.251266772032, -0.219523741908, 0.241386883916, -0.520656662512, -0.191292721282, -0.195815454116, 0.26102834308, -0.342008776975, -0.284463419597, -0.295887018598, 0.116786928634, 0.266379035556, -0.0770012414578, -0.349406366255, -0.633723063098, 0.216171843119, -0.128001243929, -0.401261441921, -0.958019605335, 0.2266651797, -0.0723580571551, -0.283296672521, -0.44002168095};
const std::vector<double> lstm_dx = {0.0137700453738, -0.101076144785, -0.168384644693, 0.0210285102637, 0.0399500133914, 0.0400824009849, 0.0677839756641, 0.0994747668951, 0.0843810209193, -0.0281660637044, -0.108230917256, -0.137393079268, 0.024732704413, 0.0297714239584, 0.0208081776248, 0.00290916624222, 0.00698534674161, 0.00777620951936, -0.010988797295, -0.10570833906, -0.150711597227, 0.00490198836676, 0.024656601792, 0.0328148301245, 0, 0, 0, 0, 0, 0, -0.0282158161801, -0.0100509909894, 0.0128409723147, 0, 0, 0, 0, 0, 0, -0.0825138590307, -0.033374050275, 0.031462095809, 0, 0, 0};
const std::vector<double> lstm_dw = {-0.000518868137381, -0.00115447693894, -0.0045714167264, -0.00864993807513, -0.00260930041463, 0.00219714930404, 0.0086558284741, 0.0141863788809, -0.00899172218481, 0.00811968191394, 0.0337635706824, 0.056424376167, -0.00676324284593, 0.00472901731426, 0.0202313717331, 0.0331263413803, -2.40830812523e-05, -0.0010078007018, -0.0040210541547, -0.00738613132964, -0.00284108735895, 0.00246599467982, 0.0103945484769, 0.0173214368795, -0.00766587169341, 0.00646361805857, 0.0276185299524, 0.0460220800653, -0.00406258704853, 0.00296557676988, 0.0127674497742, 0.0209269408337, 0.00250956604041, -0.00962786710822, -0.040475423338, -0.0729127447801, 0.0187270727318, -0.0214279797489, -0.0880281240746, -0.149190277367, 0.00898958302417, -0.009242980614, -0.0390683378955, -0.0661425278626, 0.00384255153442, -0.00280238688323, -0.0121152590176, -0.0199916474672, 0.0020465869518, -0.00159359904058, -0.00724476613875, -0.0126119991069, -0.00188032938687, 0.00126844478881, 0.00575582960288, 0.00988278255768, -0.00480193175495, 0.00308269390377, 0.013708960217, 0.023076655516, -0.00320768090302, 0.00179398137264, 0.0074042971931, 0.0117192699788};
const std::vector<double> gru_y = {0.0341799793511, -0.0233327022609, -0.0642322305738, -0.0638809906437, 0.123988138874, -0.214577937108, -0.382169940193, -0.416743034834, 0.063688908368, 0.00870200242766, -0.0440146336702, -0.0682066459024, 0.0941478823458, -0.308659712567, -0.530325218695, -0.570820651939, 0.00235301649779, -0.0999043203141, -0.159256981904, -0.140200659595, 0.0461606861089, -0.162116932383, -0.256579068854, -0.293076182522, 0.0587465753448, -0.00531600353983, -0.092897604353, -0.0747754961583, 0.125456287551, -0.170637734521, -0.283986003234, -0.319234284345, 0.114940351162, 0.0474028137434, -0.0451731711132, -0.079817540891, 0.105735947292, -0.282613534455, -0.480943332835, -0.508909517503, -0.0320130129395, -0.142136518549, -0.27214826256, -0.150124178671, 0.0555042417091, -0.0964248389131, -0.14447741676, -0.172636082908, 0.0435825734714, -0.0245201592611, -0.117151333326, -0.0541347412511, 0.110158886657, -0.0993928714035, -0.150177926165, -0.187095131947, 0.162935426547, 0.0716900561626, -0.0355236310325, -0.0919198002476, 0.105643982939, -0.243833776447, -0.400386484063, -0.428869167882, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.193186161143, 0.0677868361419, -0.0349833760956, -0.105137150892, 0.109301511624, -0.187049309449, -0.289924839419, -0.325347323525, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.163703923234, 0.0201787952859, -0.0408956700488, -0.0663521868014, 0.110788066386, -0.105678757934, -0.151191127223, -0.189245781533, 0, 0, 0, 0, 0, 0, 0, 0};
const std::vector<double> gru_h = {0.307333573414, 0.0515252737558, -0.419372812972, -0.281334356041, -0.13739143336, 0.385482457505, -0.412994106058, -0.587762235941, 0.263753453787, -0.27487955165, -0.0420064338974, -0.181374904964, -0.253355461363, 0.762407721901, 0.51890855194, 0.200307360851, -0.223565067759, 0.635553757208, 0.662878438079, 0.347396629181, 0.347635403661, 0.603120713568, 0.0982900840913, 0.534541578157, 0.0435825734714, -0.0245201592611, -0.117151333326, -0.0541347412511, 0.163703923234, 0.0201787952859, -0.0408956700488, -0.0663521868014, -0.0320130129395, -0.142136518549, -0.27214826256, -0.150124178671, 0.123988138874, -0.214577937108, -0.382169940193, -0.416743034834, 0.0941478823458, -0.308659712567, -0.530325218695, -0.570820651939, 0.0461606861089, -0.162116932383, -0.256579068854, -0.293076182522};
const std::vector<double> gru_dx = {9.13008102499e-05, -0.0357459822359, -0.0547713712901, -0.0155840592309, -0.0461011105977, -0.0549360893006, 0.167448253154, 0.112083085936, 0.00400349205603, -0.000506790554612, -0.0968510836091, -0.147644798702, 0.0639509869285, 0.0617059361186, 0.0304396193703, 0.0640499434911, 0.0544856083951, 0.0192958403098, 0.0569779420976, -0.0501190308968, -0.133644240529, 0.0238011286049, 0.0730837622218, 0.0879939605004, 0, 0, 0, 0, 0, 0, 0.0113401069287, 0.0405276946991, 0.0506544743898, 0, 0, 0, 0, 0, 0, -0.0300961498178, 0.0458270013221, 0.100196997674, 0, 0, 0};
const std::vector<double> gru_dw = {-0.0337713141112, 0.0259334917937, 0.0105151724524, 0.00524851435799, -0.0299728700122, -0.0356327005552, -0.00106801066388, -0.02249844397, -0.00462182495342, 0.00940967955161, -0.00549724181035, -0.0109763549263, -0.00440083868879, 0.0117849225792, 0.0178747031461, 0.0059761086608, -0.000464513169886, -0.000583240530688, 0.00107426542748, 0.00155245593758, -0.000106118294187, -0.00357193489554, -0.00278266268049, -0.00206447579373, -0.0384069392593, 0.0204663836558, 0.0202461052726, 0.0191811325047, -0.0273480021389, -0.0637520448421, -0.027108768243, -0.0361821474262, 0.00574020591753, -0.00143199617063, -0.00571572289364, -0.0107739976338, 0.00686114847615, 0.0198749238823, 0.0151914325005, 0.0136757670581, 0.00433281317624, -0.00492761490572, 0.000530026622247, 0.000833346935087, 0.00413400209671, 0.00151921882768, -0.00159933588221, 0.00181819320505, -0.0116108886342, 0.00720994896308, 0.00527814768448, 0.0103788625045, -0.0145771631377, -0.03742366428, -0.0146016009452, -0.0277106776658, -0.00532048113101, 0.0081581874342, -0.00209132143706, 0.00139869734566, -0.0139760270732, -0.0167643932286, 0.00110545057974, -0.0180670886038, 0.271738429436, -0.225090655897, -0.058811369516, 0.00461767976531, 0.226449482425, 0.241134611002, -0.0470431508892, 0.151053613285, 0.103744026635, -0.155546883723, 0.0467083330044, 0.107669276262, 0.125994158513, -0.0959114988074, -0.213357752246, -0.0289515663736, -0.124902846038, -0.00433229372291, 0.130161657883, 0.153146462812, -0.0305665100825, -0.386358335946, -0.273960565117, -0.190829732966, -0.326068948009, 0.172675048019, 0.170070847002, 0.150881734133, -0.225801946092, -0.54048240018, -0.219257363615, -0.304415604777};


// Parameters k = 0, 1, ... in PyTorch's order get fill(shape, k + 1).
void set_weights(Module& m, DType dtype) {
  NamedTensors ts;
  int k = 0;
  for (const auto& [name, p] : m.named_parameters()) ts.emplace_back(name, fill(p.shape(), ++k, dtype));
  m.load_tensors(ts);
}

double max_abs_diff(const Tensor& got, const std::vector<double>& want) {
  const std::vector<double> g = got.to_vector<double>();
  EXPECT_EQ(g.size(), want.size());
  double d = 0;
  for (size_t i = 0; i < std::min(g.size(), want.size()); ++i) d = std::max(d, std::abs(g[i] - want[i]));
  return d;
}

struct Reference {
  const std::vector<double>&y, &h, *c, &dx, &dw;
  std::string weight;
};

// Runs the script's model in plumb and checks every printed tensor; returns the largest difference.
double check_against_torch(CellType cell, DType dtype, bool fused, const Reference& ref, double tol) {
  RnnOptions o;
  o.cell = cell;
  o.input_size = kI;
  o.hidden_size = kH;
  o.num_layers = kL;
  o.bidirectional = true;
  o.fused = fused;
  FactoryScope scope(dtype);  // load_tensors needs the parameters in the reference's dtype
  Rnn m(o);
  set_weights(m, dtype);
  Tensor x = fill({kT, kN, kI}, 100, dtype);
  x.set_requires_grad(true);
  const Tensor lengths = Tensor::from_vector<int64_t>({3, 5, 2}, {kN});
  RnnOutput out = m.run(x, {}, {}, lengths);
  Tensor loss = sum(mul(out.y, fill(out.y.shape(), 200, dtype))) + sum(mul(out.h, fill(out.h.shape(), 300, dtype)));
  if (out.c.defined()) loss = loss + sum(mul(out.c, fill(out.c.shape(), 400, dtype)));
  backward(loss);
  Tensor dw;
  for (const auto& [name, p] : m.named_parameters())
    if (name == ref.weight) dw = p.grad();
  double worst = 0;
  auto check = [&](const char* what, const Tensor& got, const std::vector<double>& want) {
    const double d = max_abs_diff(got, want);
    EXPECT_LE(d, tol) << what;
    worst = std::max(worst, d);
  };
  check("y", out.y, ref.y);
  check("h", out.h, ref.h);
  if (ref.c) check("c", out.c, *ref.c);
  check("dx", x.grad(), ref.dx);
  check("dw", dw, ref.dw);
  return worst;
}

TEST(Rnn, LstmMatchesTorchWithLengths) {
  const Reference ref{lstm_y, lstm_h, &lstm_c, lstm_dx, lstm_dw, "weight_hh_l1_reverse"};
  const double d64 = check_against_torch(CellType::lstm, DType::f64, false, ref, 1e-10);
  const double d32 = check_against_torch(CellType::lstm, DType::f32, false, ref, 2e-5);
  std::printf("LSTM vs torch: max abs diff f64 %.3g, f32 %.3g\n", d64, d32);
}

TEST(Rnn, GruMatchesTorchWithLengths) {
  const Reference ref{gru_y, gru_h, nullptr, gru_dx, gru_dw, "weight_ih_l1"};
  const double d64 = check_against_torch(CellType::gru, DType::f64, false, ref, 1e-10);
  const double d32 = check_against_torch(CellType::gru, DType::f32, false, ref, 2e-5);
  std::printf("GRU vs torch: max abs diff f64 %.3g, f32 %.3g\n", d64, d32);
}

TEST(Rnn, ParameterNamesAndShapesAsTorch) {
  RnnOptions o;
  o.input_size = 3;
  o.hidden_size = 4;
  o.num_layers = 2;
  o.bidirectional = true;
  Rnn lstm(o);
  const NamedTensors ps = lstm.named_parameters();
  ASSERT_EQ(ps.size(), 16u);
  EXPECT_EQ(ps[0].first, "weight_ih_l0");
  EXPECT_EQ(ps[4].first, "weight_ih_l0_reverse");
  EXPECT_EQ(ps[11].first, "bias_hh_l1");
  EXPECT_EQ(ps[8].second.shape(), (Shape{16, 8}));  // layer 1 reads both directions
  const double bound = 0.5;                          // 1 / sqrt(4)
  for (const auto& [name, p] : ps)
    for (double v : p.to_vector<double>()) EXPECT_LE(std::abs(v), bound) << name;
  EXPECT_EQ(lstm.type_name(), "LSTM");
  o.cell = CellType::gru;
  o.bias = false;
  o.bidirectional = false;
  Rnn gru(o);
  EXPECT_EQ(gru.named_parameters().size(), 4u);
  EXPECT_EQ(gru.named_parameters()[1].second.shape(), (Shape{12, 4}));
}

TEST(Rnn, PaddedStepsAreZeroAndStatesStopAtLength) {
  RnnOptions o;
  o.input_size = 2;
  o.hidden_size = 3;
  Rnn m(o);
  const Tensor x = fill({4, 2, 2}, 7, DType::f32);
  const RnnOutput full = m.run(slice(x, 1, 1, 2));                                  // sequence 1 alone, 4 steps
  const RnnOutput part = m.run(slice(slice(x, 1, 1, 2), 0, 0, 2));                   // its first 2 steps
  const RnnOutput both = m.run(x, {}, {}, Tensor::from_vector<int64_t>({4, 2}, {2}));
  const std::vector<double> y = both.y.to_vector<double>();
  for (int64_t t = 2; t < 4; ++t)
    for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(y[static_cast<size_t>((t * 2 + 1) * 3 + j)], 0.0);
  EXPECT_LE(max_abs_diff(slice(both.h, 1, 1, 2), part.h.to_vector<double>()), 1e-6);
  EXPECT_LE(max_abs_diff(slice(both.c, 1, 1, 2), part.c.to_vector<double>()), 1e-6);
  EXPECT_GT(max_abs_diff(full.h, part.h.to_vector<double>()), 1e-4);  // the padding really was skipped
}

// The cells' parameters under the single-layer Rnn's names.
NamedTensors as_layer_params(const Module& cell) {
  NamedTensors out;
  for (const auto& [name, p] : cell.named_parameters()) out.emplace_back(name + "_l0", p);
  return out;
}

TEST(Rnn, CellsMatchOneStepOfTheLayer) {
  LstmCell lc(3, 4);
  GruCell gc(3, 4);
  const Tensor x = fill({2, 3}, 3, DType::f32), h = fill({2, 4}, 4, DType::f32), c = fill({2, 4}, 5, DType::f32);
  const LstmState s = lc.step(x, {h, c});
  EXPECT_EQ(s.h.shape(), (Shape{2, 4}));
  EXPECT_LE(max_abs_diff(lc(x), lc.step(x, {}).h.to_vector<double>()), 0);
  RnnOptions o;
  o.input_size = 3;
  o.hidden_size = 4;
  Rnn lstm(o);
  lstm.load_tensors(as_layer_params(lc));
  const RnnOutput r = lstm.run(unsqueeze(x, 0), unsqueeze(h, 0), unsqueeze(c, 0));
  EXPECT_LE(max_abs_diff(r.y, s.h.to_vector<double>()), 1e-7);
  EXPECT_LE(max_abs_diff(r.c, s.c.to_vector<double>()), 1e-7);
  o.cell = CellType::gru;
  Rnn gru(o);
  gru.load_tensors(as_layer_params(gc));
  const Tensor h1 = gc.step(x, h);
  EXPECT_LE(max_abs_diff(gru.run(unsqueeze(x, 0), unsqueeze(h, 0)).y, h1.to_vector<double>()), 1e-7);
  EXPECT_LE(max_abs_diff(gc(x), gc.step(x, {}).to_vector<double>()), 0);
  EXPECT_EQ(gc.type_name(), "GRUCell");
  EXPECT_EQ(lc.hidden_size(), 4);
}

TEST(Rnn, BadInputsGiveClearErrors) {
  RnnOptions o;
  o.input_size = 3;
  o.hidden_size = 4;
  Rnn m(o);
  auto expect_error = [](auto&& fn, const std::string& part) {
    try {
      fn();
      ADD_FAILURE() << "no error, expected one mentioning '" << part << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error([&] { m.run(Tensor::zeros({2, 1, 5})); }, "features");
  expect_error([&] { m.run(Tensor::zeros({2, 1, 3}), Tensor::zeros({2, 1, 4})); }, "h0 must be");
  expect_error([&] { m.run(Tensor::zeros({2, 1, 3}), {}, {}, Tensor::from_vector<int64_t>({3}, {1})); }, "lengths[0]");
  expect_error([] { RnnOptions b; b.input_size = 2; b.hidden_size = 0; Rnn r(b); }, "hidden_size");
  const Tensor x = Tensor::zeros({2, 3}), h = Tensor::zeros({2, 4});
  expect_error([&] { lstm_cell(x, {h, h}, Tensor::zeros({16, 5}), Tensor::zeros({16, 4})); }, "lstm_cell: w_ih");
  expect_error([&] { lstm_cell(x, {h, h}, Tensor::zeros({15, 3}), Tensor::zeros({16, 4})); }, "(4*H, input_size)");
  expect_error([&] { gru_cell(x, Tensor::zeros({2, 5}), Tensor::zeros({12, 3}), Tensor::zeros({12, 4})); },
               "gru_cell: h must be");
  expect_error([&] { gru_cell(x, h, Tensor::zeros({12, 3}), Tensor::zeros({12, 3})); }, "gru_cell: w_hh");
  // A lone bias is paired with zeros.
  EXPECT_NO_THROW(lstm_cell(x, {h, h}, Tensor::zeros({16, 3}), Tensor::zeros({16, 4}), Tensor::zeros({16})));
  const std::vector<Tensor> layer_in{Tensor::zeros({2, 2, 3}), h, Tensor::zeros({2, 5}), Tensor::zeros({16, 3}),
                                     Tensor::zeros({16, 4})};
  expect_error([&] { dispatch(op_def("lstm_layer"), layer_in, NoAttrs{}); }, "lstm_layer: c0 must be (2, 4)");
}

// Counts the oneDNN kernels that ran for lstm_layer and its backward, and the ops inside cells.
struct LayerKernels : DispatchObserver {
  int onednn = 0, onednn_backward = 0, cells = 0;
  void on_op(const OpEvent& e) override {
    const bool dnn = e.kernel && e.kernel->backend == "onednn";
    if (e.op->name == "lstm_layer" && dnn) ++onednn;
    if (e.op->name == "lstm_layer_backward" && dnn) ++onednn_backward;
    for (const std::string& r : e.regions) cells += r == "lstm_cell";
  }
};

// Forward outputs and the gradients of x and every parameter, for a fixed weighted-sum loss.
std::vector<Tensor> lstm_outputs_and_grads(bool fused, int64_t t, int64_t n, int64_t i, int64_t h, LayerKernels* seen) {
  RnnOptions o;
  o.input_size = i;
  o.hidden_size = h;
  o.num_layers = 2;
  o.bidirectional = true;
  o.fused = fused;
  Rnn m(o);
  set_weights(m, DType::f32);
  Tensor x = fill({t, n, i}, 100, DType::f32);
  x.set_requires_grad(true);
  const Tensor h0 = fill({4, n, h}, 500, DType::f32), c0 = fill({4, n, h}, 600, DType::f32);
  ObserverScope scope(seen);
  RnnOutput out = m.run(x, h0, c0);
  Tensor loss = sum(mul(out.y, fill(out.y.shape(), 200, DType::f32))) +
                sum(mul(out.h, fill(out.h.shape(), 300, DType::f32))) + sum(mul(out.c, fill(out.c.shape(), 400, DType::f32)));
  backward(loss);
  std::vector<Tensor> all{out.y, out.h, out.c, x.grad()};
  for (const Tensor& p : m.parameters()) all.push_back(p.grad());
  return all;
}

TEST(Rnn, FusedAndCompositeLstmAgree) {
  const int64_t t = 7, n = 4, i = 5, h = 8;
  LayerKernels fused_seen, cell_seen;
  const std::vector<Tensor> fused = lstm_outputs_and_grads(true, t, n, i, h, &fused_seen);
  const std::vector<Tensor> cells = lstm_outputs_and_grads(false, t, n, i, h, &cell_seen);
  EXPECT_EQ(fused_seen.onednn, 4);  // one fused kernel per layer and direction
  EXPECT_EQ(fused_seen.onednn_backward, 4);
  EXPECT_EQ(fused_seen.cells, 0);
  EXPECT_EQ(cell_seen.onednn, 0);
  EXPECT_GT(cell_seen.cells, 0);
  ASSERT_EQ(fused.size(), cells.size());
  const char* names[] = {"y", "h", "c", "grad x"};
  double fwd = 0, bwd = 0;
  for (size_t k = 0; k < fused.size(); ++k) {
    ASSERT_TRUE(fused[k].defined() && cells[k].defined()) << k;
    const double d = max_abs_diff(fused[k], cells[k].to_vector<double>());
    const std::string what = k < 4 ? names[k] : "grad of parameter " + std::to_string(k - 4);
    EXPECT_LE(d, 1e-5) << what;
    (k < 3 ? fwd : bwd) = std::max(k < 3 ? fwd : bwd, d);
  }
  std::printf("fused vs composite LSTM (T=%ld N=%ld I=%ld H=%ld, 2 layers, bidirectional): forward %.3g, grads %.3g\n",
              static_cast<long>(t), static_cast<long>(n), static_cast<long>(i), static_cast<long>(h), fwd, bwd);
}

TEST(Rnn, FusedWithLengthsRunsAsCellsAndMatchesTorch) {
  const Reference ref{lstm_y, lstm_h, &lstm_c, lstm_dx, lstm_dw, "weight_hh_l1_reverse"};
  LayerKernels seen;
  ObserverScope scope(&seen);
  check_against_torch(CellType::lstm, DType::f32, true, ref, 2e-5);
  EXPECT_EQ(seen.onednn, 0);
  EXPECT_GT(seen.cells, 0);
}

TEST(Rnn, FusedWithFullLengthsMatchesCells) {
  // All lengths = T: the fused path runs, and agrees with the composite within f32 rounding.
  RnnOptions o;
  o.input_size = kI;
  o.hidden_size = kH;
  o.num_layers = kL;
  o.bidirectional = true;
  Rnn a(o);
  o.fused = true;
  Rnn b(o);
  set_weights(a, DType::f32);
  set_weights(b, DType::f32);
  const Tensor x = fill({kT, kN, kI}, 100, DType::f32), lengths = Tensor::from_vector<int64_t>({5, 5, 5}, {kN});
  const RnnOutput ra = a.run(x, {}, {}, lengths), rb = b.run(x, {}, {}, lengths);
  EXPECT_LE(max_abs_diff(rb.y, ra.y.to_vector<double>()), 1e-6);
  EXPECT_LE(max_abs_diff(rb.c, ra.c.to_vector<double>()), 1e-6);
}

// A parent that calls its recurrent children through run() / step(), as decoders do.
struct Parent : Module {
  std::shared_ptr<Rnn> enc;
  std::shared_ptr<LstmCell> dec;
  Parent() {
    RnnOptions o;
    o.input_size = 2;
    o.hidden_size = 3;
    enc = register_module("enc", std::make_shared<Rnn>(o));
    dec = register_module("dec", std::make_shared<LstmCell>(3, 3));
  }
  Tensor forward(const Tensor& x) override { return dec->step(squeeze(slice(enc->run(x).y, 0, 0, 1), 0), {}).h; }
  std::string type_name() const override { return "Parent"; }
};

struct ModulePaths : DispatchObserver {
  std::vector<std::string> innermost;
  void on_op(const OpEvent& e) override { innermost.push_back(e.modules.empty() ? "" : e.modules.back()); }
};

TEST(Rnn, RunAndStepAreOnTheModulePath) {
  Parent p;
  ModulePaths paths;
  {
    ObserverScope scope(&paths);
    p(fill({2, 1, 2}, 1, DType::f32));
  }
  const auto count = [&](const char* m) { return std::count(paths.innermost.begin(), paths.innermost.end(), m); };
  EXPECT_GT(count("enc"), 0);
  EXPECT_GT(count("dec"), 0);
}

TEST(Rnn, BuildsOnMeta) {
  FactoryScope scope(DType::f32, kMeta);
  RnnOptions o;
  o.input_size = 3;
  o.hidden_size = 4;
  o.num_layers = 2;
  o.bidirectional = true;
  Rnn m(o);
  const RnnOutput out = m.run(Tensor::from_spec({{5, 2, 3}, DType::f32, kMeta}), {}, {},
                              Tensor::from_vector<int64_t>({5, 3}, {2}));
  EXPECT_TRUE(out.y.is_meta());
  EXPECT_EQ(out.y.shape(), (Shape{5, 2, 8}));
  EXPECT_EQ(out.h.shape(), (Shape{4, 2, 4}));
  o.fused = true;
  Rnn fused(o);
  const RnnOutput f = fused.run(Tensor::from_spec({{5, 2, 3}, DType::f32, kMeta}));
  EXPECT_TRUE(f.c.is_meta());
  EXPECT_EQ(f.y.shape(), (Shape{5, 2, 8}));
}

}  // namespace
}  // namespace plumb::nn
