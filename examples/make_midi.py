"""Write a small General MIDI file (piano melody over string chords, ~7.5 s) without any library.

Usage: python examples/make_midi.py OUT.mid
"""

from __future__ import annotations

import struct
import sys

TICKS = 480  # ticks per quarter note


def _varlen(value: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def midi_file(notes: list[tuple[int, int, int, int, int]], programs: dict[int, int],
              bpm: float) -> bytes:
    """A format-0 MIDI file.

    Args:
        notes: ``(channel, start_tick, length_ticks, pitch, velocity)`` per note.
        programs: General MIDI program per channel.
        bpm: Tempo.
    """
    tempo = int(round(60e6 / bpm))
    events = [(0, b"\xff\x51\x03" + tempo.to_bytes(3, "big"))]
    events += [(0, bytes([0xC0 | ch, prog])) for ch, prog in programs.items()]
    for ch, start, length, pitch, vel in notes:
        events.append((start, bytes([0x90 | ch, pitch, vel])))
        events.append((start + length, bytes([0x80 | ch, pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1][0] & 0xF0 == 0x90))
    track, now = b"", 0
    for tick, data in events:
        track += _varlen(tick - now) + data
        now = tick
    track += _varlen(TICKS) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


def midi_bytes() -> bytes:
    """The example's song: tempo 133, piano (ch 0) melody, strings (ch 1) chords."""
    melody = [64, 67, 72, 71, 69, 67, 65, 64, 62, 64, 65, 67, 69, 71, 72, 72]
    notes = [(0, i * TICKS, TICKS - 40, note, 96)  # quarter notes: 16 beats = 7.2 s
             for i, note in enumerate(melody)]
    chords = [(48, 52, 55), (53, 57, 60), (55, 59, 62), (48, 52, 55)]
    notes += [(1, j * 4 * TICKS, 4 * TICKS - 20, note, 70)
              for j, chord in enumerate(chords) for note in chord]
    return midi_file(notes, {0: 0, 1: 48}, 60e6 / 451128)


if __name__ == "__main__":
    with open(sys.argv[1], "wb") as fh:
        fh.write(midi_bytes())
