#pragma once
// Audio for the speech workload: WAV files (RIFF/WAVE integer PCM and IEEE float), resampling, an
// MFCC front end as Fathom's speech preprocessing, a character alphabet for CTC, and a corpus of
// utterances spoken by espeak-ng with their transcripts (see docs/speech.md).
#include <complex>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>


namespace plumb::audio {

// ---- WAV ----
enum class SampleFormat : uint8_t { pcm8, pcm16, pcm24, pcm32, f32 };

struct Wave {
  std::vector<float> samples;  // mixed to mono (the mean of the channels), in [-1, 1]
  int sample_rate = 0;
  int channels = 0;  // in the file
  SampleFormat format = SampleFormat::pcm16;
};

// Reads a RIFF/WAVE file: integer PCM of 8 (unsigned), 16, 24 or 32 bits or 32-bit IEEE float, any
// channel count, WAVE_FORMAT_EXTENSIBLE included. Throws Error naming the file and the fault: not
// RIFF/WAVE, a format that is not PCM or float (ADPCM, mu-law, ...), a missing or short fmt chunk,
// no data chunk, a data chunk shorter than declared (truncated) or not a whole number of frames.
Wave read_wav(const std::string& path);
// The same from bytes in memory; `name` names the source in errors.
Wave decode_wav(std::span<const uint8_t> bytes, const std::string& name);
// Writes interleaved samples (clamped to [-1, 1]) atomically: a temporary file, then a rename.
void write_wav(const std::string& path, std::span<const float> interleaved, int sample_rate, int channels = 1,
               SampleFormat format = SampleFormat::pcm16);

// Band-limited resampling (windowed-sinc interpolation, cutoff at the lower Nyquist frequency).
std::vector<float> resample(std::span<const float> x, int from_rate, int to_rate);

// ---- MFCC ----
// In-place radix-2 FFT (decimation in time); the size must be a power of two.
void fft(std::vector<std::complex<double>>& x);
// HTK's mel scale: 2595 log10(1 + f / 700).
double hz_to_mel(double hz);
double mel_to_hz(double mel);
// Triangular filters equally spaced on the mel scale between low_hz and high_hz, each rising from
// its left neighbour's centre to 1 at its own centre and falling to its right neighbour's centre,
// sampled at the nfft / 2 + 1 FFT bin frequencies: (num_filters, nfft / 2 + 1) row-major.
std::vector<double> mel_filterbank(int num_filters, int nfft, int sample_rate, double low_hz, double high_hz);

// What replaces the first cepstral coefficient: nothing, the frame's RMS (Fathom's librosa rmse),
// or its natural log (the convention Fathom's code marks as a TODO).
enum class Energy : uint8_t { none, rms, log_rms };

struct MfccOptions {
  int sample_rate = 16000;
  double frame_ms = 25, hop_ms = 10;  // 400 / 160 samples at 16 kHz
  int num_filters = 26, num_coeffs = 13;
  double pre_emphasis = 0.97;      // y[n] = x[n] - a x[n-1]; 0 = off
  double low_hz = 0, high_hz = 0;  // high 0 = Nyquist
  Energy energy = Energy::log_rms;
  int delta_width = 2;      // first-order deltas by regression over t-N..t+N; 0 = none
  bool standardize = true;  // per coefficient over the utterance's frames (sklearn's scale(axis=1))
};
// Fathom's preproc.py: window = hop = 5 ms (int(0.005 * sr) samples; its docstring says 10 ms frames
// with 5 ms overlap), plain RMS energy, deltas over 9 frames (librosa's default, N = 4).
MfccOptions fathom_mfcc_options(int sample_rate = 16000);

// Features of one utterance: (frames, dims) row-major.
struct Features {
  int64_t frames = 0, dims = 0;
  std::vector<float> values;
  float at(int64_t t, int64_t d) const { return values[static_cast<size_t>(t * dims + d)]; }
};
// Pre-emphasis, Hamming-windowed frames (the last zero-padded), power spectrum, mel filter bank, log,
// DCT-II (orthonormal), the first coefficient replaced by the energy, deltas, standardization.
// dims = num_coeffs * (delta_width > 0 ? 2 : 1). Throws Error on bad options or no samples.
Features mfcc(std::span<const float> samples, const MfccOptions& options = {});
// Appends first-order regression deltas: d_t = sum_n n (c_{t+n} - c_{t-n}) / (2 sum_n n^2), edges
// repeated. dims doubles.
Features append_deltas(const Features& f, int width);
// Zero mean, unit variance per dimension over the frames (a constant dimension becomes 0).
void standardize(Features& f);

// ---- characters for CTC ----
// Class 0 is the blank, then space, a-z and the apostrophe: 29 classes.
inline constexpr int64_t kBlank = 0;
inline constexpr int64_t kAlphabetSize = 29;
// Lower-cases A-Z; throws Error naming any other character.
std::vector<int64_t> encode_text(std::string_view text);
// Ids in [1, 28] to text; throws Error on the blank or an id out of range.
std::string decode_labels(std::span<const int64_t> ids);
// Levenshtein distance over characters.
int64_t edit_distance(std::string_view a, std::string_view b);
// Character error rate: total edit distance over total reference length (0 when both are empty).
double char_error_rate(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);

// ---- generated corpus ----
struct Utterance {
  std::string path;  // absolute
  std::string transcript;
};

struct CorpusOptions {
  int64_t utterances = 200;
  // "digits": strings of min_words..max_words spoken digits ("three one four"); "words": as many
  // words from a small command vocabulary; "mixed": either, half and half.
  std::string kind = "digits";
  int min_words = 2, max_words = 5;
  uint64_t seed = 1;
  int sample_rate = 16000;
  int jobs = 2;                       // espeak-ng processes at a time
  std::string program = "espeak-ng";  // looked up on PATH
};

// Speaks `utterances` seeded random texts with espeak-ng (voice variant, speed and pitch varied per
// utterance), resamples them to sample_rate and writes dir/utt-NNNNN.wav and dir/manifest.tsv
// ("file<TAB>transcript" per line, paths relative to dir). The directory is built under a temporary
// name and renamed, so a reader never sees half a corpus. Throws Error when espeak-ng is missing
// (naming the Debian package), when it fails, or when `dir` already exists.
std::vector<Utterance> generate_corpus(const std::string& dir, const CorpusOptions& options = {});
// Reads dir/manifest.tsv (or a manifest file given directly); throws Error naming the file and line
// on a line without a tab, an empty transcript, or a listed WAV that does not exist.
std::vector<Utterance> read_manifest(const std::string& path);
// $PLUMB_CACHE_DIR/speech, else $XDG_CACHE_HOME/plumb/speech, else ~/.cache/plumb/speech.
std::string speech_cache_dir();
// The corpus for `options` under speech_cache_dir() (one directory per kind, count, words and seed),
// generated on first use.
std::vector<Utterance> cached_corpus(const CorpusOptions& options);

// One utterance ready for training: features and the encoded transcript.
struct SpeechExample {
  Features features;
  std::vector<int64_t> labels;
  std::string transcript;
};
// Reads each WAV (resampling to options.sample_rate when it differs), computes its features and
// encodes its transcript.
std::vector<SpeechExample> load_examples(const std::vector<Utterance>& utterances, const MfccOptions& options = {});

}  // namespace plumb::audio
