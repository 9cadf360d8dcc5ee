#!/usr/bin/env python3
"""Fetch and decode the training and test speech for the compact model pair, with one command.

  scripts/prepare_data.py [--cache DIR]

Downloads Debian's Asterisk prompt packages (apt-get download: no install, no root needed for that),
unpacks them and decodes every G.722 prompt to 16 kHz mono 16-bit WAV in a cache outside the repository
(default $LDMRECON_DATA, else ~/.cache/ldmrecon/data). Writes CACHE/manifest.tsv (one line per file:
split, language, package, version, licence, seconds, path) and CACHE/licences/<package>.copyright.

Real male speech (every Asterisk training voice is female): Debian's ktuberling-data, about 1900 short words
in all, spoken in 20-odd languages, one speaker per language, many of them male (GPL-2+; manifest language
"kt-LANG", files under wav/kt/LANG/). Its Italian and Russian words stay out altogether, so that no
Italian or Russian speaker of the unseen split's kind is trained on and the Russian ktuberling speaker
cannot blur the unseen measure.

Synthetic speech for variety: flite's kal16, awb and rms voices, espeak-ng's en-us, es and fr voices and
Festival's male diphone voices built from real recordings (English kal and ked, Czech machac, Italian pc,
Russian msu_ru_nsh: festvox-kallpc16k, -kdlpc16k, -czech-machac, -itapc16k, -ru) read sentences of the
GPL-3 text in /usr/share/common-licenses (manifest language "synthetic"; the Czech, Italian and Russian
voices read it with their own letter-to-sound rules: a male voice at 75-148 Hz is what they are for, not
their language). The Italian and Russian diphone speakers are not the unseen split's speakers (a female
Russian and a male Italian telephone voice); evaluate_compact.py prints each unseen voice apart (one
per language), so a Russian-free and an Italian-free figure stay available. Debian's Hindi, Marathi and Telugu
NSK voices do not load (their phone set files are missing: "could not open file hindi_phones.scm") and are
left out.

Music: asterisk-moh-opsound-wav, five pieces of music on hold (real instruments, 8 kHz, CC BY-SA 3.0;
manifest language "music", wav/music/ARTIST/).

Splits, by speaker (or artist) wherever a source has several, fixed by name so they never move:
  train  English, Spanish, French prompts (one voice per language; about 1 in 10 prompts held out, by a
         hash of the name), the ktuberling and synthetic voices not held out, four pieces of music
  test   the held-out prompts, the bundled example's source prompt (en tt-allbusy) always, and whole
         held-out speakers: ktuberling's Greek (male) and Galician (female) speakers, Festival's ked and
         flite's rms voices
  unseen Italian and Russian Asterisk prompts: never used for training
  music  the held-out artist's piece (Manolo Camp): music the vocoder never heard

Needs apt-get, dpkg-deb, ffmpeg, flite, espeak-ng, festival and the five voices above (it says which is
missing; they are installed with apt-get when running as root).
"""
import argparse
import os
import shutil
import subprocess
import sys
import wave
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TRAIN_LANGUAGES = ("en", "es", "fr")
UNSEEN_LANGUAGES = ("it", "ru")
LICENCE = "CC-BY-SA-3.0"  # as each package's copyright file states for the prompts
ALWAYS_TEST = {("en", "tt-allbusy")}  # examples/example.wav is decoded from this prompt


def die(msg: str) -> None:
    print(f"prepare_data: {msg}", file=sys.stderr)
    sys.exit(1)


TOOLS = {"ffmpeg": "decodes G.722 and Ogg", "flite": "synthetic speech", "espeak-ng": "synthetic speech",
         "text2wave": "Festival's synthetic speech"}
PACKAGES = {"ffmpeg": "ffmpeg", "flite": "flite", "espeak-ng": "espeak-ng", "text2wave": "festival"}
# Festival voice -> (package, the folder under /usr/share/festival/voices holding it)
FESTIVAL_VOICES = {"kal_diphone": ("festvox-kallpc16k", "english"), "ked_diphone": ("festvox-kdlpc16k", "english"),
                   "czech_machac": ("festvox-czech-machac", "czech"), "pc_diphone": ("festvox-itapc16k", "italian"),
                   "msu_ru_nsh_clunits": ("festvox-ru", "russian")}
SYNTH_VOICES = [("flite", "kal16"), ("flite", "awb"), ("flite", "rms"),
                ("espeak-ng", "en-us+m3"), ("espeak-ng", "es+m1"), ("espeak-ng", "fr+f2"),
                *(("festival", v) for v in FESTIVAL_VOICES)]
SYNTH_TEST_VOICES = {"festival/ked_diphone", "flite/rms"}  # whole voices held out, as TOOL/VOICE
KTUBERLING = "ktuberling-data"
KT_LEFT_OUT = ("it", "ru")  # the unseen split's languages
KT_TEST_SPEAKERS = ("el", "gl")  # a male and a female speaker held out whole
KT_LICENCE = "GPL-2.0-or-later"
MUSIC = "asterisk-moh-opsound-wav"
MUSIC_HELD_OUT = "manolo_camp"  # the artist of the music split
SYNTH_SENTENCES = 60  # per voice
SYNTH_TEXT = Path("/usr/share/common-licenses/GPL-3")
SYNTH_LICENCE = ("synthetic: flite (BSD-style) / espeak-ng (GPL-3.0+) / Festival diphone voices (kal, ked, ru: "
                 "BSD-style; czech-machac: GPL-3.0+; itapc16k: GPL-2.0+) reading the GPL-3 text (verbatim copies "
                 "allowed)")


def need_tools() -> None:
    for tool in ("apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            die(f"'{tool}' not found: this script needs a Debian system (apt-get, dpkg-deb)")
    missing = [PACKAGES[t] for t in TOOLS if not shutil.which(t)]
    missing += [pkg for voice, (pkg, folder) in FESTIVAL_VOICES.items()
                if not Path(f"/usr/share/festival/voices/{folder}/{voice}").is_dir()]
    if missing:
        if os.geteuid() == 0:
            print(f"prepare_data: installing {' '.join(missing)}", file=sys.stderr)
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
            subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                           check=True, env=env, stdout=subprocess.DEVNULL)
        else:
            die(f"{', '.join(missing)} not installed (speech decoding and synthesis): "
                f"install them (sudo apt-get install {' '.join(missing)})")
    if not SYNTH_TEXT.exists():
        die(f"{SYNTH_TEXT} not found (Debian's base-files has it): it is the text the synthetic voices read")


def sentences() -> list:
    import re
    text = " ".join(SYNTH_TEXT.read_text().split())
    parts = [p.strip() for p in re.split(r"(?<=[.;:])\s+", text)]
    return [p for p in parts if 40 <= len(p) <= 220 and not p.isupper()]


def synthesise(tool: str, voice: str, text: str, dst: Path) -> None:
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    raw = dst.with_suffix(".raw.wav")
    if tool == "flite":
        cmd = ["flite", "-voice", voice, "-t", text, "-o", str(raw)]
    elif tool == "festival":
        txt = dst.with_suffix(".txt")
        txt.write_text(text + "\n")
        cmd = ["text2wave", "-eval", f"(voice_{voice})", "-o", str(raw), str(txt)]
    else:
        cmd = ["espeak-ng", "-v", voice, "-w", str(raw), text]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        die(f"{tool} -voice {voice} failed: {r.stderr.strip()}")
    decode(raw, dst, fmt=None)
    raw.unlink()
    dst.with_suffix(".txt").unlink(missing_ok=True)


def split_of(source: str, speaker: str, name: str = ""):
    """The split of one file: "train", "test", "unseen", "music", or None for a file left out. `speaker` is
    the Asterisk language (one voice each), ktuberling's language folder, "TOOL/VOICE" of a synthetic voice,
    or the music's artist; `name` the prompt (Asterisk only: its prompts are split, not its voices)."""
    if source == "asterisk":
        if speaker in UNSEEN_LANGUAGES:
            return "unseen"
        if (speaker, name) in ALWAYS_TEST:
            return "test"
        return "test" if zlib.crc32(f"{speaker}/{name}".encode()) % 10 == 0 else "train"
    if source == "ktuberling":
        base = speaker.split("@")[0]  # sr@latin, sr@ijekavian ... are the sr speaker
        return None if base in KT_LEFT_OUT else "test" if base in KT_TEST_SPEAKERS else "train"
    if source == "synthetic":
        return "test" if speaker in SYNTH_TEST_VOICES else "train"
    if source == "music":
        return "music" if speaker == MUSIC_HELD_OUT else "train"
    raise ValueError(f"unknown source {source!r}")


def unpack(pkg: str, debs: Path, unpacked: Path, lic: Path):
    """The package's files under unpacked/PKG (once), its copyright file copied to lic; (version, root)."""
    deb = fetch(pkg, debs)
    root = unpacked / pkg
    if not (root / ".done").exists():
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        (root / ".done").touch()
    copyright_file = root / "usr" / "share" / "doc" / pkg / "copyright"
    if copyright_file.exists():
        shutil.copyfile(copyright_file, lic / f"{pkg}.copyright")
    return deb.name.split("_")[1].replace("%3a", ":"), root


def ktuberling_words(debs: Path, unpacked: Path, lic: Path, wavs: Path):
    """(source, destination) decode jobs and manifest rows for ktuberling's spoken words (Ogg Vorbis, Opus
    or WAV), split by speaker: one speaker per language (the Serbian variants, sr@latin ..., are one)."""
    version, root = unpack(KTUBERLING, debs, unpacked, lic)
    jobs, rows = [], []
    sounds = root / "usr" / "share" / "ktuberling" / "sounds"
    for src in sorted(p for p in sounds.glob("*/*") if p.suffix in (".ogg", ".opus", ".wav")):
        lang = src.parent.name
        split = split_of("ktuberling", lang)
        if split is None:
            continue
        dst = wavs / "kt" / lang / f"{src.stem}.wav"
        jobs.append((src, dst))
        rows.append([split, f"kt-{lang}", KTUBERLING, version, KT_LICENCE, dst])
    return jobs, rows


def music(debs: Path, unpacked: Path, lic: Path, wavs: Path):
    """Decode jobs and manifest rows for the music on hold, split by artist (the name before the dash)."""
    version, root = unpack(MUSIC, debs, unpacked, lic)
    jobs, rows = [], []
    for src in sorted((root / "usr" / "share" / "asterisk" / "moh").glob("*.wav")):
        artist = src.stem.split("-")[0]
        dst = wavs / "music" / artist / f"{src.stem}.wav"
        jobs.append((src, dst))
        rows.append([split_of("music", artist), "music", MUSIC, version, LICENCE, dst])
    return jobs, rows


def fetch(pkg: str, debs: Path) -> Path:
    found = sorted(debs.glob(f"{pkg}_*.deb"))
    if not found:
        r = subprocess.run(["apt-get", "download", pkg], cwd=debs, capture_output=True, text=True)
        found = sorted(debs.glob(f"{pkg}_*.deb"))
        if r.returncode != 0 or not found:
            die(f"apt-get download {pkg} failed: {r.stderr.strip().splitlines()[-1] if r.stderr else 'no .deb'}"
                " (is the package in your apt sources? try apt-get update)")
    return found[-1]


def decode(src: Path, dst: Path, fmt="g722") -> None:
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".part.wav")
    r = subprocess.run(["ffmpeg", "-v", "error", "-y", *(["-f", fmt] if fmt else []), "-i", str(src), "-ac", "1",
                        "-ar", "16000", "-c:a", "pcm_s16le", str(tmp)], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        die(f"{src}: ffmpeg could not decode it: {r.stderr.strip()}")
    tmp.replace(dst)


def main() -> int:
    default = os.environ.get("LDMRECON_DATA") or str(Path.home() / ".cache" / "ldmrecon" / "data")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path(default), help=f"cache folder (default {default})")
    args = ap.parse_args()
    need_tools()
    cache = args.cache.resolve()
    debs, unpacked, wavs, lic = cache / "debs", cache / "unpacked", cache / "wav", cache / "licences"
    for d in (debs, unpacked, wavs, lic):
        d.mkdir(parents=True, exist_ok=True)

    rows, jobs = [], []
    for lang in TRAIN_LANGUAGES + UNSEEN_LANGUAGES:
        pkg = f"asterisk-core-sounds-{lang}-g722"
        version, root = unpack(pkg, debs, unpacked, lic)
        sounds = root / "usr" / "share" / "asterisk" / "sounds"
        for src in sorted(sounds.rglob("*.g722")):
            rel = src.relative_to(sounds).with_suffix(".wav")
            name = src.relative_to(sounds).with_suffix("").as_posix().split("/", 1)[-1]
            dst = wavs / lang / rel
            jobs.append((src, dst, "g722"))
            rows.append([split_of("asterisk", lang, name), lang, pkg, version, LICENCE, dst])
    for source in (ktuberling_words, music):
        more_jobs, more_rows = source(debs, unpacked, lic, wavs)
        jobs += [(src, dst, None) for src, dst in more_jobs]
        rows += more_rows
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(lambda j: decode(*j), jobs))

    # Synthetic voices: a different slice of the sentences for each voice.
    texts = sentences()
    synth = []
    for v, (tool, voice) in enumerate(SYNTH_VOICES):
        for k in range(SYNTH_SENTENCES):
            text = texts[(v * SYNTH_SENTENCES + k) % len(texts)]
            name = f"{tool}-{voice.replace('+', '-')}/{k:03d}"
            dst = wavs / "synthetic" / f"{name}.wav"
            synth.append((tool, voice, text, dst))
            rows.append([split_of("synthetic", f"{tool}/{voice}"), "synthetic", tool, voice, SYNTH_LICENCE, dst])
    for voice, (pkg, _) in FESTIVAL_VOICES.items():
        shutil.copyfile(f"/usr/share/doc/{pkg}/copyright", lic / f"{pkg}.copyright")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(lambda j: synthesise(*j), synth))

    lines = ["split\tlanguage\tpackage\tversion\tlicence\tseconds\tpath"]
    totals = {}
    for split, lang, pkg, version, licence, dst in rows:
        with wave.open(str(dst)) as w:
            seconds = w.getnframes() / w.getframerate()
        totals[split] = totals.get(split, 0.0) + seconds
        lines.append(f"{split}\t{lang}\t{pkg}\t{version}\t{licence}\t{seconds:.3f}\t{dst.relative_to(cache)}")
    (cache / "manifest.tsv").write_text("\n".join(lines) + "\n")
    summary = ", ".join(f"{k} {v / 60:.1f} min" for k, v in sorted(totals.items()))
    print(f"prepare_data: {len(rows)} files in {cache} ({summary}); manifest: {cache / 'manifest.tsv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
