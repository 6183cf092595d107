"""Digest benchmark: whole digests (rows read, statistics, files) for one big server, then for many servers.

Synthetic `DigestRows` are generated in memory (not timed): answers with questions and long answer texts,
ratings on 3- and 5-point scales from members of varied activity (a few very active), reason tags,
comments in English, Indonesian and Vietnamese built from theme vocabularies (with the odd @everyone,
mention token, emoji and comment of the maximum 4,000 characters), scope changes mid-period, and a
previous period of similar size, so that comparisons, the version comparison and "new themes" all run.
Where a phase goes through the bot's worker processes, the rows are first stored in a database with the
bot's schema (not timed), and the workers read them back as in production.

Phase 1, one server: 100,000 ratings and 20,000 comments in the period (90,000 and 18,000 in the previous
one). Times `compute_digest` and `write_digest_files` (given the computed digest: chart, Markdown, HTML,
digest.json, CSV and JSONL exports) in this process from rows in memory, as before; target: both together
<= 2 s. Then the same digest in a worker process (`bot.digests.workers`), which also reads both periods'
rows from SQLite; reported, with the worker's peak RSS.
Phase 2, all servers: 200 servers, 1,000,000 ratings in total (5,000 each and 1,000 comments; 4,500 and 900
in each previous period), all submitted at once to the bot's pool of digest workers (one per core, at most
two), as the scheduler does when every server's digest falls due together. Target: the wall time of the
whole digests of all servers (rows read by the workers, statistics, files) <= 10 s. The workers' own
timings give the sums and per-server medians of reading, statistics and files.
Memory: peak RSS of this process (it holds the generated rows of the big server and computes its digest
itself), of the worker that made the big server's digest and of the phase 2 workers (VmHWM, Linux), and
tracemalloc's peak for one big server's compute + files in a last, untimed run; target: <= 300 MB for every
process.

Prints one JSON object on stdout; progress goes to stderr. Exit status 0 when every target is met.

    .venv/bin/python -m bench.digest            # full run, about three minutes (mostly generating rows)
    .venv/bin/python -m bench.digest --quick    # smoke run, about 20 seconds
"""

from __future__ import annotations

import os

# The bootstrap's matrix products are too small for BLAS threads to pay off; on a busy 2-core machine the
# threads' spinning makes them several times slower. Set before numpy loads; an explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import asyncio
import json
import platform
import resource
import shutil
import sqlite3
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

from bench.common import run_benchmark
from bot.digests.report import (
    render_chart,
    render_html,
    render_json,
    render_markdown,
    write_digest_files,
    write_exports,
)
from bot.digests.rows import AnswerRow, AuditRow, CommentRow, DigestRows, RatingRow, ReasonRow
from bot.digests.stats import compute_digest
from bot.digests.workers import DigestJob, DigestWorkers
from bot.storage import SqliteStorage

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
    # Imported here: the digest workers import this module again as their __main__ (they are spawned), and
    # bot.feedback brings discord.py along, 18 MB in every worker that the bot's workers do not have.
    from bot.feedback.comments import MAX_COMMENT_CHARS

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
                tokens_estimated=False,
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


# ---------------------------------------------------------------------------------------------- database


def write_database(conn: sqlite3.Connection, rows: DigestRows) -> None:
    """One server's period into the bot's schema, as the bot would have stored it (one transaction)."""
    guild = rows.guild_id
    conn.execute("BEGIN")
    conn.execute("INSERT OR IGNORE INTO guilds (guild_id, name) VALUES (?, ?)", (guild, rows.guild_name))
    versions = dict(conn.execute("SELECT number, version_id FROM scope_versions WHERE guild_id = ?", (guild,)))
    for number in sorted({a.scope_version for a in rows.answers if a.scope_version is not None} - set(versions)):
        versions[number] = conn.execute(
            "INSERT INTO scope_versions (guild_id, number, scope_id, title, content, content_sha256, source, "
            "change_summary, author_id) VALUES (?, ?, 'bench', 'Bench scope', '', '', 'upload', '', 1)",
            (guild, number),
        ).lastrowid
    conn.executemany(
        "INSERT INTO answers (answer_id, guild_id, channel_id, asker_hash, question, answer, model, outcome, "
        "tokens_in, tokens_out, ttft_ms, total_ms, created_at, finished_at, scope_version_id, cues) "
        "VALUES (?, ?, ?, ?, ?, ?, 'bench-model', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                a.answer_id, guild, a.channel_id, a.asker_hash, a.question, a.answer, a.outcome, a.tokens_in,
                a.tokens_out, a.ttft_ms, a.total_ms, a.created_at, a.created_at, versions.get(a.scope_version),
                json.dumps({"source": "rules", "language": a.language, "setting": a.setting, "missing": []}),
            )
            for a in rows.answers
        ],
    )  # fmt: skip
    conn.executemany(
        "INSERT INTO ratings (answer_id, rater_hash, value, scale_size, is_asker, source, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (r.answer_id, r.rater_hash, r.value, r.scale_size, int(r.is_asker), r.source, r.created_at, r.updated_at)
            for r in rows.ratings
        ],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO rating_reasons VALUES (?, ?, ?)",
        [(r.answer_id, r.rater_hash, r.tag) for r in rows.reasons],
    )
    conn.executemany(
        "INSERT INTO comments (comment_id, answer_id, rater_hash, text, source, quotable, created_at) "
        "VALUES (?, ?, ?, ?, 'modal', ?, ?)",
        [(c.comment_id, c.answer_id, c.rater_hash, c.text, int(c.quotable), c.created_at) for c in rows.comments],
    )
    conn.executemany(
        "INSERT INTO audit_log (guild_id, actor_id, action, detail, created_at) VALUES (?, 1, ?, ?, ?)",
        [(guild, a.action, a.detail, a.created_at) for a in rows.audit],
    )
    # The members' consents, which the read joins to each answer's asker (whether its question may be shown):
    # quotes for those with a quotable comment, comments for the others. The earlier period's stay as written.
    # Each decision is also a consent event, as the bot records them (the digest counts who took part from those).
    quoting = {c.rater_hash for c in rows.comments if c.quotable}
    members = {a.asker_hash for a in rows.answers} | {r.rater_hash for r in rows.ratings}
    members -= {member for (member,) in conn.execute("SELECT member_hash FROM consents WHERE guild_id = ?", (guild,))}
    agreed = [(member, "quotes" if member in quoting else "comments", rows.start) for member in sorted(members)]
    conn.executemany(
        "INSERT INTO consents (guild_id, member_hash, level, consent_version, decided_at) VALUES (?, ?, ?, '2.1', ?)",
        [(guild, *decision) for decision in agreed],
    )
    # Consent decisions giving the period's declined and withdrew counts.
    before = iso(datetime.fromisoformat(rows.start.replace("Z", "+00:00")) - timedelta(days=30))
    events = [(f"declined-{rows.start}-{i}", "declined", rows.start) for i in range(rows.declined)]
    for i in range(rows.withdrew):
        member = f"withdrew-{rows.start}-{i}"
        events += [(member, "comments", before), (member, "ratings", rows.start)]
    conn.executemany(
        "INSERT INTO consent_events (guild_id, member_hash, level, consent_version, decided_at) "
        "VALUES (?, ?, ?, '2.1', ?)",
        [(guild, *event) for event in agreed + events],
    )
    conn.execute("COMMIT")


async def create_database(path: Path) -> sqlite3.Connection:
    """The bot's schema (WAL, every migration), and a connection for writing the synthetic rows quickly."""
    storage = await SqliteStorage.open(path)
    await storage.migrate()
    await storage.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # set-up only: the bot's own writes are not measured here
    return conn


def job_for(database: Path, current: DigestRows, previous: DigestRows, directory: Path, bootstrap: int) -> DigestJob:
    return DigestJob(
        database, current.guild_id, current.start, current.end, previous.start, directory, bootstrap=bootstrap
    )


# ---------------------------------------------------------------------------------------------- phases


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def children_peak_rss_mb() -> float:
    """The largest peak RSS of any child process that has ended (the workers, once their pool is closed)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale / 1e6


def process_peak_rss_mb(pid: int) -> float | None:
    """A running process's peak RSS (VmHWM; Linux only)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) * 1024 / 1e6 for line in status.splitlines() if line.startswith("VmHWM:")), None)


def milliseconds(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "max": None}
    return {"median": round(statistics.median(values) * 1000, 1), "max": round(max(values) * 1000, 1)}


async def one_server(size: Size, bootstrap: int, workdir: Path, seed: int) -> dict[str, Any]:
    progress(f"one server: generating {size.ratings:,} ratings, {size.comments:,} comments (+ previous period)")
    current, previous = server_periods(1, size, seed)
    progress("one server: warm-up (imports, regex compilation)")
    write_digest_files(current, previous, workdir / "warmup", bootstrap=bootstrap)
    shutil.rmtree(workdir / "warmup")
    progress("one server: timed run in this process (rows in memory)")
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
    (parts / "digest.json").write_text(render_json(digest), encoding="utf-8")
    dumped = time.perf_counter()
    write_exports(current, parts)
    exported = time.perf_counter()
    shutil.rmtree(parts)

    # The same digest as the bot makes it: in a worker process that reads the rows from the database.
    database = workdir / "one.sqlite3"
    conn = await create_database(database)
    write_database(conn, previous)
    write_database(conn, current)
    conn.close()
    progress("one server: in a worker process, reading the rows from SQLite")
    workers = DigestWorkers(1)
    [pid] = await workers.start()
    made = await workers.make(job_for(database, current, previous, workdir / "worker", bootstrap))
    worker_peak = process_peak_rss_mb(pid)
    await workers.close(30)
    shutil.rmtree(workdir / "worker")
    database.unlink()
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
            "digest_json": round(dumped - reported, 3),
            "csv_and_jsonl_exports": round(exported - dumped, 3),
        },
        "in_worker_s": {
            "read_rows": round(made.read_seconds, 3),
            "compute_digest": round(made.statistics_seconds, 3),
            "write_files": round(made.files_seconds, 3),
            "total": round(made.read_seconds + made.statistics_seconds + made.files_seconds, 3),
        },
        "worker_peak_rss_mb": None if worker_peak is None else round(worker_peak, 1),
        "target_s": TARGET_ONE_SERVER_S,
        "met": finished - started <= TARGET_ONE_SERVER_S,
        "themes": [theme.label for theme in digest.themes.themes],
        "new_themes": sum(1 for theme in digest.themes.themes if theme.is_new),
        "alpha": None if digest.disagreement.alpha is None else round(digest.disagreement.alpha, 3),
        "alpha_interval": [
            None if bound is None else round(bound, 3)
            for bound in (digest.disagreement.alpha_low, digest.disagreement.alpha_high)
        ],
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


async def all_servers(
    servers: int, total_ratings: int, bootstrap: int, workdir: Path, seed: int, deadline_s: float
) -> dict[str, Any]:
    size = Size(total_ratings // servers, total_ratings // servers // 5)
    database = workdir / "all.sqlite3"
    conn = await create_database(database)
    jobs: list[DigestJob] = []
    ratings = 0
    for guild_id in range(1, servers + 1):
        current, previous = server_periods(1000 + guild_id, size, seed)
        write_database(conn, previous)
        write_database(conn, current)
        jobs.append(job_for(database, current, previous, workdir / f"server-{guild_id}", bootstrap))
        ratings += len(current.ratings)
        if guild_id % 25 == 0:
            progress(f"all servers: generated and stored {guild_id}/{servers} servers (untimed)")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()

    workers = DigestWorkers()
    began = time.perf_counter()
    pids = await workers.start()
    workers_start = time.perf_counter() - began
    progress(f"all servers: {len(set(pids))} worker(s) started in {workers_start:.2f} s")
    started = time.perf_counter()
    tasks = [asyncio.create_task(workers.make(job)) for job in jobs]
    done, pending = await asyncio.wait(tasks, timeout=deadline_s)
    wall = time.perf_counter() - started
    if pending:
        progress(f"all servers: deadline of {deadline_s:.0f} s reached after {len(done)} servers")
    for task in pending:
        task.cancel()
    made = [task.result() for task in tasks if task in done]
    worker_peaks = [peak for pid in set(pids) | {m.worker for m in made} if (peak := process_peak_rss_mb(pid))]
    await workers.close(30)
    progress(f"all servers: {len(made)} digests in {wall:.2f} s")
    reads = [m.read_seconds for m in made]
    computes = [m.statistics_seconds for m in made]
    writes = [m.files_seconds for m in made]
    wholes = [m.read_seconds + m.statistics_seconds + m.files_seconds for m in made]
    database.unlink()
    return {
        "servers": len(made),
        "servers_planned": servers,
        "ratings": ratings,
        "previous_period_ratings_each": int(size.ratings * 0.9),
        "workers": workers.processes,
        "workers_used": len({m.worker for m in made}),
        "whole_digests_wall_s": round(wall, 3),
        # Not in the wall time: the bot starts its workers on its first digest, so its first batch adds this.
        "workers_start_s": round(workers_start, 3),
        "sum_over_servers_s": {
            "read_rows": round(sum(reads), 3),
            "compute_digest": round(sum(computes), 3),
            "write_files": round(sum(writes), 3),
            "whole": round(sum(wholes), 3),
        },
        "per_server_ms": {
            "read_rows": milliseconds(reads),
            "compute_digest": milliseconds(computes),
            "write_files": milliseconds(writes),
            "whole": milliseconds(wholes),
        },
        "worker_peak_rss_mb": round(max(worker_peaks), 1) if worker_peaks else None,
        "target_s": TARGET_ALL_SERVERS_S,
        "met": len(made) == servers and wall <= TARGET_ALL_SERVERS_S,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    one = Size(10_000, 2_000) if args.quick else Size(100_000, 20_000)
    servers, total = (20, 100_000) if args.quick else (200, 1_000_000)
    load_at_start = [round(load, 2) for load in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as temporary:
        workdir = Path(temporary)
        single = await one_server(one, args.bootstrap, workdir, args.seed)
        progress(
            f"one server: statistics {single['compute_digest_s']} s, files {single['write_files_s']} s; "
            f"in a worker {single['in_worker_s']['total']} s with reading the rows"
        )
        many = await all_servers(servers, total, args.bootstrap, workdir, args.seed, args.deadline)
        # Peak RSS of everything timed above (generated rows included), before tracemalloc adds its own.
        parent_peak = peak_rss_mb()
        children_peak = children_peak_rss_mb()
        progress("memory: tracemalloc run of the big server (untimed)")
        traced = traced_peak_mb(one, args.bootstrap, workdir, args.seed)
    worker_peaks = [peak for peak in (single["worker_peak_rss_mb"], many["worker_peak_rss_mb"]) if peak is not None]
    worker_peak = max(worker_peaks, default=children_peak)
    memory = {
        "bench_process_peak_rss_mb": round(parent_peak, 1),
        "worker_peak_rss_mb": round(worker_peak, 1),
        "ended_children_peak_rss_mb": round(children_peak, 1),
        "tracemalloc_peak_mb": round(traced, 1),
        "target_mb": TARGET_PEAK_MB,
        "met": max(parent_peak, worker_peak) <= TARGET_PEAK_MB,
    }
    checks = {"one_server": single["met"], "all_servers": many["met"], "memory": memory["met"]}
    return {
        "bench": "digest",
        "quick": args.quick,
        "bootstrap": args.bootstrap,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "load_average": {"at_start": load_at_start, "at_end": [round(load, 2) for load in os.getloadavg()]},
        "one_server": single,
        "all_servers": many,
        "memory": memory,
        "summary": {
            "one_server_s": single["total_s"],
            "all_servers_whole_digests_s": many["whole_digests_wall_s"],
            "all_servers_compute_digest_sum_s": many["sum_over_servers_s"]["compute_digest"],
            "all_servers_write_files_sum_s": many["sum_over_servers_s"]["write_files"],
            "peak_rss_mb": max(parent_peak, worker_peak),
            "checks": checks,
            "target_met": all(checks.values()),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run (about 20 s)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--deadline", type=float, default=300.0, help="stop phase 2 after this many seconds")
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up on the whole run after this long")
    args = parser.parse_args(argv)
    return run_benchmark("digest", run(args), args.timeout)


if __name__ == "__main__":
    raise SystemExit(main())
