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


def midi_bytes() -> bytes:
    """A format-0 MIDI file: tempo 133, piano (ch 0) melody, strings (ch 1) chords."""
    events: list[tuple[int, bytes]] = [(0, b"\xff\x51\x03" + (451128).to_bytes(3, "big")),
                                       (0, bytes([0xC0, 0])), (0, bytes([0xC1, 48]))]
    melody = [64, 67, 72, 71, 69, 67, 65, 64, 62, 64, 65, 67, 69, 71, 72, 72]
    for i, note in enumerate(melody):  # quarter notes: 16 beats = 7.2 s at 133 bpm
        events.append((i * TICKS, bytes([0x90, note, 96])))
        events.append(((i + 1) * TICKS - 40, bytes([0x80, note, 0])))
    chords = [(48, 52, 55), (53, 57, 60), (55, 59, 62), (48, 52, 55)]
    for j, chord in enumerate(chords):
        for note in chord:
            events.append((j * 4 * TICKS, bytes([0x91, note, 70])))
            events.append(((j + 1) * 4 * TICKS - 20, bytes([0x81, note, 0])))
    events.sort(key=lambda e: (e[0], e[1][0] & 0xF0 == 0x90))
    track, now = b"", 0
    for tick, data in events:
        track += _varlen(tick - now) + data
        now = tick
    track += _varlen(TICKS) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


if __name__ == "__main__":
    with open(sys.argv[1], "wb") as fh:
        fh.write(midi_bytes())
