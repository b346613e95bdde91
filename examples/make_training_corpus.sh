#!/usr/bin/env bash
# Generate, fully offline, a small varied *content* corpus for training a feed-forward audio
# style network.
#
# Usage: examples/make_training_corpus.sh OUT_DIR
#
# Makes 40 files, about 4 minutes of audio, deterministically (fixed text, voices, seeds):
#   OUT_DIR/speech/<language>/*.wav  espeak-ng speech: 17 English clips (16 sentences) and two
#                                    each in German, French and Spanish, on several voices and
#                                    variants, rates (-s 120-190) and pitches (-p); 3-8 s each
#   OUT_DIR/music/<style>/*.wav      fluidsynth pieces (piano, guitars, strings, organ, flute
#                                    and harp, bass and drums, marimba, brass, ...), seeded
#                                    melody plus accompaniment in several keys, tempi and
#                                    meters (examples/make_corpus_midi.py); 5-8 s each
#   All of those are 22050 Hz mono 16-bit WAV (sox: highpass 30, norm -3). To exercise the
#   dataset reader there are also, in deeper folders, one 44.1 kHz stereo FLAC
#   (music/other_formats/hifi/) and one 16 kHz mono WAV (speech/other_formats/).
# Files already in OUT_DIR are kept (those with the same names are overwritten); the summary
# counts only what this run wrote. Takes about 10 s (one CPU core is enough).
#
# Needs espeak-ng, sox (soxi), fluidsynth and a General MIDI soundfont:
#   apt-get install espeak-ng sox fluidsynth fluid-soundfont-gm
# Environment: SOUNDFONT (default /usr/share/sounds/sf2/FluidR3_GM.sf2), PYTHON (default python3).
set -euo pipefail

if [[ $# -ne 1 || "$1" == -* ]]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
out="$1"
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"
soundfont="${SOUNDFONT:-/usr/share/sounds/sf2/FluidR3_GM.sf2}"

missing=()
for tool in espeak-ng sox soxi fluidsynth; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
command -v "$python" >/dev/null 2>&1 || missing+=("$python (set PYTHON)")
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "error: missing ${missing[*]}" >&2
  echo "install with: apt-get install espeak-ng sox fluidsynth fluid-soundfont-gm" >&2
  exit 1
fi
if [[ ! -f "$soundfont" ]]; then
  echo "error: no soundfont at $soundfont (apt-get install fluid-soundfont-gm, or set SOUNDFONT)" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out/speech" "$out/music"
written=()
start_s=$SECONDS

# ---------------------------------------------------------------------------------- speech
sentences_en=(
  "The old lighthouse keeper climbed the spiral stairs every evening, just as the sun slipped behind the hills."
  "Please buy bread, a dozen eggs, a jar of honey and some green apples on your way home."
  "Have you ever wondered why the sky turns orange at sunset, while the sea stays blue?"
  "A small boat drifted down the river, under the stone bridge and out into the open lake."
  "The train to the coast leaves at seven fifteen from platform nine, and stops at every village."
  "Nobody expected the storm, but by midnight the wind was howling and the shutters rattled."
  "Good morning, everyone! Today we will learn how bees build their hives, and why they dance."
  "She counted the stars: three hundred and twelve, three hundred and thirteen, and then she fell asleep."
  "The fox looked up at the grapes high on the vine, and said that they were surely sour anyway."
  "Slow and steady wins the race, said the tortoise, as the hare woke up far behind him in the meadow."
  "In the kitchen the kettle whistled, the cat stretched on the windowsill, and the radio played an old song."
  "Is it true that the library closes early on Fridays? I still have four books to return."
  "Mix the flour with the butter, add a pinch of salt, and bake the dough until it is golden brown."
  "Far away in the mountains, a shepherd called to his dogs, and his voice echoed across the silent valley."
  "Wait for me at the corner; I will be there in five minutes."
  "Thank you very much, that was a lovely dinner."
)
sentences_de=(
  "Der Wind weht über die Felder, und die Kinder laufen lachend zum alten Brunnen im Dorf."
  "Morgen früh fahren wir mit dem Zug an die See und essen am Hafen frischen Fisch."
)
sentences_fr=(
  "Le petit chat dort au soleil pendant que la pluie tombe doucement sur les toits de la ville."
  "Demain matin, nous irons au marché acheter du pain, des fromages et des fleurs."
)
sentences_es=(
  "El viejo pescador miraba el mar en silencio mientras las gaviotas volaban sobre el puerto."
  "¿Sabes dónde está la estación de tren? Tengo que llegar a la ciudad antes de las nueve."
)

variants="$(espeak-ng --voices=variant)"
have_voice() {  # VOICE[+VARIANT]: espeak-ng silently ignores unknown variants, so check both
  local base="${1%%+*}" variant=""
  [[ "$1" == *+* ]] && variant="${1#*+}"
  espeak-ng -v "$base" -q "x" >/dev/null 2>&1 || return 1
  [[ -z "$variant" ]] || grep -Eq "[[:space:]]!v/${variant}([[:space:]]|$)" <<<"$variants"
}

# speak NAME FOLDER VOICE RATE PITCH TEXT [RATE_HZ]
speak() {
  local name="$1" folder="$2" voice="$3" rate="$4" pitch="$5" text="$6" hz="${7:-22050}"
  if ! have_voice "$voice"; then
    echo "  (espeak-ng voice $voice not available: skipping $name)" >&2
    return 0
  fi
  mkdir -p "$out/speech/$folder"
  espeak-ng -v "$voice" -s "$rate" -p "$pitch" -w "$tmp/$name.raw.wav" "$text"
  # At most 8 s (the sentences are written to fit; a cut gets a short fade).
  local cut=()
  if awk -v d="$(soxi -D "$tmp/$name.raw.wav")" 'BEGIN { exit !(d > 8) }'; then
    echo "  ($name is longer than 8 s: cut)" >&2
    cut=(trim 0 8 fade 0 -0 0.1)
  fi
  sox -R "$tmp/$name.raw.wav" -r "$hz" -c 1 -b 16 "$tmp/$name.wav" \
    ${cut[@]+"${cut[@]}"} channels 1 rate "$hz" gain -6 highpass 30 norm -3
  mv "$tmp/$name.wav" "$out/speech/$folder/$name.wav"
  written+=("$out/speech/$folder/$name.wav")
}

echo "speech ..."
# NAME FOLDER VOICE RATE PITCH SENTENCE
speak en01_us_m       en en-us            150 50 "${sentences_en[0]}"
speak en02_gb_f3      en en-gb+f3         170 60 "${sentences_en[1]}"
speak en03_us_m5      en en-us+m5         135 35 "${sentences_en[2]}"
speak en04_scot_f2    en en-gb-scotland+f2 160 65 "${sentences_en[3]}"
speak en05_rp_m3      en en-gb-x-rp+m3    180 45 "${sentences_en[4]}"
speak en06_us_f4      en en-us+f4         165 75 "${sentences_en[5]}"
speak en07_carib_m7   en en-029+m7        175 40 "${sentences_en[6]}"
speak en08_gb_m2      en en-gb+m2         190 30 "${sentences_en[7]}"
speak en09_us_f5      en en-us+f5         140 55 "${sentences_en[8]}"
speak en10_nyc_m4     en en-us-nyc+m4     155 50 "${sentences_en[9]}"
speak en11_gb_f1      en en-gb+f1         185 70 "${sentences_en[10]}"
speak en12_us_m6      en en-us+m6         130 25 "${sentences_en[11]}"
speak en13_rp_f3      en en-gb-x-rp+f3    150 85 "${sentences_en[12]}"
speak en14_us_m1      en en-us+m1         170 40 "${sentences_en[13]}"
speak en15_gb_f4_fast en en-gb+f4         165 60 "${sentences_en[14]}"
speak en16_us_m3_slow en en-us+m3         125 45 "${sentences_en[15]}"
speak en17_gb_m5      en en-gb+m5         175 55 "${sentences_en[0]}"   # same text, other speaker
speak de01_m          de de               150 45 "${sentences_de[0]}"
speak de02_f2         de de+f2            165 65 "${sentences_de[1]}"
speak fr01_m          fr fr-fr            160 50 "${sentences_fr[0]}"
speak fr02_f3         fr fr-fr+f3         145 70 "${sentences_fr[1]}"
speak es01_m3         es es+m3            165 40 "${sentences_es[0]}"
speak es02_f4         es es+f4            150 65 "${sentences_es[1]}"
# another rate, one more nesting level
speak en18_us_f2_16k  other_formats en-us+f2 160 55 "${sentences_en[10]}" 16000

# ----------------------------------------------------------------------------------- music
# compose NAME SECONDS MIDI-ARGS... : a MIDI file, rendered by fluidsynth (44.1 kHz stereo)
compose() {
  local name="$1" seconds="$2"
  shift 2
  "$python" "$here/make_corpus_midi.py" "$tmp/$name.mid" --seconds "$seconds" "$@"
  fluidsynth -ni -g 0.8 -r 44100 -F "$tmp/$name.raw.wav" "$soundfont" "$tmp/$name.mid" \
    >/dev/null 2>&1
}

# piece NAME FOLDER SECONDS MIDI-ARGS...
piece() {
  local name="$1" folder="$2" seconds="$3"
  shift 3
  compose "$name" "$seconds" "$@"
  mkdir -p "$out/music/$folder"
  sox -R "$tmp/$name.raw.wav" -r 22050 -c 1 -b 16 "$tmp/$name.wav" \
    trim 0 "$seconds" channels 1 rate 22050 gain -6 highpass 30 norm -3 fade 0 "$seconds" 0.3
  mv "$tmp/$name.wav" "$out/music/$folder/$name.wav"
  written+=("$out/music/$folder/$name.wav")
}

echo "music ..."
# GM programs: 0 piano, 4 e-piano, 6 harpsichord, 10 music box, 11 vibraphone, 12 marimba,
# 19 church organ, 21 accordion, 24/25 nylon/steel guitar, 30 distortion guitar, 32/33/34
# acoustic/finger/pick bass, 40 violin, 42 cello, 46 harp, 48 strings, 56 trumpet,
# 61 brass section, 71 clarinet, 73 flute.
piece piano_C_96          keys     7 --program 0  --key C   --bpm 96  --seed 1  --pattern alberti
piece guitar_G_110        guitar   7 --program 24 --accomp 25 --key G --bpm 110 --seed 2 --pattern strum
piece strings_Dm_72       strings  8 --program 40 --accomp 48 --key Dm --bpm 72 --seed 3 --pattern block
piece organ_F_84          keys     7 --program 19 --key F   --bpm 84  --seed 4  --pattern block
piece flute_harp_Eb_100   winds    7 --program 73 --accomp 46 --key Eb --bpm 100 --seed 5 --pattern arpeggio
piece bass_drums_Em_120   band     7 --program 33 --accomp -1 --drums --octave 2 --key Em --bpm 120 --seed 6
piece marimba_A_132       mallets  6 --program 12 --key A   --bpm 132 --seed 7  --pattern arpeggio
piece brass_Bb_116        winds    6 --program 56 --accomp 61 --key Bb --bpm 116 --seed 8 --pattern block
piece clarinet_waltz_Am_90 winds   7 --program 71 --accomp 0 --key Am --bpm 90 --seed 9 --meter 3 --pattern alberti
piece epiano_band_Fsm_100 band     8 --program 4  --bass 33 --drums --key F#m --bpm 100 --seed 10 --pattern block
piece vibes_Ab_140        mallets  5 --program 11 --bass 32 --key Ab --bpm 140 --seed 11 --pattern arpeggio
piece cello_Cm_80         strings  8 --program 42 --accomp 6 --octave 3 --key Cm --bpm 80 --seed 12 --pattern arpeggio
piece rock_E_150          band     5 --program 30 --bass 34 --drums --octave 3 --key E --bpm 150 --seed 13 --pattern strum
piece musicbox_D_108      mallets  5 --program 10 --accomp 46 --octave 5 --key D --bpm 108 --seed 14 --meter 3
piece accordion_Gm_126    keys     5 --program 21 --bass 32 --key Gm --bpm 126 --seed 15 --meter 3 --pattern block

# another format, rate and channel count, two levels deeper
compose piano_strings_hifi 8 --program 0 --accomp 48 --bass 32 --key Db --bpm 88 --seed 16 --pattern arpeggio
mkdir -p "$out/music/other_formats/hifi"
sox -R "$tmp/piano_strings_hifi.raw.wav" -r 44100 -c 2 -b 16 \
  "$out/music/other_formats/hifi/piano_strings_44k_stereo.flac" \
  trim 0 8 gain -6 highpass 30 norm -3 fade 0 8 0.3
written+=("$out/music/other_formats/hifi/piano_strings_44k_stereo.flac")

# --------------------------------------------------------------------------------- summary
total=0
for f in "${written[@]}"; do
  total="$(awk -v a="$total" -v b="$(soxi -D "$f")" 'BEGIN { printf "%.3f", a + b }')"
done
awk -v n="${#written[@]}" -v t="$total" -v d="$out" -v s="$((SECONDS - start_s))" 'BEGIN {
  printf "wrote %d files, %.1f s (%d min %.1f s) of audio under %s in %d s\n",
         n, t, int(t / 60), t - 60 * int(t / 60), d, s }'
