#!/usr/bin/env bash
# Regenerate the example clips shipped in examples/ (needs espeak-ng, fluidsynth, sox and the
# General MIDI soundfont: apt-get install espeak-ng sox fluidsynth fluid-soundfont-gm).
#   examples/speech.wav  a spoken sentence (espeak-ng), 22050 Hz mono 16-bit
#   examples/music.wav   ~7.5 s of piano and strings (fluidsynth, FluidR3_GM), 22050 Hz mono 16-bit
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python}"
soundfont="${SOUNDFONT:-/usr/share/sounds/sf2/FluidR3_GM.sf2}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

espeak-ng -v en-us -s 150 -w "$tmp/speech_raw.wav" \
  "The quick brown fox jumps over the lazy dog, and then it sings a little song about the river."
sox "$tmp/speech_raw.wav" -r 22050 -c 1 -b 16 "$tmp/speech.wav" highpass 30 norm -3
mv "$tmp/speech.wav" "$here/speech.wav"

"$python" "$here/make_midi.py" "$tmp/music.mid"
fluidsynth -ni -g 0.8 -r 44100 -F "$tmp/music_raw.wav" "$soundfont" "$tmp/music.mid" >/dev/null
sox "$tmp/music_raw.wav" -r 22050 -c 1 -b 16 "$tmp/music.wav" trim 0 7.5 highpass 30 norm -3 fade 0 7.5 0.3
mv "$tmp/music.wav" "$here/music.wav"

ls -l "$here/speech.wav" "$here/music.wav"
