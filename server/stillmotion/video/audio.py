"""A clip's sound, carried over to a re-encoded copy of its picture (`stillmotion match`).

Clips from cloud services often come with sound (generated or licensed music); matching
their colour must not silently drop it. The picture is encoded first, on its own; this
then writes the final file from that picture and every audio stream of the source, in
order (a camera records each microphone on a track of its own), all copied packet for
packet (nothing re-encoded, so the sound is bit for bit the source's), interleaved by time. Sound that the output's usual players cannot play there (PCM or
Opus in MP4, for two) is re-encoded to AAC instead. The sound keeps its timing relative
to the source's picture: the new picture starts at 0 where the source's started.
"""

from __future__ import annotations

import heapq
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av

from ..errors import InputError, one_line
from ..place import is_write_error

AAC_BIT_RATE = 256_000   # when the sound must be re-encoded: transparent for stereo AAC


def av_version() -> str:
    return str(getattr(av, "__version__", "unknown"))


def keeps_timecode_with_sound() -> bool:
    """Whether a picture's timecode track survives `with_audio`: PyAV 17 gives a copied stream no
    rate, and without one the MOV muxer drops the track (PyAV 18 copies the codec's rate)."""
    try:
        return int(av_version().split(".")[0]) >= 18
    except ValueError:
        return True


def with_audio(picture: Path, sound_from: Path, out: Path) -> str | None:
    """Write `out` (an .mp4 or .mov): `picture`'s video stream and every audio stream of
    `sound_from`. Returns how the sound was carried ("copied", or "re-encoded to AAC" when any
    track was), or None, writing nothing, when `sound_from` has no audio stream. Sound that
    cannot be read or carried is an InputError naming `sound_from` (`out` may then be partly
    written: a temporary the caller removes)."""
    try:
        return _with_audio(picture, sound_from, out)
    except av.FFmpegError as exc:
        if is_write_error(exc):   # the destination's fault (disk full), not the clip's: said as such
            raise
        raise InputError(f"{sound_from.name}: cannot carry its sound over ({one_line(exc)})") from None


def _with_audio(picture: Path, sound_from: Path, out: Path) -> str | None:
    with ExitStack() as opened:
        source = opened.enter_context(av.open(str(sound_from)))
        if not source.streams.audio:
            return None
        start = _start_seconds(source)
        fmt = "mov" if out.suffix.lower() == ".mov" else "mp4"
        video_file = opened.enter_context(av.open(str(picture)))
        target = opened.enter_context(av.open(str(out), "w", format=fmt,
                                              options={"movflags": "+faststart+write_colr"}))
        video_in = video_file.streams.video[0]
        # When the picture was made (without it the movie header says 1904-01-01).
        if video_file.metadata.get("creation_time"):
            target.metadata["creation_time"] = video_file.metadata["creation_time"]
        video_out = target.add_stream_from_template(video_in)
        # Its codec tag, which says what it is (ProRes 4444 'ap4h'); else the muxer picks one by
        # the codec alone, and a 4444 master with sound was labelled 422 HQ ('apch').
        video_out.codec_tag = video_in.codec_tag
        if video_in.metadata.get("timecode"):
            # The picture's timecode track, written anew: the muxer counts it at the stream's
            # rate, which a copied stream is not given (and without it, drops the track).
            target.metadata["timecode"] = video_in.metadata["timecode"]
            video_out.codec_context.framerate = video_in.average_rate
        timed, all_copied = [_timed(_relabelled(video_file.demux(video_in), video_out), 0)], True
        for track in range(len(source.streams.audio)):
            # Each track read through an opening of its own: one demuxer hands out its packets
            # in file order, so two tracks read from it at once would each miss the other's.
            reader = source if track == 0 else opened.enter_context(av.open(str(sound_from)))
            audio_in = reader.streams.audio[track]
            if _container_holds(fmt, audio_in):
                audio_out = target.add_stream_from_template(audio_in)
                sound = _copied(reader, audio_in, audio_out, start)
            else:
                audio_out = target.add_stream("aac", rate=audio_in.codec_context.sample_rate or 48000)
                audio_out.bit_rate = AAC_BIT_RATE
                audio_out.layout = _aac_layout(audio_in.codec_context.layout)
                sound, all_copied = _reencoded(reader, audio_in, audio_out, start), False
            timed.append(_timed(sound, track + 1))
        for *_, packet in heapq.merge(*timed):
            target.mux(packet)
    return "copied" if all_copied else "re-encoded to AAC"


# What each container's usual players (QuickTime, editors, browsers, phones) play as it is.
# FFmpeg also writes Opus, Vorbis or PCM into MP4, which many of them cannot play: re-encoded.
PLAYABLE = {"mp4": {"aac", "alac", "mp3", "ac3", "eac3"},
            "mov": {"aac", "alac", "mp3", "ac3", "eac3", "pcm_s16le", "pcm_s16be", "pcm_s24le",
                    "pcm_s24be", "pcm_s32le", "pcm_f32le", "pcm_f32be"}}


def _container_holds(fmt: str, stream: av.stream.Stream) -> bool:
    # The codec's own name: the decoder's may differ (mp3float, ac3_fixed).
    return stream.codec_context.codec.canonical_name in PLAYABLE[fmt]


# Channel layouts AAC takes, by channel count; PCM from MKV/AVI often names none ("2 channels"),
# which the encoder refuses. Other counts are mixed down to stereo.
_AAC_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "4.0", 5: "5.0(side)", 6: "5.1", 8: "7.1"}


def _aac_layout(layout: av.AudioLayout | None) -> str:
    channels = len(layout.channels) if layout is not None else 2
    return _AAC_LAYOUTS.get(channels, "stereo")


def _start_seconds(container: av.container.InputContainer) -> float:
    """Where the source's picture starts: its sound is timed from there."""
    if container.streams.video:
        stream = container.streams.video[0]
        if stream.start_time is not None and stream.time_base is not None:
            return float(stream.start_time * stream.time_base)
    return 0.0


def _relabelled(packets: Iterator[av.Packet], stream: av.stream.Stream) -> Iterator[av.Packet]:
    for packet in packets:
        if packet.dts is None:      # the demuxer's end-of-stream marker
            continue
        packet.stream = stream
        yield packet


def _copied(source: av.container.InputContainer, audio_in: av.stream.Stream, audio_out: av.stream.Stream,
            start: float) -> Iterator[av.Packet]:
    shift = round(Fraction(start).limit_denominator(1_000_000) / audio_in.time_base) if start else 0
    before: av.Packet | None = None   # the last packet wholly before the picture starts
    for packet in source.demux(audio_in):
        if packet.dts is None:
            continue
        packet.dts -= shift
        if packet.pts is not None:
            packet.pts -= shift
        packet.stream = audio_out
        if packet.pts is not None and packet.pts + (packet.duration or 0) <= 0:
            before = packet   # sound from before the picture: not part of the clip ...
            continue
        if before is not None:
            # ... but the one packet just before it is: an AAC frame decodes only together with
            # the one before (its priming packet, at negative time, in every AAC file). The
            # muxer's edit list keeps it from being heard.
            yield before
            before = None
        yield packet


def _reencoded(source: av.container.InputContainer, audio_in: av.stream.Stream, audio_out: av.stream.Stream,
               start: float) -> Iterator[av.Packet]:
    offset = 0
    for packet in source.demux(audio_in):
        for frame in packet.decode():
            seconds = float(frame.pts * frame.time_base) - start if frame.pts is not None else None
            if seconds is not None:
                if seconds + frame.samples / frame.sample_rate <= 0:
                    continue    # sound from before the picture starts: not part of the clip
                frame.pts = round(seconds * frame.sample_rate)
                offset = frame.pts + frame.samples
            else:
                frame.pts, offset = offset, offset + frame.samples
            frame.time_base = Fraction(1, frame.sample_rate)
            yield from audio_out.encode(frame)
    yield from audio_out.encode(None)


def _timed(packets: Iterator[av.Packet], rank: int) -> Iterator[tuple[float, int, int, av.Packet]]:
    """(seconds, stream rank, n, packet): the streams' packets merged in time order."""
    for n, packet in enumerate(packets):
        when = packet.dts if packet.dts is not None else packet.pts or 0
        yield float(when * packet.time_base), rank, n, packet
