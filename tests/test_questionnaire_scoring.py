"""Scoring against hand-worked cases: every PHQ-9 and GAD-7 band edge, the BAM-IOP sub-scores and their flags at
and either side of each threshold, item 9, reliable change (Jacobson–Truax) and the PHQ-9 response rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.questionnaires.instruments import (
    DIRECTORY,
    InstrumentError,
    all_instruments,
    get_instrument,
    load_instrument,
)
from server.questionnaires.scoring import IncompleteAnswers, Score, Thresholds, compare, flags, score

PHQ9 = get_instrument("phq9")
GAD7 = get_instrument("gad7")
BAM = get_instrument("bam_iop")
assert PHQ9 and GAD7 and BAM


def answers_summing_to(total: int, items: int, item9: int = 0) -> dict[str, int]:
    """Hand-spread a total over the items, 3 at a time from item 1 (item 9 fixed when asked)."""
    answers = {str(i): 0 for i in range(1, items + 1)}
    left = total - item9
    if items == 9:
        answers["9"] = item9
    for i in range(1, items + 1):
        if items == 9 and i == 9:
            continue
        answers[str(i)] = min(3, left)
        left -= answers[str(i)]
    assert left == 0
    return answers


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"),
     (15, "moderately_severe"), (19, "moderately_severe"), (20, "severe"), (24, "severe")],
)  # fmt: skip
def test_phq9_band_edges(total: int, band: str) -> None:
    result = score(PHQ9, answers_summing_to(total, 9))
    assert (result.total, result.band, result.safety) == (total, band, False)


def test_phq9_top_of_the_scale_and_the_difficulty_question_is_not_added() -> None:
    answers = {str(i): 3 for i in range(1, 10)} | {"difficulty": 3}
    result = score(PHQ9, answers)
    assert (result.total, result.band, result.safety) == (27, "severe", True)


def test_phq9_item9_above_zero_is_the_safety_flag_whatever_the_total() -> None:
    result = score(PHQ9, answers_summing_to(1, 9, item9=1))
    assert (result.total, result.band, result.safety) == (1, "minimal", True)
    assert flags(result) == ["item9"]
    assert score(PHQ9, answers_summing_to(8, 9, item9=0)).safety is False


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"),
     (15, "severe"), (21, "severe")],
)  # fmt: skip
def test_gad7_cut_offs(total: int, band: str) -> None:
    result = score(GAD7, answers_summing_to(total, 7))
    assert (result.total, result.band) == (total, band)
    assert ("gad7_high" in flags(result)) is (total >= 15)


@pytest.mark.parametrize(("total", "flagged"), [(14, False), (15, True)])
def test_phq9_flag_at_15_and_an_admin_can_move_it(total: int, flagged: bool) -> None:
    result = score(PHQ9, answers_summing_to(total, 9))
    assert ("phq9_high" in flags(result)) is flagged
    assert "phq9_high" in flags(result, Thresholds(phq9_total=10))


def test_incomplete_answers_are_refused_and_out_of_range_values_ignored() -> None:
    with pytest.raises(IncompleteAnswers):
        score(PHQ9, {str(i): 1 for i in range(1, 9)})  # no item 9
    with pytest.raises(IncompleteAnswers):
        score(PHQ9, {str(i): 1 for i in range(1, 9)} | {"9": 7})  # 7 is not an option


def bam(**by_item: int) -> dict[str, int]:
    """A BAM-IOP with every scored item 0 except those given (item ids as i1, i7A, ...)."""
    answers = {i.id: 0 for i in BAM.items if i.ask_if_above is None}
    answers.update({k[1:]: v for k, v in by_item.items()})
    return answers


def test_bam_sub_scores_hand_worked() -> None:
    # Use = 4+5+6 = 1+0+2; Risk = 1,2,3,8,11,15 = 4+3+2+1+0+1; Protective = 9,10,12,13,14,16 = 2+1+0+3+4+2.
    answers = bam(i1=4, i2=3, i3=2, i4=1, i5=0, i6=2, i8=1, i9=2, i10=1, i12=0, i13=3, i14=4, i15=1, i16=2, i17=3)
    answers |= {"7A": 2, "7C": 1, "7B": 0, "7D": 0, "7E": 0, "7F": 0, "7G": 0}
    result = score(BAM, answers)
    assert result.total is None and result.band is None  # no total score
    assert result.subscales == {"use": 3, "risk": 11, "protective": 12}
    assert flags(result) == ["bam_use", "bam_protective"]


def test_bam_item7_is_asked_only_after_use_and_never_scored() -> None:
    without_use = bam()
    assert "7A" not in {i.id for i in BAM.asked(without_use)}
    assert score(BAM, without_use).subscales == {"use": 0, "risk": 0, "protective": 0}
    with_use = bam(i6=1)
    assert {"7A", "7G"} <= {i.id for i in BAM.missing(with_use)}
    with pytest.raises(IncompleteAnswers):
        score(BAM, with_use)
    full = with_use | {f"7{c}": 4 for c in "ABCDEFG"}
    assert score(BAM, full).subscales["use"] == 1
    # Changing item 6 back to 0 drops the item-7 answers rather than keeping hidden ones.
    assert "7A" not in BAM.clean(full | {"6": 0})


@pytest.mark.parametrize(
    ("items", "flag", "expected"),
    [({"i4": 1}, "bam_use", True), ({}, "bam_use", False),
     ({"i1": 4, "i2": 4, "i3": 4}, "bam_risk", True),  # 12
     ({"i1": 4, "i2": 4, "i3": 3}, "bam_risk", False),  # 11
     ({"i9": 4, "i10": 4, "i12": 4, "i13": 1}, "bam_protective", False),  # 13
     ({"i9": 4, "i10": 4, "i12": 4}, "bam_protective", True)],  # 12
)  # fmt: skip
def test_bam_flag_edges(items: dict[str, int], flag: str, expected: bool) -> None:
    assert (flag in flags(score(BAM, bam(**items)))) is expected


def test_bam_income_item_scores_yes_as_4() -> None:
    assert score(BAM, bam(i14=4)).subscales["protective"] == 4
    assert BAM.item("14").values == frozenset({0, 4})


def test_reliable_change_uses_jacobson_truax_with_the_recorded_reliability() -> None:
    # PHQ-9: 1.96 × 6.0 × √(2 × 0.11) = 5.51 → 6 points; GAD-7: 1.96 × 5.0 × √(2 × 0.08) = 3.92 → 4 points.
    assert PHQ9.reliable_change and PHQ9.reliable_change.threshold == 6
    assert GAD7.reliable_change and GAD7.reliable_change.threshold == 4
    assert round(PHQ9.reliable_change.index(-6), 2) == -2.13


@pytest.mark.parametrize(
    ("before", "after", "reliable", "response", "direction"),
    [(15, 10, False, True, "same"),  # a drop of 5: a response, not yet a reliable change
     (15, 11, False, False, "same"),
     (15, 9, True, True, "better"),
     (9, 15, True, False, "worse"),
     (10, 15, False, False, "same")],
)  # fmt: skip
def test_phq9_change(before: int, after: int, reliable: bool, response: bool, direction: str) -> None:
    change = compare(PHQ9, Score("phq9", total=before), Score("phq9", total=after))
    assert change is not None
    assert (change.difference, change.reliable, change.response, change.direction) == (
        after - before,
        reliable,
        response,
        direction,
    )


def test_gad7_has_no_response_rule_and_bam_no_total_change() -> None:
    change = compare(GAD7, Score("gad7", total=12), Score("gad7", total=4))
    assert change is not None and change.reliable and not change.response
    assert compare(BAM, score(BAM, bam()), score(BAM, bam(i4=2))) is None
    assert compare(PHQ9, None, Score("phq9", total=3)) is None


def test_every_instrument_records_its_source_licence_and_both_languages() -> None:
    for instrument in all_instruments().values():
        assert instrument.source and instrument.licence
        assert instrument.text_source.en and instrument.text_source.es
        for item in instrument.items:
            assert item.text.en and item.text.es
            assert all(o.text.en and o.text.es for o in item.options)
    assert len(PHQ9.items) == 10 and len(GAD7.items) == 8 and len(BAM.items) == 23  # 9/7 + difficulty; 17 + 7A-G - 1


def test_a_missing_spanish_text_stops_loading_with_the_file_and_item_named(tmp_path: Path) -> None:
    broken = (DIRECTORY / "gad7.toml").read_text().replace('es = "Ha tenido dificultad para relajarse"\n', "", 1)
    path = tmp_path / "gad7.toml"
    path.write_text(broken)
    with pytest.raises(InstrumentError, match=r"gad7.toml: items\[3\] '4': the 'es' text"):
        load_instrument(path)
