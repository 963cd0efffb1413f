"""Curation and dataset statistics at the paper's scale: 400,000 synthetic examples.

    python bench/scale.py --out bench/results/scale.json [--examples 400000] [--contextual 100000]

1. ``generate``: writes the input of the curate stage, the records the labels
   and contexts stages make (the released Emo Pillars fields plus the
   pipeline's ``story_id``), into a temporary folder: 300,000 context-less
   examples over 2,000 plots and 8,000 characters, and 100,000 contextual
   ones (a third of those lines with a context).
   Utterances (10-30 words) are put together from templates with a seeded
   RNG; as with a real generator some lines come back again, word for word
   or with a word changed, and a few are junk the sanity filters catch.
2. ``curate``: ``stages/curate.py`` on them (filters, exact and near
   duplicates, story-level splits, export to JSONL, a Hugging Face
   ``datasets`` folder and Parquet).
3. ``dataset_stats``: ``stages/dataset_stats.py`` on the curated datasets
   (label distribution, labels per example, diversity per class beside
   GoEmotions with the packaged all-MiniLM-L6-v2 on 200 texts per class).

Each part runs as its own process; wall time and peak RSS (``ru_maxrss`` of
that process) are recorded. Target: under 5 minutes and under 12 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from emopillars.taxonomy import EMOTIONS  # noqa: E402

TARGET_SECONDS = 300
TARGET_RSS_GB = 12.0

# free-form words a labeller might answer with, per class (the mapped class is the key)
FREE_WORDS = {e: [e, f"deep {e}", f"a touch of {e}"] for e in EMOTIONS}
FREE_WORDS.update({"fear": ["fear", "dread", "terror", "unease"], "joy": ["joy", "delight", "happiness", "glee"],
                   "anger": ["anger", "rage", "fury", "indignation"], "sadness": ["sadness", "sorrow", "melancholy"],
                   "love": ["love", "affection", "tenderness"], "gratitude": ["gratitude", "thankfulness"]})
UNMAPPED = ["determination", "resolve", "nostalgia", "wistfulness", "defiance", "hope against hope"]

# Utterances are put together from phrase templates whose slots take words from these lists, so that two lines
# rarely share more than a few words unless one is a copy of the other.
OPENERS = ["I can't believe", "Honestly,", "Listen to me,", "Oh,", "Look,", "I swear", "Well,", "You know,",
           "For once,", "Please,", "I never thought", "Every night", "At last", "No one told me", "I keep thinking",
           "Goodness,", "All these years", "Tonight", "Mark my words,", "Between us,"]
DETS = ["the", "my", "our", "your", "that", "this", "his", "her"]
ADJS = ["old", "broken", "little", "golden", "silent", "borrowed", "frozen", "stolen", "new", "hidden", "crooked",
        "painted", "forgotten", "burning", "empty", "wild", "gentle", "cursed", "tiny", "ancient", "muddy", "bright",
        "lonely", "rusty", "heavy", "secret", "wooden", "familiar", "strange", "precious"]
NOUNS = ["mill", "lantern", "letter", "boat", "garden", "ring", "bridge", "harvest", "promise", "river", "wagon",
         "song", "map", "orchard", "bell", "horse", "kitchen", "tower", "market", "fiddle", "cottage", "key", "coat",
         "well", "ferry", "chapel", "storm", "loaf", "violin", "ledger", "forest", "candle", "shop", "road", "clock",
         "quilt", "goat", "mirror", "anchor", "school"]
PEOPLE = ["brother", "sister", "mother", "father", "captain", "neighbour", "teacher", "king", "baker", "friend",
          "grandmother", "uncle", "cousin", "doctor", "shepherd", "miller", "priest", "widow", "soldier", "stranger"]
VERBS = ["took", "ruined", "saved", "found", "burned", "mended", "sold", "buried", "painted", "carried", "lost",
         "hid", "broke", "returned", "followed", "stole", "guarded", "forgot", "blessed", "flooded"]
FEELINGS = ["so proud", "terrified", "furious", "heartbroken", "grateful", "ashamed", "relieved", "confused",
            "thrilled", "sick to my stomach", "embarrassed", "nervous", "overjoyed", "hopeful", "disgusted",
            "curious", "lonely", "amazed", "sorry", "calm"]
PLACES = ["by the frozen river", "in the burnt orchard", "at the edge of the market", "on the night ferry",
          "in the empty chapel", "under the old bridge", "at the top of the tower", "in the crowded kitchen",
          "behind the bakery", "on the mountain road", "near the harbour", "in the schoolyard"]
TIMES = ["last winter", "this morning", "before the wedding", "after the storm", "every single day", "at midnight",
         "since the war", "when I was small", "before dawn", "all summer"]
ENDINGS = ["and I cannot stop smiling.", "and it breaks my heart.", "and I will never forgive it.",
           "so how could I rest?", "and nobody even noticed.", "and I need to know why.", "and that scares me.",
           "which I did not expect at all.", "and I miss it terribly.", "so let us go now."]
TEMPLATES = [
    "{opener} {det} {adj} {noun} {verb} {det2} {adj2} {noun2} {place} {ending}",
    "I am {feeling} that {det} {person} {verb} {det2} {adj} {noun} {time}.",
    "{opener} {det} {person} {verb} {det2} {adj} {noun} {place}, and I feel {feeling}.",
    "Why did {det} {adj} {person} leave {det2} {noun} {place} {time}? I am {feeling}.",
    "{det_cap} {adj} {noun} was all I had {time}, and now {det2} {person} {verb} it {ending}",
    "I {verb} {det} {adj} {noun} {time} {place}, and I am {feeling} about it.",
]
SECOND = ["We should leave before dawn.", "I will tell them myself.", "Nothing will ever be the same.",
          "Thank you for staying.", "Please do not laugh at me.", "I knew this day would come.",
          "Let me carry it for you.", "How could you do this?", "It is more than I deserve.",
          "Stay close to me tonight.", "I am not afraid anymore.", "What were we thinking?"]
JUNK = ["As an AI language model I cannot say that.", "Here is the utterance in JSON format.",
        "!!! ??? ... ###", "no no no no no no", "Okay."]
NAMES = ["Anselm", "Liese", "Marta", "Teodor", "Nadia", "Ilse", "Bruno", "Ravi", "Orla", "Dolores", "Luis", "Emi",
         "Kwame", "Gwen", "Abigail", "Freya", "Pavel", "Tomasz", "Jonah", "Mira", "Oskar", "Yuki", "Hamid", "Sina"]
ROLES = ["the miller", "the queen", "the ferryman", "the old nurse", "the blacksmith", "the captain", "the baker",
         "the shepherd", "the young prince", "the schoolteacher", "the postwoman", "the fisherman's daughter"]
EVENTS = ["after the storm took the roof", "when the letter finally arrived", "as the soldiers rode in",
          "the morning after the wedding", "while the town slept", "when the debt was called in",
          "on the first day of the harvest", "after years of silence"]


def _hex(rng: random.Random) -> str:
    return "%064x" % rng.getrandbits(256)


def utterance(rng: random.Random) -> str:
    det = rng.choice(DETS)
    text = rng.choice(TEMPLATES).format(
        opener=rng.choice(OPENERS), det=det, det_cap=det.capitalize(), det2=rng.choice(DETS), adj=rng.choice(ADJS),
        adj2=rng.choice(ADJS), noun=rng.choice(NOUNS), noun2=rng.choice(NOUNS), person=rng.choice(PEOPLE),
        verb=rng.choice(VERBS), feeling=rng.choice(FEELINGS), place=rng.choice(PLACES), time=rng.choice(TIMES),
        ending=rng.choice(ENDINGS))
    if rng.random() < 0.35:
        text += " " + rng.choice(SECOND)
    return text


def near_copy(text: str, rng: random.Random) -> str:
    """The same line with one word changed, dropped or its case and end changed."""
    w = text.split()
    kind = rng.randrange(3) if len(w) > 2 else 2
    if kind == 0:
        w[rng.randrange(len(w))] = rng.choice(["really", "truly", "just", "still", "ever"])
    elif kind == 1:
        del w[rng.randrange(1, len(w))]
    else:
        return text.rstrip(".!?") + "!"
    return " ".join(w)


def scores(rng: random.Random) -> tuple[dict, dict, list[str], dict]:
    classes = rng.sample(EMOTIONS, rng.choice((1, 2, 2, 3)))
    free, mapped = {}, {}
    for i, e in enumerate(classes):
        s = round(rng.uniform(0.55, 0.95) if i == 0 else rng.uniform(0.1, 0.7), 2)
        word = rng.choice(FREE_WORDS[e])
        free[word] = s
        mapped[e] = max(mapped.get(e, 0.0), s)
    unmapped = {}
    if rng.random() < 0.15:
        word = rng.choice(UNMAPPED)
        unmapped[word] = free[word] = round(rng.uniform(0.2, 0.6), 2)
    ranked = dict(sorted(mapped.items(), key=lambda kv: (-kv[1], EMOTIONS.index(kv[0]))))
    labels = [e for e, s in ranked.items() if s >= 0.3] or [next(iter(ranked))]
    return free, ranked, labels, unmapped


def generate(folder: Path, examples: int, contextual: int, plots: int, seed: int) -> dict:
    """Write labels.jsonl and contexts.jsonl (the curate stage's inputs) into ``folder``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    characters = []
    for p in range(plots):
        story = f"wikiplots-{p:06d}"
        for c in range(4):
            name = rng.choice(NAMES) if rng.random() < 0.7 else rng.choice(ROLES)
            characters.append({"story_id": story, "plot_id": f"{story}__p000", "character_id": f"{story}__p000__c{c}",
                               "character": name, "character_description":
                               f"{name}, the {rng.choice(PEOPLE)} who keeps the {rng.choice(ADJS)} {rng.choice(NOUNS)} "
                               f"{rng.choice(PLACES)}"})
    counts = {"exact_copies": 0, "near_copies": 0, "junk": 0}

    def record(i: int, recent: list[str]) -> dict:
        ch = characters[i % len(characters)]
        roll = rng.random()
        if recent and roll < 0.04:
            text = rng.choice(recent)
            counts["exact_copies"] += 1
        elif recent and roll < 0.10:
            text = near_copy(rng.choice(recent), rng)
            counts["near_copies"] += 1
        elif roll < 0.105:
            text = rng.choice(JUNK)
            counts["junk"] += 1
        else:
            text = utterance(rng)
        recent.append(text)
        del recent[:-50]
        free, mapped, labels, unmapped = scores(rng)
        seeds = rng.sample(EMOTIONS, 2)
        explication = (f"The speaker sounds {labels[0]} because the {rng.choice(NOUNS)} was "
                       f"{rng.choice(VERBS)} {rng.choice(TIMES)}.")
        return {
            "id": f"{ch['character_id']}__r{i // len(characters)}", "plot_id": ch["plot_id"],
            "story_id": ch["story_id"], "character": ch["character"],
            "character_description": ch["character_description"], "utterance": text, "labels": labels,
            "primary_emotion": labels[0], "all_emotions": free, "all_emotions_mapped": mapped,
            "raw_emotion_explication": explication, "expressiveness": rng.choice(("explicit", "implicit", "subtle")),
            "emotions_used_to_generate_context": seeds, "unmapped_emotions": unmapped,
            "prompt_hashes": {"characters": _hex(rng), "utterances": _hex(rng), "labels": _hex(rng)},
            "raw_answers": {
                "characters": json.dumps({"characters": [{"name": ch["character"],
                                                          "description": ch["character_description"]}]}),
                "utterances": json.dumps({"utterances": [text, utterance(rng)]}),
                "labels": json.dumps({"emotions": [{"emotion": w, "intensity": s} for w, s in free.items()],
                                      "explanation": explication}),
            },
        }

    recent: list[str] = []
    contextless = examples - contextual
    # as in the pipeline, a context is written for a share of the labelled lines: the contextual examples are
    # those lines (same id, utterance and labels) with a context
    with_context = set(rng.sample(range(contextless), contextual))
    chosen = []
    with open(folder / "labels.jsonl", "w", encoding="utf-8") as f:
        for i in range(contextless):
            row = record(i, recent)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            if i in with_context:
                chosen.append(row)
    with open(folder / "contexts.jsonl", "w", encoding="utf-8") as f:
        for row in chosen:
            row["context"] = (f"{rng.choice(EVENTS).capitalize()}, {row['character']} stood {rng.choice(PLACES)} "
                              f"thinking about the {rng.choice(ADJS)} {rng.choice(NOUNS)} that someone "
                              f"{rng.choice(VERBS)} {rng.choice(TIMES)}. {rng.choice(SECOND)}")
            row["prompt_hashes"]["contexts"] = _hex(rng)
            row["raw_answers"]["contexts"] = json.dumps({"context": row["context"]})
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {"contextless": contextless, "contextual": contextual, "plots": plots, "characters": len(characters),
            "planted": counts,
            "bytes": {p.name: p.stat().st_size for p in sorted(folder.glob("*.jsonl"))}}


def run_part(name: str, cmd: list[str], env: dict) -> dict:
    """Run one part as its own process; wall time, peak RSS of that process, and its output's last lines."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"bench scale: part {name} failed (exit {proc.returncode}):\n{out[-3000:]}")
    # cpu_seconds well under seconds: the process waited for a core (other work on the machine, see load_average)
    return {"seconds": round(seconds, 1), "peak_rss_gb": round(usage.ru_maxrss / 2**20, 2),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1), "load_average_1min": round(os.getloadavg()[0], 2),
            "output": out.strip().splitlines()[-1:]}


def default_goemotions() -> Path:
    mirror = os.environ.get("EMOPILLARS_DATA_MIRROR")
    for folder in ([Path(mirror) / "goemotions"] if mirror else []) + [ROOT / "data" / "raw" / "goemotions",
                                                                       ROOT.parent / "shared" / "data" / "goemotions"]:
        if (folder / "train.tsv").is_file():
            return folder
    raise SystemExit("bench scale: GoEmotions not found (the statistics compare against it): run the data stage "
                     "(`dvc repro data`) or pass --goemotions FOLDER holding train.tsv")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench/results/scale.json")
    p.add_argument("--examples", type=int, default=400_000)
    p.add_argument("--contextual", type=int, default=100_000)
    p.add_argument("--plots", type=int, default=2_000)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--goemotions", type=Path, default=None, help="folder with GoEmotions' train.tsv")
    p.add_argument("--profile", default="paper", help="profile whose curate params are used")
    p.add_argument("--part", choices=["generate"], help=argparse.SUPPRESS)
    p.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.part == "generate":
        info = generate(args.workdir / "synth", args.examples, args.contextual, args.plots, args.seed)
        (args.workdir / "generate.json").write_text(json.dumps(info))
        print(f"generated {args.examples:,} examples")
        return 0

    goemotions = args.goemotions or default_goemotions()
    from emopillars.profiles import compose

    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="emopillars-scale-") as tmp:
        work = Path(tmp)
        params = compose(args.profile, work / "params.yaml", ROOT / "conf")
        py = sys.executable
        parts = {"generate": run_part("generate", [py, str(Path(__file__).resolve()), "--part", "generate",
                                                   "--workdir", str(work), "--examples", str(args.examples),
                                                   "--contextual", str(args.contextual), "--plots", str(args.plots),
                                                   "--seed", str(args.seed)], env)}
        generated = json.loads((work / "generate.json").read_text())
        parts["curate"] = run_part("curate", [py, "stages/curate.py", "--params", str(params),
                                              "--labels", str(work / "synth" / "labels.jsonl"),
                                              "--contexts", str(work / "synth" / "contexts.jsonl"),
                                              "--out-dir", str(work / "emopillars"),
                                              "--metrics", str(work / "curate.json")], env)
        # dataset_stats carries every step's record: curate's is this run's, the steps before it (not run
        # here) are the report fixtures' real smoke run.
        shutil.copytree(ROOT / "tests" / "fixtures" / "results" / "outputs" / "metrics" / "synth", work / "step-metrics")
        shutil.copy(work / "curate.json", work / "step-metrics" / "curate.json")
        parts["dataset_stats"] = run_part("dataset_stats", [py, "stages/dataset_stats.py", "--params", str(params),
                                                            "--datasets", str(work / "emopillars"),
                                                            "--step-metrics", str(work / "step-metrics"),
                                                            "--goemotions", str(goemotions),
                                                            "--embedder", str(work / "no-embedder"),
                                                            "--out", str(work / "dataset_stats.json")], env)
        curate = json.loads((work / "curate.json").read_text())
        stats = json.loads((work / "dataset_stats.json").read_text())
        exported = {name: sorted(str(q.relative_to(work / "emopillars" / name))
                                 for q in (work / "emopillars" / name).rglob("*") if q.is_file() and q.suffix in
                                 (".jsonl", ".parquet", ".arrow"))
                    for name in ("contextless", "contextual")}
        export_bytes = sum(q.stat().st_size for q in (work / "emopillars").rglob("*") if q.is_file())

    measured = ("curate", "dataset_stats")
    seconds = round(sum(parts[k]["seconds"] for k in measured), 1)
    cpu = round(sum(parts[k]["cpu_seconds"] for k in measured), 1)
    rss = max(parts[k]["peak_rss_gb"] for k in measured)
    result = {
        "examples": generated,
        "parts": parts,
        "curate_and_stats": {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_gb": rss,
                             "target_seconds": TARGET_SECONDS, "target_rss_gb": TARGET_RSS_GB,
                             "met": seconds < TARGET_SECONDS and rss < TARGET_RSS_GB},
        "all_parts_seconds": round(sum(v["seconds"] for v in parts.values()), 1),
        "curate": {name: curate[name] for name in ("contextless", "contextual")} | {"stories": curate["stories"]},
        "exported_files": exported,
        "exported_bytes": export_bytes,
        "stats": {name: {"examples": stats["datasets"][name]["examples"],
                         "classes_present": stats["datasets"][name]["classes_present"],
                         "diversity_macro": stats["datasets"][name]["diversity"]["ours"]["macro"]}
                  for name in ("contextless", "contextual")},
        "profile": args.profile,
        "machine": {"cpu_count": os.cpu_count(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                    "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"bench scale: {args.examples:,} examples; curate {parts['curate']['seconds']} s "
          f"({parts['curate']['peak_rss_gb']} GB), dataset_stats {parts['dataset_stats']['seconds']} s "
          f"({parts['dataset_stats']['peak_rss_gb']} GB): {seconds} s ({cpu} s of CPU), peak {rss} GB "
          f"({'within' if result['curate_and_stats']['met'] else 'over'} {TARGET_SECONDS} s / {TARGET_RSS_GB:g} GB); "
          f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
