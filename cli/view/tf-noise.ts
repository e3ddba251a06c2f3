// TensorFlow's start-up lines (tfjs-node): absl's pre-init notice, the oneDNN notice and the cpu_feature_guard
// lines. TF_CPP_MIN_LOG_LEVEL=2 (set by the CLI before any addon loads) drops the latter; the first two are printed
// before absl's logging starts, so the views drop them where such text passes through (e.g. bench children's stderr).
const NOISE: RegExp[] = [
  /^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$/,
  /^[IW]\d{4} [\d:. ]+\d+ (port|cpu_feature_guard)\.cc:\d+\] /,
  /^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$/,
];

export function isTensorflowStartupNoise(line: string): boolean {
  return NOISE.some((re) => re.test(line.trim()));
}
