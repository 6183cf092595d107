"""Digest benchmark: statistics and files for one big server, then for many servers.

Synthetic `DigestRows` are generated in memory (not timed): answers with questions and long answer texts,
ratings on 3- and 5-point scales from members of varied activity (a few very active), reason tags,
comments in English, Indonesian and Vietnamese built from theme vocabularies (with the odd @everyone,
mention token, emoji and comment of the maximum 4,000 characters), scope changes mid-period, and a
previous period of similar size, so that comparisons, the version comparison and "new themes" all run.

Phase 1, one server: 100,000 ratings and 20,000 comments in the period. Times `compute_digest` and
`write_digest_files` (given the computed digest: chart, Markdown, HTML, digest.json, CSV and JSONL exports)
separately; target: both together <= 2 s.
Phase 2, all servers: 200 servers, 1,000,000 ratings in total (5,000 each, 1,000 comments each), one after
another as the scheduler runs them; target <= 10 s for the statistics of all servers; the files are timed
and reported too.
Memory: peak RSS of the process over both phases (resource.getrusage; includes the generated rows, numpy
and matplotlib) and, in a last untimed run, tracemalloc's peak for one big server's compute + files;
target <= 300 MB.

Prints one JSON object on stdout; progress goes to stderr. Exit status 0 when every target is met.

    .venv/bin/python -m bench.digest            # full run, about a minute
    .venv/bin/python -m bench.digest --quick    # smoke run, a few seconds
"""

from __future__ import annotations

import os

# The bootstrap's matrix products are too small for BLAS threads to pay off; on a busy 2-core machine the
# threads' spinning makes them several times slower. Set before numpy loads; an explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bot.digests.report import render_chart, render_html, render_markdown, write_digest_files, write_exports
from bot.digests.rows import AnswerRow, AuditRow, CommentRow, DigestRows, RatingRow, ReasonRow
from bot.digests.stats import compute_digest
from bot.feedback.comments import MAX_COMMENT_CHARS

SEED = 20261123
PERIOD = timedelta(days=7)
TARGET_ONE_SERVER_S = 2.0
TARGET_ALL_SERVERS_S = 10.0
TARGET_PEAK_MB = 300.0


def progress(message: str) -> None:
    print(f"[digest bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- synthetic rows


def words(text: str) -> list[str]:
    return text.split()


THEMES: dict[str, list[list[str]]] = {
    "en": [
        words("too formal stiff register boss colleague polite tone greeting address title"),
        words("honorific title elder respect address aunt uncle older family hierarchy"),
        words("food dish spicy sambal rice meal eat restaurant sharing dinner"),
        words("religion prayer mosque church fasting ramadan holiday ritual respect"),
        words("generic stereotype vague textbook missing nuance variation region city village"),
        words("wedding gift envelope money amount guests invitation ceremony family"),
        words("funeral condolence visit mourning flowers family days ceremony quiet"),
    ],
    "id": [
        words("terlalu formal kaku bahasa atasan rekan sopan sapaan panggilan kantor"),
        words("bapak ibu kakak adik hormat sapaan orang tua senior panggilan keluarga"),
        words("makanan pedas sambal nasi makan warung bersama rasa enak"),
        words("agama doa masjid gereja puasa lebaran hari raya ibadah adat"),
        words("umum stereotip klise kurang nuansa daerah kota desa berbeda jawa"),
        words("pernikahan hadiah amplop uang tamu undangan resepsi keluarga adat"),
        words("duka takziah melayat bunga keluarga tahlilan hari doa tenang"),
    ],
    "vi": [
        words("quá trang trọng cứng nhắc sếp đồng nghiệp lịch sự xưng hô chào hỏi"),
        words("anh chị em cô chú bác kính trọng người lớn tuổi gia đình thứ bậc"),
        words("món ăn cay nước mắm cơm bữa quán ăn chung ngon"),
        words("tôn giáo cầu nguyện chùa nhà thờ tết lễ cúng giỗ tổ tiên"),
        words("chung chung khuôn mẫu thiếu sắc thái vùng miền bắc nam thành phố"),
        words("đám cưới quà phong bì tiền khách thiệp tiệc gia đình họ hàng"),
        words("đám tang chia buồn viếng hoa gia đình ngày cúng yên lặng"),
    ],
}
FILLER = {
    "en": words("the answer was but it really not sure i think this is what we say here actually"),
    "id": words("jawabannya tapi sebenarnya kalau kami di sini biasanya agak menurut saya memang"),
    "vi": words("câu trả lời nhưng thật ra ở đây chúng tôi thường hơi theo tôi thì đúng là"),
}
EXTRAS = ["🙏", "😅", "@everyone", "<@123456789012345678>", "<@&987654321098765432>", "!!", "?", "(hmm)"]
TAGS = (
    "too generic",
    "stereotyped",
    "wrong register or formality",
    "factually wrong",
    "misses variation",
    "out of scope",
    "good nuance",
    "useful",
)
SETTINGS = ("workplace", "family", "wedding", "funeral", "religious", "food", None)


@dataclass(frozen=True)
class Size:
    ratings: int
    comments: int


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_texts(rng: np.random.Generator, count: int, words: int) -> list[str]:
    pool = [word for theme in THEMES["en"] for word in theme] + FILLER["en"]
    return [" ".join(rng.choice(pool, size=words)) + "." for _ in range(count)]


def synthetic_rows(guild_id: int, start: datetime, size: Size, rng: np.random.Generator, id_base: int) -> DigestRows:
    """One server's period; deterministic for the generator's state. Answer and comment ids start at id_base."""
    n_answers = max(10, size.ratings // 4)
    n_raters = max(10, size.ratings // 20)
    questions = make_texts(rng, 300, 18)
    answer_texts = make_texts(rng, 300, 160)  # ~1,000 characters each, shared to keep memory realistic
    seconds = PERIOD.total_seconds()
    answer_times = np.sort(rng.uniform(0, seconds, n_answers))
    version_change = rng.uniform(0.3, 0.7) * seconds
    languages = rng.choice(np.array(["en", "id", "vi", "unknown"]), size=n_answers, p=[0.4, 0.35, 0.2, 0.05])
    channels = rng.integers(0, 6, size=n_answers)
    settings = rng.integers(0, len(SETTINGS), size=n_answers)
    outcomes = rng.choice(
        np.array(["ok", "incomplete", "failed", "refused"]), size=n_answers, p=[0.93, 0.03, 0.02, 0.02]
    )
    answers = []
    stamps = [iso(start + timedelta(seconds=float(t))) for t in answer_times]
    for i in range(n_answers):
        language = str(languages[i])
        answers.append(
            AnswerRow(
                answer_id=id_base + i,
                channel_id=1_000 + int(channels[i]),
                created_at=stamps[i],
                asker_hash=f"{int(rng.integers(n_raters)):032x}",
                question=questions[i % len(questions)],
                answer=answer_texts[i % len(answer_texts)],
                outcome=str(outcomes[i]),
                scope_version=3 if answer_times[i] < version_change else 4,
                language=None if language == "unknown" else language,
                setting=SETTINGS[int(settings[i])],
                tokens_in=900,
                tokens_out=400,
                ttft_ms=700,
                total_ms=5200,
            )
        )
    # Ratings: answers get a skewed number of raters; raters have skewed activity (a few very active).
    # Ratings per answer: skewed (a few answers draw many raters), capped by the number of raters; the
    # excess of capped answers goes to the others, so the period has exactly size.ratings ratings.
    weights = rng.pareto(2.0, n_answers) + 0.2
    per_answer = rng.multinomial(size.ratings, weights / weights.sum())
    cap = n_raters // 2
    excess = int(np.maximum(per_answer - cap, 0).sum())
    per_answer = np.minimum(per_answer, cap)
    while excess:
        room = np.flatnonzero(per_answer < cap)
        extra = rng.choice(room, size=min(excess, room.size), replace=False)
        per_answer[extra] += 1
        excess -= extra.size
    activity = rng.pareto(1.2, n_raters) + 0.1
    activity /= activity.sum()
    quality = rng.beta(4, 2, n_answers) - 0.1 * (languages == "vi")
    raters = [f"{i:032x}" for i in range(n_raters)]
    ratings: list[RatingRow] = []
    reasons: list[ReasonRow] = []
    rated_pairs: list[tuple[int, int, int]] = []
    for i, answer in enumerate(answers):
        k = int(per_answer[i])
        if k == 0:
            continue
        who = rng.choice(n_raters, size=k, replace=False, p=activity)
        five = answer_times[i] > seconds * 0.8  # the server switched to the 5-point scale late in the week
        scale = 5 if five else 3
        noise = rng.normal(0, 0.25, k)
        values = np.clip(np.rint(1 + (scale - 1) * np.clip(quality[i] + noise, 0, 1)), 1, scale).astype(int)
        for rater, value in zip(who.tolist(), values.tolist(), strict=True):
            stamp = answer.created_at
            ratings.append(RatingRow(answer.answer_id, raters[rater], value, scale, rater == 0, "button", stamp, stamp))
            rated_pairs.append((i, rater, value))
            if rng.random() < 0.3:
                for tag in rng.choice(len(TAGS), size=int(rng.integers(1, 3)), replace=False).tolist():
                    reasons.append(ReasonRow(answer.answer_id, raters[rater], TAGS[tag]))
    comments: list[CommentRow] = []
    chosen = rng.choice(len(rated_pairs), size=min(size.comments, len(rated_pairs)), replace=False)
    for n, index in enumerate(sorted(chosen.tolist())):
        i, rater, value = rated_pairs[index]
        language = answers[i].language or "en"
        theme = THEMES[language][int(rng.integers(len(THEMES[language])))]
        words = list(rng.choice(theme, size=int(rng.integers(4, 14)))) + list(
            rng.choice(FILLER[language], size=int(rng.integers(2, 10)))
        )
        rng.shuffle(words)
        if rng.random() < 0.05:
            words.append(str(rng.choice(EXTRAS)))
        text = " ".join(words)
        if rng.random() < 0.01:
            text = ((text + " ") * (MAX_COMMENT_CHARS // (len(text) + 1))).strip()  # as long as a comment can be
        comments.append(
            CommentRow(
                id_base + n, answers[i].answer_id, raters[rater], text, bool(rng.random() < 0.3), answers[i].created_at
            )
        )
    audit = [AuditRow("scope.edit", "v4: clarified greetings section", iso(start + timedelta(seconds=version_change)))]
    audit += [
        AuditRow("settings.update", f"answer channels changed ({k})", iso(start + timedelta(days=k))) for k in range(3)
    ]
    return DigestRows(
        guild_id,
        f"Server {guild_id}",
        iso(start),
        iso(start + PERIOD),
        answers,
        ratings,
        reasons,
        comments,
        audit,
        declined=int(rng.integers(0, 20)),
        withdrew=int(rng.integers(0, 5)),
    )


def server_periods(guild_id: int, size: Size, seed: int) -> tuple[DigestRows, DigestRows]:
    rng = np.random.default_rng([seed, guild_id])
    start = datetime(2026, 11, 16, tzinfo=UTC)
    smaller = Size(int(size.ratings * 0.9), int(size.comments * 0.9))
    previous = synthetic_rows(guild_id, start - PERIOD, smaller, rng, guild_id * 10_000_000)
    current = synthetic_rows(guild_id, start, size, rng, guild_id * 10_000_000 + 5_000_000)
    return current, previous


# ---------------------------------------------------------------------------------------------- phases


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def one_server(size: Size, bootstrap: int, workdir: Path, seed: int) -> dict[str, Any]:
    progress(f"one server: generating {size.ratings:,} ratings, {size.comments:,} comments (+ previous period)")
    current, previous = server_periods(1, size, seed)
    progress("one server: warm-up (imports, regex compilation)")
    write_digest_files(current, previous, workdir / "warmup", bootstrap=bootstrap)
    shutil.rmtree(workdir / "warmup")
    progress("one server: timed run")
    started = time.perf_counter()
    digest = compute_digest(current, previous, bootstrap=bootstrap)
    computed = time.perf_counter()
    files = write_digest_files(current, previous, workdir / "one", digest=digest, bootstrap=bootstrap)
    finished = time.perf_counter()
    paths = [files.markdown, files.html, files.chart, files.json, *files.exports]
    sizes = {path.name: path.stat().st_size for path in paths}
    shutil.rmtree(workdir / "one")
    # Where the files' time goes (an extra, separately timed run of each part).
    parts = workdir / "parts"
    parts.mkdir()
    began = time.perf_counter()
    chart = render_chart(current, [previous], digest, parts / "chart.png")
    charted = time.perf_counter()
    (parts / "report.md").write_text(render_markdown(digest), encoding="utf-8")
    (parts / "report.html").write_text(render_html(digest, chart=chart), encoding="utf-8")
    reported = time.perf_counter()
    write_exports(current, parts)
    exported = time.perf_counter()
    shutil.rmtree(parts)
    d = digest.current.denominators
    return {
        "answers": d.answers,
        "ratings": d.ratings,
        "comments": d.comments,
        "raters": d.unique_raters,
        "previous_ratings": len(previous.ratings),
        "compute_digest_s": round(computed - started, 3),
        "write_files_s": round(finished - computed, 3),
        "total_s": round(finished - started, 3),
        "files_breakdown_s": {
            "chart": round(charted - began, 3),
            "markdown_and_html": round(reported - charted, 3),
            "csv_and_jsonl_exports": round(exported - reported, 3),
        },
        "target_s": TARGET_ONE_SERVER_S,
        "met": finished - started <= TARGET_ONE_SERVER_S,
        "themes": [theme.label for theme in digest.themes.themes],
        "new_themes": sum(1 for theme in digest.themes.themes if theme.is_new),
        "alpha": None if digest.disagreement.alpha is None else round(digest.disagreement.alpha, 3),
        "file_megabytes": round(sum(sizes.values()) / 1e6, 1),
        "file_bytes": sizes,
    }


def traced_peak_mb(size: Size, bootstrap: int, workdir: Path, seed: int) -> float:
    """tracemalloc's peak over one big server's compute + files (untimed: tracing slows Python down)."""
    current, previous = server_periods(1, size, seed)
    tracemalloc.start()
    write_digest_files(current, previous, workdir / "traced", bootstrap=bootstrap)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    shutil.rmtree(workdir / "traced")
    return peak / 1e6


def all_servers(
    servers: int, total_ratings: int, bootstrap: int, workdir: Path, seed: int, deadline_s: float
) -> dict[str, Any]:
    size = Size(total_ratings // servers, total_ratings // servers // 5)
    compute_times: list[float] = []
    file_times: list[float] = []
    ratings = 0
    began = time.monotonic()
    for guild_id in range(1, servers + 1):
        if time.monotonic() - began > deadline_s:
            progress(f"all servers: deadline of {deadline_s:.0f} s reached after {guild_id - 1} servers")
            break
        current, previous = server_periods(1000 + guild_id, size, seed)
        started = time.perf_counter()
        digest = compute_digest(current, previous, bootstrap=bootstrap)
        computed = time.perf_counter()
        directory = workdir / f"server-{guild_id}"
        write_digest_files(current, previous, directory, digest=digest, bootstrap=bootstrap)
        finished = time.perf_counter()
        shutil.rmtree(directory)
        compute_times.append(computed - started)
        file_times.append(finished - computed)
        ratings += len(current.ratings)
        if guild_id % 25 == 0:
            progress(
                f"all servers: {guild_id}/{servers}, statistics {sum(compute_times):.2f} s, "
                f"files {sum(file_times):.2f} s"
            )
    done = len(compute_times)
    return {
        "servers": done,
        "servers_planned": servers,
        "ratings": ratings,
        "compute_digest_s": round(sum(compute_times), 3),
        "write_files_s": round(sum(file_times), 3),
        "total_s": round(sum(compute_times) + sum(file_times), 3),
        "compute_per_server_ms": {
            "median": round(statistics.median(compute_times) * 1000, 1) if done else None,
            "max": round(max(compute_times) * 1000, 1) if done else None,
        },
        "files_per_server_ms": {
            "median": round(statistics.median(file_times) * 1000, 1) if done else None,
            "max": round(max(file_times) * 1000, 1) if done else None,
        },
        "target_s": TARGET_ALL_SERVERS_S,
        "met": done == servers and sum(compute_times) <= TARGET_ALL_SERVERS_S,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of a few seconds")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--deadline", type=float, default=300.0, help="stop phase 2 after this many seconds")
    args = parser.parse_args(argv)
    one = Size(10_000, 2_000) if args.quick else Size(100_000, 20_000)
    servers, total = (20, 100_000) if args.quick else (200, 1_000_000)
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as temporary:
        workdir = Path(temporary)
        single = one_server(one, args.bootstrap, workdir, args.seed)
        progress(f"one server: statistics {single['compute_digest_s']} s, files {single['write_files_s']} s")
        many = all_servers(servers, total, args.bootstrap, workdir, args.seed, args.deadline)
        # Peak RSS of everything timed above (generated rows and matplotlib included), before tracemalloc
        # adds its own bookkeeping.
        peak = peak_rss_mb()
        progress("memory: tracemalloc run of the big server (untimed)")
        traced = traced_peak_mb(one, args.bootstrap, workdir, args.seed)
    result = {
        "bench": "digest",
        "quick": args.quick,
        "bootstrap": args.bootstrap,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
        "one_server": single,
        "all_servers": many,
        "memory": {
            "peak_rss_mb": round(peak, 1),
            "tracemalloc_peak_mb": round(traced, 1),
            "target_mb": TARGET_PEAK_MB,
            "met": peak <= TARGET_PEAK_MB,
        },
    }
    result["met"] = bool(single["met"] and many["met"] and result["memory"]["met"])
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
