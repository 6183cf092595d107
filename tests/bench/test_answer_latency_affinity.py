"""The answer-latency benchmark's core plan: which process may run where."""

from bench.answer_latency import Affinity, parse_options


def test_auto_gives_the_bot_the_first_core_and_the_instruments_the_rest() -> None:
    plan = Affinity.plan("auto", {3, 1, 2})
    assert plan.bot == frozenset({1})
    assert plan.model == frozenset({2, 3})
    assert plan.harness == frozenset({2, 3})
    assert plan.as_json() == {"bot": [1], "fake_model": [2, 3], "harness": [2, 3]}


def test_one_core_or_off_leaves_placement_to_the_os() -> None:
    for plan in (Affinity.plan("auto", {0}), Affinity.plan("off", {0, 1})):
        assert plan == Affinity()
        assert plan.as_json() is None


def test_pin_defaults_to_auto_and_accepts_off() -> None:
    assert parse_options([]).pin == "auto"
    assert parse_options(["--pin", "off"]).pin == "off"
