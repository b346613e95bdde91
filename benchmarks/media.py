"""Generated test media for the audio benchmarks: speech (espeak-ng) and music (fluidsynth).

Nothing here is shipped with the package: the benchmarks make the recordings they need, on
demand, with Debian's ``espeak-ng``, ``sox``, ``fluidsynth`` and ``fluid-soundfont-gm``
(``apt-get install espeak-ng sox fluidsynth fluid-soundfont-gm``), into a cache folder.

    python benchmarks/media.py OUT_DIR      # writes every clip of CLIPS into OUT_DIR
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from make_midi import TICKS, midi_file  # noqa: E402  (the examples' MIDI writer)

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")

SENTENCES = (
    "The quick brown fox jumps over the lazy dog, and then it sings a little song about the "
    "river. Seven silver swans swim slowly south while the morning bells ring over the hills. "
    "Please call Stella and ask her to bring these things with her from the store: six spoons "
    "of fresh snow peas, five thick slabs of blue cheese, and maybe a snack for her brother Bob."
)


def _strings(bars: int) -> tuple[list, dict]:
    chords = [(48, 55, 64, 67), (45, 57, 60, 64), (41, 53, 60, 65), (43, 55, 59, 62)]
    notes = [(0, b * 4 * TICKS, 4 * TICKS - 10, p, 80)
             for b in range(bars) for p in chords[b % 4]]
    return notes, {0: 48}  # string ensemble


def _piano(bars: int) -> tuple[list, dict]:
    melody = [64, 67, 72, 71, 69, 67, 65, 64, 62, 64, 65, 67, 69, 71, 72, 67]
    notes = [(0, i * TICKS // 2, TICKS // 2 - 20, melody[i % 16], 90) for i in range(bars * 8)]
    notes += [(0, b * 4 * TICKS, 4 * TICKS - 20, p, 60)
              for b in range(bars) for p in ((48, 52, 55), (41, 45, 48))[b % 2]]
    return notes, {0: 0}


def _guitar(bars: int) -> tuple[list, dict]:
    shapes = [(40, 47, 52, 56, 59, 64), (45, 52, 57, 61, 64), (38, 45, 50, 54, 57, 62)]
    notes = []
    for b in range(bars):
        for beat in range(4):
            for k, p in enumerate(shapes[b % 3]):  # strummed: strings 15 ticks apart
                notes.append((0, (b * 4 + beat) * TICKS + 15 * k, TICKS - 30, p, 85))
    return notes, {0: 25}  # steel guitar


def _ringtone(bars: int) -> tuple[list, dict]:
    motif = [76, 79, 84, 79, 76, 72, 76, 79]
    notes = [(0, i * TICKS // 4, TICKS // 4 - 10, motif[i % 8], 110) for i in range(bars * 16)]
    return notes, {0: 11}  # vibraphone


def _drums_bass(bars: int) -> tuple[list, dict]:
    notes = []
    for b in range(bars):
        for beat in range(4):
            t = (b * 4 + beat) * TICKS
            notes.append((9, t, TICKS // 4, 36 if beat % 2 == 0 else 38, 110))
            notes.append((9, t, TICKS // 8, 42, 70))
            notes.append((9, t + TICKS // 2, TICKS // 8, 42, 60))
            notes.append((1, t, TICKS - 40, (36, 36, 43, 41)[b % 4], 100))
    return notes, {1: 33}


@dataclass(frozen=True)
class Clip:
    """One generated recording."""

    kind: str  # a voice (VOICES), a music pattern (PATTERNS), a noise or sox synth (NOISES), a
    # tonal kind (TONAL)
    # or "mix" (strings, piano and drums together)
    seconds: float
    rate: int = 22050
    channels: int = 1
    subtype: str = "PCM_16"
    bpm: float = 100.0


def _organ(bars: int) -> tuple[list, dict]:
    chords = [(48, 60, 64, 67, 72), (53, 60, 65, 69, 72), (55, 59, 62, 67, 71)]
    notes = [(0, b * 4 * TICKS, 4 * TICKS - 5, p, 90) for b in range(bars) for p in chords[b % 3]]
    return notes, {0: 19}  # church organ: held chords


PATTERNS = {"strings": _strings, "piano": _piano, "guitar": _guitar, "ringtone": _ringtone,
            "drums": _drums_bass, "organ": _organ}

# Noise-like styles shaped with sox from its noise generators: rain (pink noise, 0.4-8 kHz,
# slow swell), applause (white noise in a 1-4.5 kHz band, fast irregular bursts), wind (brown
# noise under 800 Hz, slow gusts)
NOISES = {
    "rain": ["synth", "{s}", "pinknoise", "highpass", "400", "lowpass", "8000",
             "tremolo", "0.3", "20"],
    "applause": ["synth", "{s}", "whitenoise", "sinc", "1000-4500", "tremolo", "13", "80",
                 "tremolo", "3.1", "40"],
    "wind": ["synth", "{s}", "brownnoise", "lowpass", "800", "tremolo", "0.15", "70"],
    # plain coloured noise, pink noise under a 4 Hz tremolo, a band of white noise (0.8-1.2
    # kHz), a 55 Hz sawtooth buzz over pink noise, a plucked string (C3, twice a second)
    "brown": ["synth", "{s}", "brownnoise"],
    "pink": ["synth", "{s}", "pinknoise"],
    "trem": ["synth", "{s}", "pinknoise", "tremolo", "4", "90"],
    "bandnoise": ["synth", "{s}", "whitenoise", "sinc", "800-1200"],
    "hum": ["synth", "{s}", "sawtooth", "55", "synth", "{s}", "pinknoise", "mix"],
    "pluck": ["synth", "0.5", "pluck", "C3"],
    # noises under other tremolos, for the texture start rule: a band of noise pulsing at 8 Hz
    # (60 % deep), brown noise breathing at 2 Hz (full depth), an engine's 25 Hz rumble, pink
    # noise under a shallower 4 Hz tremolo (50 %)
    "pulse8": ["synth", "{s}", "whitenoise", "sinc", "300-3000", "tremolo", "8", "60"],
    "breath": ["synth", "{s}", "brownnoise", "lowpass", "2000", "tremolo", "2", "100"],
    "engine": ["synth", "{s}", "brownnoise", "lowpass", "1500", "tremolo", "25", "70"],
    "trem50": ["synth", "{s}", "pinknoise", "tremolo", "4", "50"],
}
VOICES = {  # espeak-ng voice, words a minute, text
    "speech": ("en-us", "150", SENTENCES),
    "speech2": ("en-us+f3", "120", "Hello there, this is a different voice reading a "
                "different sentence slowly."),
}


def _tonal(kind: str, seconds: float, rate: int = 48000):
    """Tonal styles made from sines (numpy): two steady partials (1 and 2.5 kHz), a phone ring
    (the same, on and off 2.5 times a second, with a 20 Hz warble), a whistle (1.8 kHz with a
    5 Hz vibrato, in phrases)."""
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    if kind == "sines":
        x = np.sin(2 * np.pi * 1000 * t) + 0.8 * np.sin(2 * np.pi * 2500 * t)
    elif kind == "chord":  # three steady sines: 220, 277 and 330 Hz
        x = sum(np.sin(2 * np.pi * f * t) for f in (220, 277, 330))
    elif kind == "ring":
        x = (np.sin(2 * np.pi * 1000 * t) + 0.8 * np.sin(2 * np.pi * 2500 * t)) \
            * (np.sin(2 * np.pi * 2.5 * t) > 0) * (1 + 0.3 * np.sin(2 * np.pi * 20 * t))
    else:  # whistle
        phase = 2 * np.pi * np.cumsum(1800 + 40 * np.sin(2 * np.pi * 5 * t)) / rate
        x = np.sin(phase) * np.clip(2 * np.sin(2 * np.pi * 0.4 * t) + 0.5, 0, 1)
    return (0.3 * x / np.abs(x).max()).astype("float32"), rate


TONAL = ("sines", "ring", "whistle", "chord")


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing or ("fluidsynth" in tools and not SOUNDFONT.exists()):
        raise RuntimeError(f"generating benchmark media needs {', '.join(missing or [str(SOUNDFONT)])}"
                           ": apt-get install espeak-ng sox fluidsynth fluid-soundfont-gm")


def make_clip(clip: Clip, out: Path) -> Path:
    """Render ``clip`` to ``out`` (a WAV), looping the material to ``clip.seconds``."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        if clip.kind in TONAL:
            import soundfile as sf

            sf.write(str(raw), *_tonal(clip.kind, clip.seconds + 0.1))
        elif clip.kind in NOISES:
            _need("sox")
            subprocess.run(["sox", "-n", "-r", "48000", "-c", "1", str(raw),
                            *[a.format(s=clip.seconds + 0.1) for a in NOISES[clip.kind]]],
                           check=True, capture_output=True)
        elif clip.kind == "mix":
            _need("sox")
            parts = [clip_path(Clip(k, clip.seconds, bpm=clip.bpm), Path(tmp))
                     for k in ("strings", "piano", "drums")]
            subprocess.run(["sox", "-m", *map(str, parts), str(raw)], check=True,
                           capture_output=True)
        elif clip.kind in VOICES:
            _need("espeak-ng", "sox")
            voice, rate, text = VOICES[clip.kind]
            subprocess.run(["espeak-ng", "-v", voice, "-s", rate, "-w", str(raw), text],
                           check=True, capture_output=True)
        else:
            _need("fluidsynth", "sox")
            bars = int(clip.seconds * clip.bpm / 240) + 2
            notes, programs = PATTERNS[clip.kind](bars)
            mid = Path(tmp) / "m.mid"
            mid.write_bytes(midi_file(notes, programs, clip.bpm))
            subprocess.run(["fluidsynth", "-ni", "-g", "0.8", "-r", "48000", "-F", str(raw),
                            str(SOUNDFONT), str(mid)], check=True, capture_output=True)
        bits = {"PCM_16": "16", "PCM_24": "24"}[clip.subtype]
        # Loop to length (speech is repeated), high-pass away DC, normalise, stereo by a
        # small delay on the right channel so both channels differ.
        effects = ["repeat", "20", "trim", "0", f"{clip.seconds}", "highpass", "30",
                   "norm", "-3", "fade", "0", f"{clip.seconds}", "0.05"]
        mono = Path(tmp) / "mono.wav"
        subprocess.run(["sox", str(raw), "-r", str(clip.rate), "-c", "1", "-b", bits, str(mono),
                        *effects], check=True, capture_output=True)
        if clip.channels == 2:
            right = Path(tmp) / "right.wav"
            subprocess.run(["sox", str(mono), str(right), "pitch", "30", "delay", "0.013"],
                           check=True, capture_output=True)
            subprocess.run(["sox", "-M", str(mono), str(right), "-b", bits, str(out),
                            "trim", "0", f"{clip.seconds}"], check=True, capture_output=True)
        else:
            shutil.copyfile(mono, out)
    return out


def clip_path(clip: Clip, cache: Path) -> Path:
    """``clip`` rendered once into ``cache`` (reused on later calls)."""
    cache.mkdir(parents=True, exist_ok=True)
    name = (f"{clip.kind}_{clip.seconds:g}s_{clip.rate}_{clip.channels}ch_{clip.subtype}"
            f".wav")
    path = cache / name
    if not path.exists():
        tmp = path.with_suffix(".part.wav")
        make_clip(clip, tmp)
        tmp.rename(path)
    return path


if __name__ == "__main__":
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "bench_media")
    for c in (Clip("speech", 10), Clip("strings", 12), Clip("piano", 10), Clip("guitar", 10),
              Clip("ringtone", 1.5), Clip("drums", 10), Clip("ring", 1.5, 48000, 2),
              Clip("sines", 1.5), Clip("whistle", 4), Clip("organ", 8), Clip("rain", 10),
              Clip("applause", 10), Clip("wind", 40), Clip("mix", 10, 44100)):
        print(clip_path(c, out_dir))
