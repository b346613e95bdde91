"""Write a short seeded General MIDI piece: a melody over an accompaniment, in a given key.

Used by ``examples/make_training_corpus.sh`` to make varied music content clips. Standard
library only; the file writer is ``midi_file`` from ``examples/make_midi.py``.

Usage:
    python examples/make_corpus_midi.py OUT.mid --program N --key K --bpm B --seed S --seconds T
        [--accomp N] [--bass N] [--drums] [--pattern P] [--meter 3|4] [--octave O]

    --program   General MIDI program (0-127) of the melody (channel 0)
    --accomp    program of the accompaniment (channel 1); default: the melody's; -1: none
    --bass      program of a bass line (channel 2); default: none
    --drums     add a drum kit (channel 9)
    --key       tonic and mode: C, F#, Bb, Am, C#m, Ebm ... ("m" = natural minor, with a
                raised seventh in the dominant chord)
    --pattern   accompaniment: block, arpeggio, alberti, strum or auto (chosen by the seed)
    --meter     beats per bar (3 or 4)
    --octave    octave of the melody's tonic (4: middle C = 60)
    --seconds   length of the music; the piece runs a beat past it so a render can be trimmed

The same arguments always give the same file.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_midi import TICKS, midi_file  # noqa: E402

NOTE_NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]
# Chord progressions as scale degrees (0 = tonic), one chord a bar.
PROGRESSIONS = {
    "major": [[0, 3, 4, 0], [0, 5, 3, 4], [1, 4, 0, 0], [0, 4, 5, 3], [0, 3, 0, 4]],
    "minor": [[0, 5, 2, 6], [0, 3, 4, 0], [0, 6, 5, 4], [0, 3, 6, 2], [0, 5, 3, 4]],
}
PATTERNS = ("block", "arpeggio", "alberti", "strum")
# Drum kit notes (channel 9).
KICK, SNARE, CLOSED_HAT, OPEN_HAT, RIDE, CRASH = 36, 38, 42, 46, 51, 49


def parse_key(key: str) -> tuple[int, bool]:
    """``"F#m"`` -> (6, True): pitch class of the tonic and whether the key is minor."""
    text = key.strip()
    minor = text.endswith("m") and len(text) > 1
    if minor:
        text = text[:-1]
    if not text or text[0].upper() not in NOTE_NAMES:
        raise argparse.ArgumentTypeError(f"unknown key {key!r} (use e.g. C, F#, Bb, Am, C#m)")
    pc = NOTE_NAMES[text[0].upper()]
    for accidental in text[1:]:
        if accidental == "#":
            pc += 1
        elif accidental == "b":
            pc -= 1
        else:
            raise argparse.ArgumentTypeError(f"unknown key {key!r} (use e.g. C, F#, Bb, Am, C#m)")
    return pc % 12, minor


def scale_pitch(tonic: int, scale: list[int], degree: int) -> int:
    """MIDI pitch of a scale degree (any integer; 7 = the tonic an octave up)."""
    octave, step = divmod(degree, 7)
    return tonic + 12 * octave + scale[step]


def chord(tonic: int, scale: list[int], root: int, minor: bool) -> list[int]:
    """The triad on a scale degree, in root position from ``tonic``'s octave."""
    pitches = [scale_pitch(tonic, scale, root + i) for i in (0, 2, 4)]
    if minor and root % 7 == 4:  # harmonic minor: a major dominant chord
        pitches[1] += 1
    return pitches


def make_piece(args: argparse.Namespace) -> bytes:
    rng = random.Random(args.seed)
    tonic_pc, minor = parse_key(args.key)
    scale = MINOR if minor else MAJOR
    beats = math.ceil(args.seconds * args.bpm / 60.0) + 1
    bar = args.meter * TICKS
    bars = math.ceil(beats / args.meter)
    total = bars * bar
    progression = rng.choice(PROGRESSIONS["minor" if minor else "major"])
    roots = [progression[i % len(progression)] for i in range(bars)]
    roots[-1] = 0  # end on the tonic
    pattern = args.pattern if args.pattern != "auto" else rng.choice(PATTERNS)
    melody_tonic = 12 * (args.octave + 1) + tonic_pc
    accomp_tonic = melody_tonic - 12 if args.octave >= 4 else melody_tonic
    notes: list[tuple[int, int, int, int, int]] = []

    # Melody (channel 0): a seeded walk over the scale, chord tones on the strong beats.
    durations = [TICKS // 2, TICKS // 2, TICKS, TICKS, TICKS, 3 * TICKS // 2, 2 * TICKS]
    degree, tick = rng.choice([0, 2, 4]), 0
    while tick < total - TICKS:
        length = min(rng.choice(durations), total - TICKS - tick)
        if tick % bar == 0 or length >= 2 * TICKS:  # strong beat: move to a chord tone
            root = roots[tick // bar]
            targets = [root + k for k in (-7, -5, -3, 0, 2, 4, 7)]
            degree = min(targets, key=lambda d: (abs(d - degree), rng.random()))
        else:
            degree += rng.choice([-2, -1, -1, 1, 1, 2, 0, 3, -3])
        degree = max(-3, min(11, degree))
        if rng.random() > 0.08 or tick == 0:  # a few rests
            velocity = 92 + (10 if tick % bar == 0 else 0) + rng.randint(-8, 8)
            notes.append((0, tick, max(60, length - rng.randint(20, 60)),
                          scale_pitch(melody_tonic, scale, degree), velocity))
        tick += length
    notes.append((0, total - TICKS, TICKS, melody_tonic, 96))  # final tonic

    # Accompaniment (channel 1).
    if args.accomp >= 0:
        for b, root in enumerate(roots):
            start = b * bar
            tones = chord(accomp_tonic, scale, root, minor)
            if root >= 5:  # keep the chords in one register
                tones = [p - 12 for p in tones]
            if pattern == "block":
                half = bar if args.meter == 3 else bar // 2
                for t0 in range(start, start + bar, half):
                    notes += [(1, t0, half - 30, p, 66) for p in tones]
            elif pattern == "strum":
                for beat in range(args.meter):
                    t0 = start + beat * TICKS
                    down = beat % 2 == 0
                    strum = tones + [tones[0] + 12] if down else [tones[0] + 12] + tones[::-1]
                    for i, p in enumerate(strum):
                        notes.append((1, t0 + 12 * i, TICKS - 12 * i - 20, p,
                                      72 if down else 58))
            else:
                if pattern == "arpeggio":
                    order = [tones[0], tones[1], tones[2], tones[0] + 12,
                             tones[2], tones[1], tones[0] + 12, tones[2]]
                else:  # alberti
                    order = [tones[0], tones[2], tones[1], tones[2]]
                for i in range(args.meter * 2):
                    notes.append((1, start + i * TICKS // 2, TICKS // 2 - 20,
                                  order[i % len(order)], 62 + (8 if i == 0 else 0)))

    # Bass (channel 2): root on the downbeat, fifth or approach notes after.
    if args.bass >= 0:
        bass_tonic = 12 * 2 + tonic_pc + (12 if tonic_pc < 4 else 0)  # E1..D#2
        for b, root in enumerate(roots):
            start = b * bar
            r = scale_pitch(bass_tonic, scale, root % 7)
            line = [r, r + 7, r + 12, r + 7] if rng.random() < 0.5 else [r, r, r + 7, r + 5]
            for beat in range(args.meter):
                notes.append((2, start + beat * TICKS, TICKS - 40, line[beat % 4],
                              88 if beat == 0 else 74))

    # Drums (channel 9).
    if args.drums:
        hat = rng.choice([CLOSED_HAT, CLOSED_HAT, RIDE])
        busy = rng.random() < 0.5
        notes.append((9, 0, TICKS, CRASH, 90))
        for b in range(bars):
            start = b * bar
            for eighth in range(args.meter * 2):
                t0 = start + eighth * TICKS // 2
                beat, offbeat = divmod(eighth, 2)
                open_hat = eighth == args.meter * 2 - 1 and b % 2 == 1
                notes.append((9, t0, TICKS // 4, OPEN_HAT if open_hat else hat,
                              70 if offbeat else 84))
                if not offbeat and (beat == 0 or (args.meter == 4 and beat == 2)):
                    notes.append((9, t0, TICKS // 4, KICK, 100))
                elif not offbeat and beat % 2 == 1:
                    notes.append((9, t0, TICKS // 4, SNARE, 96))
                elif busy and offbeat and rng.random() < 0.25:
                    notes.append((9, t0, TICKS // 4, KICK, 80))

    programs = {0: args.program}
    if args.accomp >= 0:
        programs[1] = args.accomp
    if args.bass >= 0:
        programs[2] = args.bass
    return midi_file(notes, programs, args.bpm)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="MIDI file to write")
    parser.add_argument("--program", type=int, default=0, help="melody's GM program (0-127)")
    parser.add_argument("--accomp", type=int, default=None,
                        help="accompaniment's GM program; default: the melody's; -1: none")
    parser.add_argument("--bass", type=int, default=-1, help="bass line's GM program; -1: none")
    parser.add_argument("--drums", action="store_true", help="add drums on channel 9")
    parser.add_argument("--key", default="C", help="e.g. C, F#, Bb, Am, C#m")
    parser.add_argument("--bpm", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--pattern", default="auto", choices=("auto",) + PATTERNS)
    parser.add_argument("--meter", type=int, default=4, choices=(3, 4))
    parser.add_argument("--octave", type=int, default=4,
                        help="octave of the melody's tonic, 1-7 (4: middle C)")
    args = parser.parse_args(argv)
    if args.accomp is None:
        args.accomp = args.program
    for name in ("program", "accomp", "bass"):
        if not -1 <= getattr(args, name) <= 127 or (name == "program" and args.program < 0):
            parser.error(f"--{name} must be a GM program 0-127")
    try:
        parse_key(args.key)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if not 1 <= args.octave <= 7:
        parser.error("--octave must be 1-7")
    if args.bpm <= 0 or args.seconds <= 0:
        parser.error("--bpm and --seconds must be positive")
    args.out.write_bytes(make_piece(args))


if __name__ == "__main__":
    main()
