"""scripts/prepare_data.py's split: by speaker wherever a source has several, fixed by name, and nothing of
the unseen split's languages from ktuberling. The data itself (Debian packages, minutes to fetch) is not
needed: these are the rules every manifest line is made by."""
import unittest

import common  # noqa: F401  (puts scripts/ on the path)
import prepare_data as p


class AsteriskPrompts(unittest.TestCase):
    def test_unseen_languages_are_never_trained_on(self):
        for lang in ("it", "ru"):
            self.assertEqual(p.split_of("asterisk", lang, "agent-pass"), "unseen")

    def test_the_bundled_example_is_always_held_out(self):
        self.assertEqual(p.split_of("asterisk", "en", "tt-allbusy"), "test")

    def test_prompts_split_by_a_fixed_hash_of_the_name(self):
        # Golden values from the manifest the shipped vocoder's data was listed from (2026-12-04).
        self.assertEqual(p.split_of("asterisk", "en", "agent-alreadyon"), "test")
        self.assertEqual(p.split_of("asterisk", "en", "agent-incorrect"), "test")
        self.assertEqual(p.split_of("asterisk", "es", "agent-incorrect"), "train")  # the hash takes the language
        self.assertEqual(p.split_of("asterisk", "en", "agent-pass"), "train")
        names = [f"prompt-{i}" for i in range(2000)]
        share = sum(p.split_of("asterisk", "fr", n) == "test" for n in names) / len(names)
        self.assertAlmostEqual(share, 0.1, delta=0.02)


class SplitBySpeaker(unittest.TestCase):
    def test_ktuberling_speakers_are_held_out_whole(self):
        for speaker in ("el", "gl"):
            self.assertEqual(p.split_of("ktuberling", speaker), "test")
        for speaker in ("ca", "de", "lt", "sl", "wa", "da", "uk", "fr", "nn"):
            self.assertEqual(p.split_of("ktuberling", speaker), "train")

    def test_serbian_variants_are_one_speaker(self):
        splits = {p.split_of("ktuberling", v) for v in ("sr", "sr@latin", "sr@ijekavian", "sr@ijekavianlatin")}
        self.assertEqual(splits, {"train"})

    def test_no_italian_or_russian_ktuberling_words_at_all(self):
        for lang in ("it", "ru", "ru@x"):
            self.assertIsNone(p.split_of("ktuberling", lang))

    def test_synthetic_voices_are_held_out_whole(self):
        held = {f"{t}/{v}" for t, v in p.SYNTH_VOICES if p.split_of("synthetic", f"{t}/{v}") == "test"}
        self.assertEqual(held, {"festival/ked_diphone", "flite/rms"})
        # The Festival voices added for male pitch range are trained on.
        for voice in ("czech_machac", "pc_diphone", "msu_ru_nsh_clunits", "kal_diphone"):
            self.assertEqual(p.split_of("synthetic", f"festival/{voice}"), "train")

    def test_music_is_split_by_artist(self):
        self.assertEqual(p.split_of("music", "manolo_camp"), "music")
        for artist in ("macroform", "reno_project"):
            self.assertEqual(p.split_of("music", artist), "train")

    def test_an_unknown_source_is_refused(self):
        with self.assertRaisesRegex(ValueError, "unknown source 'podcasts'"):
            p.split_of("podcasts", "x")


class Sources(unittest.TestCase):
    def test_every_festival_voice_is_synthesised_and_its_package_named(self):
        festival = [v for t, v in p.SYNTH_VOICES if t == "festival"]
        self.assertEqual(sorted(festival), sorted(p.FESTIVAL_VOICES))
        for pkg, folder in p.FESTIVAL_VOICES.values():
            self.assertTrue(pkg.startswith("festvox-"), pkg)
            self.assertIn(folder, ("english", "czech", "italian", "russian"))


if __name__ == "__main__":
    unittest.main()
