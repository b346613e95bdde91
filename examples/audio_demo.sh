#!/usr/bin/env bash
# Audio demo: a style transfer (speech content, music style) and a music texture, with plots.
#   examples/audio_demo.sh [OUT_DIR] [PRESET]      (defaults: out/audio, fast)
# Writes OUT_DIR/transfer.wav, transfer.png, transfer.json, texture.wav, texture.png,
# texture.json and inputs.png. The example clips are committed; regenerate them with
# examples/make_audio_examples.sh (needs espeak-ng, fluidsynth, sox).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-out/audio}"
preset="${2:-fast}"
audiostyle="${AUDIOSTYLE:-audiostyle}"
mkdir -p "$out"

if [[ ! -f "$here/speech.wav" || ! -f "$here/music.wav" ]]; then
  "$here/make_audio_examples.sh"
fi

$audiostyle plot "$here/speech.wav" "$here/music.wav" -o "$out/inputs.png"
$audiostyle transfer "$here/speech.wav" "$here/music.wav" -o "$out/transfer.wav" \
  --preset "$preset" --plot "$out/transfer.png" --metrics "$out/transfer.json"
$audiostyle texture "$here/music.wav" -o "$out/texture.wav" --seconds 10 \
  --preset "$preset" --plot "$out/texture.png" --metrics "$out/texture.json"
echo "wrote $out/transfer.wav and $out/texture.wav (plots and metrics beside them)"
